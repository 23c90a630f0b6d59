//! Delete: a tombstone, set in place in the mutable region or appended at the tail. Never
//! needs the device: a tombstone hides whatever older records the device holds.

use faster_epoch::Guard;

use super::{KeyRef, OpCtx, Step};
use crate::chain::{Append, Lookup};
use crate::codec::Codec;
use crate::error::{OpError, Status};
use crate::record::TOMBSTONE;
use crate::stats::{Counter, SessionStats};
use crate::store::Store;

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// One attempt of a delete. `Found` when a tombstone was written (the key may or may not
    /// have had a record on the device), `NotFound` when the key is known to be absent.
    pub(crate) fn delete_once(
        &self,
        guard: &Guard<'_>,
        ctx: OpCtx,
        key: KeyRef<'_>,
        stats: &SessionStats,
    ) -> Result<Step<Status>, OpError> {
        let slot = match self.index.find(key.hash, guard) {
            Ok(Some(slot)) => slot,
            Ok(None) => return Ok(Step::Done(Status::NotFound)),
            Err(_busy) => return Ok(Step::Retry),
        };
        let entry = slot.address();
        match self.trace(ctx, key.bytes, entry, guard) {
            Lookup::InMemory(address, record) => {
                let header = record.header();
                if ctx.must_shift(address, header) {
                    return Ok(Step::CprShift);
                }
                if header.is_tombstone() {
                    return Ok(Step::Done(Status::NotFound));
                }
                if address >= self.log.read_only_address()
                    && !header.is_sealed()
                    && self.may_update_in_place(ctx, address, header)
                {
                    // Rule R3: header bits are updated atomically in the mutable region; the
                    // compare-and-swap fails on a record sealed meanwhile (R5, R8).
                    if record.try_tombstone() {
                        self.mark_dirty(address, ctx);
                        stats.bump(Counter::InPlaceUpdates);
                        return Ok(Step::Done(Status::Found));
                    }
                    if ctx.old_version {
                        return Ok(Step::CprShift);
                    }
                }
            }
            Lookup::Absent => return Ok(Step::Done(Status::NotFound)),
            Lookup::Shift => return Ok(Step::CprShift),
            Lookup::OnDevice(_) => {}
        }
        let empty = vec![0u8; V::FIXED_SIZE.unwrap_or(0)];
        match self.append(
            guard,
            &slot,
            entry,
            TOMBSTONE | ctx.flags(),
            key.bytes,
            &empty,
        )? {
            Append::Installed(_) => {
                stats.bump(Counter::Appends);
                Ok(Step::Done(Status::Found))
            }
            Append::Retry => Ok(Step::Retry),
        }
    }
}
