//! Locking, with this crate's one answer to poisoning.
//!
//! A lock is poisoned when a thread panics while holding it. Every lock of this crate ignores
//! poisoning: its critical sections (commit bookkeeping, the named iterators' table, a page
//! read's result and waker, the committer thread's requests, a flush's outcome) leave what
//! they guard consistent wherever they can panic, setting or moving whole values, and run no
//! caller code (wakers are woken after the lock is released). So what a panicking thread
//! leaves behind is still right; refusing it would instead make every later commit, wait and
//! read of the log panic too. (A failed commit poisons the *log*, with its error, on purpose;
//! that has nothing to do with a lock's poisoning.)

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
