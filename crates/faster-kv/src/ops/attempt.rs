//! One attempt of an operation: what it works with ([`Attempt`]), what it may answer
//! ([`Step`]), and the trait every operation implements ([`Operation`]).

use faster_epoch::Guard;
use faster_hlog::Address;
use faster_index::KeyHash;

use crate::chain::DiskRecord;
use crate::checkpoint::rules::OpCtx;
use crate::codec::Codec;
use crate::error::OpError;
use crate::record::Header;
use crate::stats::{RetryCause, SessionStats};
use crate::store::Store;

/// A key as operations see it: its encoded bytes and its hash.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) hash: KeyHash,
}

/// Encodes `key` and hashes it, then runs `f` on the result.
#[inline]
pub(crate) fn with_key<K: Codec + ?Sized, R>(
    key: &K,
    f: impl FnOnce(KeyRef<'_>) -> Result<R, OpError>,
) -> Result<R, OpError> {
    let hash = KeyHash(key.hash64()?);
    key.with_bytes(|bytes| f(KeyRef { bytes, hash }))?
}

/// Outcome of one attempt of an operation.
#[derive(Debug)]
pub(crate) enum Step<T> {
    /// Finished.
    Done(T),
    /// Refresh the guard and start again (a page turn, a lost race, an index growth, or a
    /// record in the fuzzy region between safe read-only and read-only), counted by cause.
    Retry(RetryCause),
    /// The key's newest record may be on the device at `read`; the index entry pointed at
    /// `entry` when the chain was walked.
    Pending {
        /// Where to start reading.
        read: Address,
        /// The index entry's address at the time (a later install expects it unchanged).
        entry: Address,
    },
    /// A session still in version `v` met a record of version `v + 1` (rule R8): it must move
    /// to the new version, then retry.
    CprShift,
}

/// What one attempt works with: the store, the guard it runs under, what the checkpoint in
/// progress asks of it, the key, and the session's counters and value buffer.
pub(crate) struct Attempt<'a, 'g, K: ?Sized, V: ?Sized> {
    pub(crate) store: &'a Store<K, V>,
    pub(crate) guard: &'a Guard<'g>,
    /// Borrowed from the session, not copied: a copy of it made in pieces on every attempt
    /// cost single reads about a fifth of their throughput (docs/benchmarks.md).
    pub(crate) ctx: &'a OpCtx,
    pub(crate) key: KeyRef<'a>,
    pub(crate) stats: &'a SessionStats,
    /// Value bytes in and out: a read's value, an RMW's new value.
    pub(crate) value: &'a mut Vec<u8>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Attempt<'_, '_, K, V> {
    /// Whether the checkpoint in progress lets this attempt update the record at `address`
    /// with `header` in place (rules R8, R12); the log's own rule (H4) is checked apart.
    #[inline]
    pub(crate) fn may_update_in_place(&self, address: Address, header: Header) -> bool {
        self.store
            .cpr
            .may_update_in_place(*self.ctx, address, header)
    }

    /// Records an in-place update of the record at `address` (rule R10).
    #[inline]
    pub(crate) fn mark_dirty(&self, address: Address) {
        self.store
            .cpr
            .mark_dirty(self.store.log.page_of(address), *self.ctx);
    }
}

/// What an operation that went [`Step::Pending`] learned from the device: the index entry's
/// address when it went pending, and the key's newest record there (if any).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FromDevice<'a> {
    pub(crate) entry: Address,
    pub(crate) found: Option<&'a DiskRecord>,
}

/// An operation, as the driver ([`super::driver`]) runs it: attempts until one is
/// [`Step::Done`].
pub(crate) trait Operation<K: Codec + ?Sized, V: Codec + ?Sized> {
    /// What a finished operation returns.
    type Output;

    /// One attempt, in memory.
    fn attempt(&mut self, at: &mut Attempt<'_, '_, K, V>) -> Result<Step<Self::Output>, OpError>;

    /// One attempt once the device has answered a [`Step::Pending`]. Operations that never go
    /// pending keep this default: a fresh attempt.
    fn after_device(
        &mut self,
        at: &mut Attempt<'_, '_, K, V>,
        device: FromDevice<'_>,
    ) -> Result<Step<Self::Output>, OpError> {
        let _ = device;
        self.attempt(at)
    }
}
