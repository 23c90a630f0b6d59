//! Epoch protection with deferred actions: the "LightEpoch" of FASTER.
//!
//! # The problem
//!
//! A concurrent log evicts page frames, an index frees its old table after growing, a store
//! flips its checkpoint phase. Each of these must wait until no thread can still be looking at
//! the old state, and none of them may put a lock or a reference count on the paths that read
//! it. Epoch protection delays the reclamation instead of guarding each access.
//!
//! # The scheme
//!
//! A global counter, the *epoch*, only moves forward. Each thread that reads shared state
//! owns a *slot* in a fixed table and, while it reads, is *protected*: its slot holds the epoch
//! it entered in. From time to time the thread *refreshes*, moving its slot to the current
//! epoch; when it is done it *unprotects*, clearing its slot.
//!
//! A writer that unlinks something calls [`Epoch::bump_with`]: the epoch advances from `e` to
//! `e + 1` and the action (free the page, drop the table, ...) is parked with trigger `e`.
//! The *safe* epoch is one less than the oldest epoch any protected slot holds (or the current
//! epoch if none is protected). When the safe epoch reaches `e`, every thread that could have
//! seen the unlinked state has refreshed or left, and the action runs, exactly once, on
//! whichever thread noticed. Computing the safe epoch is a scan of the table: no lock.
//!
//! Hot-path costs: [`Guard::refresh`] is one load of the global epoch, one compare with the
//! slot, and a store plus a fence only when the epoch moved; then one load of the pending
//! action count. No allocation, no lock, no system call.
//!
//! # Usage
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//! use faster_epoch::Epoch;
//!
//! let epoch = Epoch::new();
//! let handle = epoch.register()?;          // one per thread
//! let freed = Arc::new(AtomicBool::new(false));
//!
//! let mut guard = handle.protect();        // RAII: unprotects on drop
//! let flag = Arc::clone(&freed);
//! epoch.bump_with(move || flag.store(true, Ordering::SeqCst));
//! assert!(!freed.load(Ordering::SeqCst));  // we are still protected in the old epoch
//! guard.refresh();                         // we moved on: the action runs
//! assert!(freed.load(Ordering::SeqCst));
//! # Ok::<(), faster_epoch::EpochError>(())
//! ```
//!
//! # Rules
//!
//! The protocol, cited by number in the code:
//!
//! - **E1 — slots.** A slot is owned by at most one [`Handle`]: [`Epoch::register`] claims the
//!   lowest free slot with a compare-and-swap, the handle's drop releases it. A thread that exits
//!   drops its handle and so frees its slot; when every slot is owned, registration fails with
//!   [`EpochError::TableFull`] instead of waiting.
//! - **E2 — the global epoch** starts at 1 and only increases (a fetch-add in `bump`). A slot
//!   holds 0 when unprotected, so 0 is never a protected epoch.
//! - **E3 — publishing.** To protect or refresh, a thread loads the global epoch (Acquire),
//!   stores it in its slot (Release), then issues a SeqCst fence before it reads shared state.
//!   A scanner issues a SeqCst fence before reading the slots. Either the scanner sees the
//!   thread's new value, or the thread's later reads see everything that happened before the
//!   scan — including the unlinking that preceded the bump. A scanner reads only the slots
//!   below the high-water mark, which registration raises (SeqCst) before the new owner can
//!   publish anything: a slot above the mark it read is one whose publication it could miss
//!   anyway, by the same argument. Unprotecting stores 0 (Release),
//!   so what the thread did while protected happens before any action a scanner then runs.
//! - **E4 — the trigger.** `bump_with` parks its action with trigger `e`, the epoch before the
//!   increment. The action runs only once the computed safe epoch (the oldest protected epoch
//!   minus one) is at least `e`: every slot protected at `e` or before has refreshed or left.
//! - **E5 — running actions.** Pending actions sit in a list behind a mutex that is taken only
//!   when the pending count is non-zero, and never held while an action runs. A drainer takes
//!   the actions its safe epoch allows out of the list before running them, so each runs once.
//!   The smallest pending trigger is kept beside the list (written under its lock, before
//!   the count); a drainer whose safe epoch is below it runs nothing and skips the lock.
//!   Drains happen on bump, on refresh and unprotect when actions are pending, on handle drop,
//!   and on [`Epoch::try_drain`] — so an action never waits on a thread that has gone idle.
//!   Unprotecting stores the slot, fences (SeqCst), then reads the pending count; bumping
//!   counts the action, fences, then scans the slots. One of the two always sees the other,
//!   so the last thread to leave cannot miss an action that waits only for it.
//! - **E6 — teardown.** Dropping the [`Epoch`] (possible only once every handle is gone) runs
//!   every action still pending.
//! - **E7 — guards.** A [`Guard`] borrows its [`Handle`] or owns it ([`Handle::into_guard`]),
//!   and releases its protection exactly once: in its drop, or in [`Guard::into_handle`], which
//!   releases it and then moves the handle out of a guard that is never dropped.
//!
//! Nested guards of one handle share the slot: only the outermost guard's refresh moves the
//! epoch (see [`Guard::refresh`]). A handle is `Send` but not `Sync`; a guard is neither.
//!
//! [`Epoch::all_protected_marked`] and [`Handle::set_marker`] let a state machine (the
//! checkpoint phases of the store) learn that every protected thread has acknowledged a state,
//! as FASTER's `FinishThreadPhase` does.

mod epoch;
mod handle;
mod sync;

pub use epoch::{DEFAULT_CAPACITY, Epoch};
pub use handle::{Guard, Handle};

/// Errors of the epoch table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EpochError {
    /// Every slot of the table is owned by a handle.
    #[error(
        "every one of the {capacity} epoch slots is taken: drop a handle or build the epoch \
         with a larger capacity"
    )]
    TableFull {
        /// The number of slots in the table.
        capacity: usize,
    },
    /// A table needs at least one slot.
    #[error("an epoch table needs at least one slot, not {capacity}")]
    InvalidCapacity {
        /// The capacity that was asked for.
        capacity: usize,
    },
}
