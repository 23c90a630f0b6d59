//! The synchronisation primitives of this crate, swapped for loom's under `--cfg loom`.
//!
//! Every atomic, mutex and `Arc` the epoch uses comes from here, so that the loom suites
//! (`tests/loom.rs`) explore the real code rather than a copy of it.

// `Arc` is std's in both builds: `register` takes `self: &Arc<Self>`, which loom's `Arc`
// cannot be, and reference counting is not part of the protocol under test.
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence},
};
#[cfg(not(loom))]
pub(crate) use std::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence},
};

/// Locks `mutex`, ignoring poisoning: the data it guards (a list of deferred actions) stays
/// consistent even if a thread panicked while holding it, because every critical section
/// only moves whole entries.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
