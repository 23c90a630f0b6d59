//! The synchronisation primitives of this crate's lock-free protocols, swapped for loom's
//! under `--cfg loom` so that `tests/loom.rs` checks the real tail and flush-tracking code;
//! and the crate's one way to take a (std) lock.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};

/// Moves `cell` forward to `target` if it is behind; returns the value before. Regions only
/// move forward (rule H1), so every update of one goes through here or through `fetch_max`.
pub(crate) fn advance(cell: &AtomicU64, target: u64) -> u64 {
    cell.fetch_max(target, Ordering::AcqRel)
}

/// Locks `mutex`, ignoring poisoning, as every lock of this crate does: its critical sections
/// (flush bookkeeping, the first flush error, waiters for flushed addresses, the zeroed-frames
/// mark) run none of the callers' code and leave what they guard consistent wherever they can
/// panic, recording or moving whole values. So what a panicking thread leaves behind is still
/// right, and refusing it would instead make every later flush and wait of the log panic.
pub(crate) fn lock<T: ?Sized>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    ignore_poison(mutex.lock())
}

/// The guard of any other lock operation (a `Condvar` wait), ignoring poisoning as [`lock`]
/// does.
pub(crate) fn ignore_poison<G>(result: std::sync::LockResult<G>) -> G {
    result.unwrap_or_else(std::sync::PoisonError::into_inner)
}
