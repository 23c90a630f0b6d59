//! Locking, with this crate's one answer to poisoning.
//!
//! A lock is poisoned when a thread panics while holding it. Every lock of the store ignores
//! poisoning, because every critical section here leaves what it guards consistent wherever it
//! can panic: it sets, pushes or takes whole values (the checkpoint running and the last one's
//! metadata, session registrations and commit points, queued checkpoint jobs, statistics,
//! completed device reads). So what a panicking thread leaves behind is still right. The
//! store records its own failures in values (a failed checkpoint's error, a poisoned log),
//! never through a lock's poisoning; refusing a poisoned lock would instead turn one panic,
//! say in a user's thread holding a session, into panics of every later checkpoint, session
//! and statistics call of the store.

use std::sync::{LockResult, Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, ignoring poisoning (see the module docs).
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    ignore_poison(mutex.lock())
}

/// The guard of any other lock operation (a `Condvar` wait), ignoring poisoning as [`lock`]
/// does.
pub(crate) fn ignore_poison<G>(result: LockResult<G>) -> G {
    result.unwrap_or_else(PoisonError::into_inner)
}
