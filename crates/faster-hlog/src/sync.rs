//! The synchronisation primitives of this crate's lock-free protocols, swapped for loom's
//! under `--cfg loom` so that `tests/loom.rs` checks the real tail and flush-tracking code.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};

/// Moves `cell` forward to `target` if it is behind; returns the value before. Regions only
/// move forward (rule H1), so every update of one goes through here or through `fetch_max`.
pub(crate) fn advance(cell: &AtomicU64, target: u64) -> u64 {
    cell.fetch_max(target, Ordering::AcqRel)
}
