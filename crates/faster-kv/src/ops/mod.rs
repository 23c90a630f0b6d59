//! The operations, one file each. Every `*_once` function runs one attempt of an operation
//! under a guard and says whether it finished, must be retried after a refresh, or needs the
//! device. The session layer ([`crate::session`]) loops, refreshes and waits.

pub(crate) mod batch;
mod delete;
mod read;
mod rmw;
pub(crate) mod rmw_update;
mod upsert;

use faster_hlog::Address;

pub(crate) use read::Found;
pub(crate) use rmw::{FromDevice, RmwDone};

/// Outcome of one attempt of an operation.
#[derive(Debug)]
pub(crate) enum Step<T> {
    /// Finished.
    Done(T),
    /// Refresh the guard and start again (a page turn, a lost race, an index growth, or a
    /// record in the fuzzy region between safe read-only and read-only).
    Retry,
    /// The key's newest record may be on the device at `read`; the index entry pointed at
    /// `entry` when the chain was walked.
    Pending {
        /// Where to start reading.
        read: Address,
        /// The index entry's address at the time (a later install expects it unchanged).
        entry: u64,
    },
    /// A session still in version `v` met a record of version `v + 1` (rule R8): it must move
    /// to the new version, then retry.
    CprShift,
}

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
    pub(crate) start: u64,
}

impl OpCtx {
    /// No checkpoint in progress.
    pub(crate) const REST: Self = Self {
        old_version: false,
        new_version: false,
        start: u64::MAX,
    };

    /// Whether the record at `address` with `header` belongs to version `v + 1`.
    #[inline]
    pub(crate) fn is_new(&self, address: Address, header: crate::record::Header) -> bool {
        address.raw() >= self.start && header.in_new_version()
    }

    /// Header flags of records this session writes.
    #[inline]
    pub(crate) fn flags(&self) -> u64 {
        if self.new_version {
            crate::record::IN_NEW_VERSION
        } else {
            0
        }
    }

    /// Whether a record at `address` with `header` may be updated in place by this session
    /// (besides being at or above read-only): not by a `v + 1` session unless the record is of
    /// `v + 1` too (R8).
    #[inline]
    pub(crate) fn may_update_in_place(
        &self,
        address: Address,
        header: crate::record::Header,
    ) -> bool {
        !self.new_version || self.is_new(address, header)
    }

    /// Whether a session in `v` must shift to `v + 1` on meeting this record (R8).
    #[inline]
    pub(crate) fn must_shift(&self, address: Address, header: crate::record::Header) -> bool {
        self.old_version && self.is_new(address, header)
    }
}

/// A key as operations see it: its encoded bytes and its hash.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) hash: faster_index::KeyHash,
}
