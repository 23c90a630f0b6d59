//! Read: the newest record of a key, from memory, or `Pending` when the chain goes below the
//! head.

use faster_epoch::Guard;

use super::{KeyRef, OpCtx, Step};
use crate::chain::{DiskRecord, Lookup};
use crate::codec::Codec;
use crate::error::OpError;
use crate::store::Store;

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// One attempt of a read: `Done(true)` with the value's bytes in `out`, `Done(false)` when
    /// the key is absent or deleted.
    #[inline]
    pub(crate) fn read_once(
        &self,
        guard: &Guard<'_>,
        ctx: OpCtx,
        key: KeyRef<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Step<bool>, OpError> {
        let slot = match self.index.find(key.hash, guard) {
            Ok(Some(slot)) => slot,
            Ok(None) => return Ok(Step::Done(false)),
            Err(_busy) => return Ok(Step::Retry),
        };
        let entry = slot.address();
        Ok(match self.trace(ctx, key.bytes, entry, guard) {
            Lookup::InMemory(address, record) => {
                let header = record.header();
                if ctx.must_shift(address, header) {
                    Step::CprShift
                } else if header.is_tombstone() {
                    Step::Done(false)
                } else {
                    record.read_value(out);
                    Step::Done(true)
                }
            }
            Lookup::OnDevice(read) => Step::Pending { read, entry },
            Lookup::Absent => Step::Done(false),
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
