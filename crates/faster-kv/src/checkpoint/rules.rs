//! What a checkpoint in progress asks of operations: [`OpCtx`], a session's view of the
//! phase (rules R7, R8), and the rules [`Cpr`] adds from what the checkpoint has done so far —
//! in-place updates behind a snapshot's copy (R12) and dirty pages for incremental snapshots
//! (R10).

use std::sync::atomic::Ordering;

use faster_cpr::Phase;
use faster_hlog::Address;

use super::cpr::{Cpr, NO_START};
use crate::record::{Header, IN_NEW_VERSION};

/// What a checkpoint in progress asks of an operation (rules R7, R8). At rest it asks
/// nothing: [`OpCtx::REST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpCtx {
    /// A checkpoint's version change is under way and this session is still in version `v`:
    /// in-place updates of word values take the header lock (R7), and records of `v + 1` are
    /// off limits (R8).
    pub(crate) old_version: bool,
    /// This session is in version `v + 1` while the checkpoint of `v` is in progress: the
    /// records it writes are marked in-new-version, and it updates in place only records of
    /// `v + 1` (R8).
    pub(crate) new_version: bool,
    /// Records of `v + 1` lie at or above this address (the tail when the version change
    /// began).
    pub(crate) start: Address,
}

impl OpCtx {
    /// No checkpoint in progress.
    pub(crate) const REST: Self = Self {
        old_version: false,
        new_version: false,
        start: NO_START,
    };

    /// Whether the record at `address` with `header` belongs to version `v + 1`.
    #[inline]
    pub(crate) fn is_new(&self, address: Address, header: Header) -> bool {
        address >= self.start && header.in_new_version()
    }

    /// Header flags of records this session writes.
    #[inline]
    pub(crate) fn flags(&self) -> u64 {
        if self.new_version { IN_NEW_VERSION } else { 0 }
    }

    /// Whether a record at `address` with `header` may be updated in place by this session
    /// (besides being at or above read-only): not by a `v + 1` session unless the record is of
    /// `v + 1` too (R8).
    #[inline]
    pub(crate) fn may_update_in_place(&self, address: Address, header: Header) -> bool {
        !self.new_version || self.is_new(address, header)
    }

    /// Whether a session in `v` must shift to `v + 1` on meeting this record (R8).
    #[inline]
    pub(crate) fn must_shift(&self, address: Address, header: Header) -> bool {
        self.old_version && self.is_new(address, header)
    }
}

impl Cpr {
    /// What the checkpoint in `phase` asks of a session's operations (rules R7, R8).
    pub(crate) fn op_ctx(&self, phase: Phase) -> OpCtx {
        let start = Address::from_masked(self.start.load(Ordering::Acquire));
        match phase {
            Phase::Prepare => OpCtx {
                old_version: true,
                new_version: false,
                start,
            },
            phase if phase.is_new_version() => OpCtx {
                old_version: false,
                new_version: true,
                start,
            },
            _ => OpCtx::REST,
        }
    }

    /// Whether the record at `address` with `header` may be updated in place by a session in
    /// the phase `ctx` (besides being at or above read-only and not sealed): at rest, yes; a
    /// version-`v + 1` session only a record of `v + 1`, or one that the snapshot of `v` has
    /// already copied (rules R8, R12).
    #[inline]
    pub(crate) fn may_update_in_place(&self, ctx: OpCtx, address: Address, header: Header) -> bool {
        ctx.may_update_in_place(address, header)
            || address.raw() < self.captured.load(Ordering::Acquire)
    }

    /// Records that a record of log page `page` changed in place (for incremental snapshots,
    /// rule R10).
    #[inline]
    pub(crate) fn mark_dirty(&self, page: u64, ctx: OpCtx) {
        self.dirty.mark(page, ctx != OpCtx::REST);
    }
}
