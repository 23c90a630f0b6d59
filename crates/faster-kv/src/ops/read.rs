//! Read: the newest record of a key, from memory, or `Pending` when the chain goes below the
//! head.

use faster_epoch::Guard;

use super::{KeyRef, OpCtx, Step};
use crate::chain::{DiskRecord, Lookup};
use crate::codec::{Codec, CodecError};
use crate::error::OpError;
use crate::store::Store;

/// What a read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// The key is absent or deleted.
    No,
    /// The value's bytes are in the output buffer given to the read.
    InBuffer,
    /// A word value (rule R3): the first `len` of these bytes, read with one atomic load.
    /// Returning them by value spares a copy through the buffer on the hottest path.
    Word([u8; 8], usize),
}

impl Found {
    /// `InBuffer` or `No`.
    pub(crate) fn in_buffer(found: bool) -> Self {
        if found { Self::InBuffer } else { Self::No }
    }

    /// Whether a value was found.
    pub(crate) fn is_found(self) -> bool {
        self != Self::No
    }

    /// The value, decoded from the word or from `buffer`.
    #[inline]
    pub(crate) fn decode<V: Codec + ?Sized>(
        self,
        buffer: &[u8],
    ) -> Result<Option<V::Owned>, CodecError> {
        match self {
            Self::No => Ok(None),
            Self::InBuffer => V::decode(buffer).map(Some),
            Self::Word(bytes, len) => V::decode(bytes.get(..len).unwrap_or(&bytes)).map(Some),
        }
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// One attempt of a read: `Done(Word)` for a word value, `Done(InBuffer)` with the value's
    /// bytes in `out`, `Done(No)` when the key is absent or deleted.
    #[inline]
    pub(crate) fn read_once(
        &self,
        guard: &Guard<'_>,
        ctx: OpCtx,
        key: KeyRef<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Step<Found>, OpError> {
        let slot = match self.index.find(key.hash, guard) {
            Ok(Some(slot)) => slot,
            Ok(None) => return Ok(Step::Done(Found::No)),
            Err(_busy) => return Ok(Step::Retry),
        };
        let entry = slot.address();
        Ok(match self.trace(ctx, key.bytes, entry, guard) {
            Lookup::InMemory(address, record) => {
                let header = record.header();
                if ctx.must_shift(address, header) {
                    Step::CprShift
                } else if header.is_tombstone() {
                    Step::Done(Found::No)
                } else if let Some((bytes, len)) = record.read_word() {
                    Step::Done(Found::Word(bytes, len))
                } else {
                    record.read_value(out);
                    Step::Done(Found::InBuffer)
                }
            }
            Lookup::OnDevice(read) => Step::Pending { read, entry },
            Lookup::Absent => Step::Done(Found::No),
            Lookup::Shift => Step::CprShift,
        })
    }

    /// Finishes a read whose record was looked up on the device.
    pub(crate) fn read_after_device(found: Option<DiskRecord>, out: &mut Vec<u8>) -> bool {
        match found {
            Some(record) if !record.header.is_tombstone() => {
                out.clear();
                out.extend_from_slice(&record.value);
                true
            }
            _ => false,
        }
    }
}
