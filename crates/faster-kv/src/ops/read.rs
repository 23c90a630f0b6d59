//! Read: the newest record of a key, from memory, or from the device when the chain goes
//! below the head.

use faster_hlog::Address;

use super::attempt::{Attempt, FromDevice, Operation, Step, with_key};
use crate::chain::Lookup;
use crate::codec::{Codec, CodecError, expired};
use crate::error::OpError;
use crate::session::Session;
use crate::session::pinned::Pinned;
use crate::stats::{Counter, RetryCause};

/// What a read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// The key's newest record is a tombstone, or a value whose expiry has passed.
    Deleted,
    /// The key has no record: its chain, which started from this index entry, ended without
    /// one ([`Address::INVALID`]: the key has no index entry).
    Absent(Address),
    /// The value's bytes are in the session's value buffer.
    InBuffer,
    /// A word value (rule R3): the first `len` of these bytes, read with one atomic load.
    /// Returning them by value spares a copy through the buffer on the hottest path.
    Word([u8; 8], usize),
}

impl Found {
    /// `InBuffer` for the value bytes in `buffer`, `Deleted` when they have expired (rule X1
    /// of `docs/ttl.md`).
    #[inline(always)]
    pub(crate) fn in_buffer<V: Codec + ?Sized>(buffer: &[u8]) -> Self {
        if expired::<V>(buffer) {
            Self::Deleted
        } else {
            Self::InBuffer
        }
    }

    /// Whether a value was found.
    pub(crate) fn is_found(self) -> bool {
        matches!(self, Self::InBuffer | Self::Word(..))
    }

    /// The value, decoded from the word or from `buffer`.
    #[inline]
    pub(crate) fn decode<V: Codec + ?Sized>(
        self,
        buffer: &[u8],
    ) -> Result<Option<V::Owned>, CodecError> {
        match self {
            Self::Deleted | Self::Absent(_) => Ok(None),
            Self::InBuffer => V::decode(buffer).map(Some),
            Self::Word(bytes, len) => V::decode(bytes.get(..len).unwrap_or(&bytes)).map(Some),
        }
    }
}

/// A read, as the driver runs it.
pub(crate) struct ReadOp;

impl<K: Codec + ?Sized, V: Codec + ?Sized> Operation<K, V> for ReadOp {
    type Output = Found;

    /// `Done(Word)` for a word value, `Done(InBuffer)` with the value's bytes in the buffer,
    /// `Done(No)` when the key is absent or deleted.
    #[inline(always)]
    fn attempt(&mut self, at: &mut Attempt<'_, '_, K, V>) -> Result<Step<Found>, OpError> {
        // Rule R14: the begin address before the entry.
        let begin = at.store.log.begin_address();
        let slot = match at.store.index.find(at.key.hash, at.guard) {
            Ok(Some(slot)) => slot,
            Ok(None) => return Ok(Step::Done(Found::Absent(Address::INVALID))),
            Err(_busy) => return Ok(Step::Retry(RetryCause::IndexGrowth)),
        };
        let entry = slot.address();
        Ok(
            match at.store.trace(at.ctx, at.key.bytes, entry, begin, at.guard) {
                Lookup::InMemory(address, record) => {
                    let header = record.header();
                    if at.ctx.must_shift(address, header) {
                        Step::CprShift
                    } else if header.is_tombstone() {
                        Step::Done(Found::Deleted)
                    } else if let Some((bytes, len)) = record.read_word() {
                        Step::Done(Found::Word(bytes, len))
                    } else {
                        record.read_value(at.value);
                        Step::Done(Found::in_buffer::<V>(at.value))
                    }
                }
                Lookup::Cached(address, copy) => {
                    let found = if let Some((bytes, len)) = copy.read_word() {
                        Found::Word(bytes, len)
                    } else {
                        copy.read_value(at.value);
                        Found::in_buffer::<V>(at.value)
                    };
                    at.store
                        .cache_hit(at.guard, at.key.hash, at.key.bytes, address, copy);
                    Step::Done(found)
                }
                Lookup::OnDevice(read) => Step::Pending { read, entry },
                Lookup::Absent => Step::Done(Found::Absent(entry)),
                Lookup::Shift => Step::CprShift,
            },
        )
    }

    /// The record the device holds, unless it belongs to a version this session must move to
    /// first (rule R8).
    fn after_device(
        &mut self,
        at: &mut Attempt<'_, '_, K, V>,
        device: FromDevice<'_>,
    ) -> Result<Step<Found>, OpError> {
        at.store.count_cache_miss();
        Ok(match device.found {
            Some(record) if at.ctx.must_shift(record.address, record.header) => Step::CprShift,
            Some(record) if !record.header.is_tombstone() && !expired::<V>(&record.value) => {
                // Rule RC2: a copy for the next read, if the chain did not change meanwhile.
                at.store.cache_copy(
                    at.guard,
                    at.key.hash,
                    device.entry,
                    at.key.bytes,
                    &record.value,
                );
                at.value.clear();
                at.value.extend_from_slice(&record.value);
                Step::Done(Found::InBuffer)
            }
            Some(_) => Step::Done(Found::Deleted),
            None => Step::Done(Found::Absent(device.entry)),
        })
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'_, K, V> {
    /// See [`Session::read`].
    ///
    /// # Errors
    /// As [`Session::read`].
    pub fn read(&mut self, key: &K) -> Result<Option<V::Owned>, OpError> {
        self.op(|this| {
            this.state.stats.bump(Counter::Reads);
            let found = with_key(key, |key| this.run(&mut ReadOp, key))?;
            this.read_result(found)
        })
    }

    /// The value a finished read found, counted.
    #[inline(always)]
    pub(crate) fn read_result(&mut self, found: Found) -> Result<Option<V::Owned>, OpError> {
        if found.is_found() {
            self.state.stats.bump(Counter::ReadsFound);
        }
        Ok(found.decode::<V>(&self.state.value)?)
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Session<K, V> {
    /// The value of `key`, reading it from the device if needed.
    ///
    /// # Errors
    /// [`OpError`] when the key cannot be encoded, the device fails, or the stored bytes are
    /// corrupt.
    pub fn read(&mut self, key: &K) -> Result<Option<V::Owned>, OpError> {
        // A read adds nothing to the log: it never waits for the log-size throttle.
        self.pin_unthrottled().read(key)
    }
}
