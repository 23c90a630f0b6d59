//! The synchronisation primitives of this crate, swapped for loom's under `--cfg loom`.
//!
//! Every atomic and mutex of the index comes from here, so that the loom models
//! (`tests/loom.rs`) explore the real code rather than a copy of it. Bucket memory differs too:
//! loom's atomics cannot live in zeroed raw memory, so under loom the buckets are built one by
//! one (see `bucket.rs`).

// `Arc` is std's in both builds, as in the epoch crate (whose `Epoch` lives in a std `Arc`):
// reference counting is not part of the protocol under test.
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering},
};
#[cfg(not(loom))]
pub(crate) use std::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering},
};

/// Locks `mutex`, ignoring poisoning: every critical section of this crate leaves the guarded
/// data consistent (a free list of bucket indices, the right to run a growth).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Tries to lock `mutex` without waiting; `None` when another thread holds it.
pub(crate) fn try_lock<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// Waiting in a retry loop: exponential spinning then yielding, or a loom yield so that the
/// model lets the thread being waited for run.
#[derive(Debug, Default)]
pub(crate) struct Spin {
    #[cfg(not(loom))]
    backoff: crossbeam_utils::Backoff,
}

impl Spin {
    /// A fresh waiter.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Waits a little; longer on each call.
    #[inline]
    pub(crate) fn snooze(&mut self) {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        self.backoff.snooze();
    }

    /// Waits a little, without ever yielding the time slice: for contention that the other
    /// thread resolves within a few instructions.
    #[inline]
    pub(crate) fn spin(&mut self) {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        self.backoff.spin();
    }
}
