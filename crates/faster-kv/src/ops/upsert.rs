//! Upsert: a blind write. In place when the key's newest record is in the mutable region,
//! else a new record at the tail. Never needs the device.

use std::sync::atomic::Ordering;

use faster_epoch::Guard;

use super::{KeyRef, OpCtx, Step};
use crate::chain::{Append, Lookup};
use crate::codec::Codec;
use crate::error::OpError;
use crate::record::word_of;
use crate::stats::{Counter, SessionStats};
use crate::store::Store;

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// One attempt of an upsert of the encoded `value`.
    #[inline]
    pub(crate) fn upsert_once(
        &self,
        guard: &Guard<'_>,
        ctx: OpCtx,
        key: KeyRef<'_>,
        value: &[u8],
        stats: &SessionStats,
    ) -> Result<Step<()>, OpError> {
        let Ok(slot) = self.index.find_or_create(key.hash, guard) else {
            return Ok(Step::Retry);
        };
        let entry = slot.address();
        let lookup = self.trace(ctx, key.bytes, entry, guard);
        if let Lookup::Shift = lookup {
            return Ok(Step::CprShift);
        }
        if let Lookup::InMemory(address, record) = lookup {
            let header = record.header();
            if ctx.must_shift(address, header) {
                return Ok(Step::CprShift);
            }
            // Rule R3/R4: in place only at or above read-only, checked under the guard
            // (hybrid log rule H4), on a live record that nobody is copying, of this session's
            // version (R8).
            if address >= self.log.read_only_address()
                && !header.is_tombstone()
                && !header.is_sealed()
                && self.may_update_in_place(ctx, address, header)
            {
                if Self::LAYOUT.value_word {
                    if ctx.old_version {
                        // Rule R7: under the header lock while a checkpoint may seal it.
                        if !record.lock_header() {
                            return Ok(Step::CprShift);
                        }
                        record.value_word().store(word_of(value), Ordering::Release);
                        record.unlock_header();
                    } else {
                        record.value_word().store(word_of(value), Ordering::Release);
                    }
                    self.mark_dirty(address, ctx);
                    stats.bump(Counter::InPlaceUpdates);
                    return Ok(Step::Done(()));
                }
                if record.overwrite_locked(value) {
                    self.mark_dirty(address, ctx);
                    stats.bump(Counter::InPlaceUpdates);
                    return Ok(Step::Done(()));
                }
                // Another length: seal the old record so that no in-place update lands on
                // it after ours replaces it (rule R5).
                record.seal();
            }
        }
        match self.append(guard, &slot, entry, ctx.flags(), key.bytes, value)? {
            Append::Installed(_) => {
                stats.bump(Counter::Appends);
                Ok(Step::Done(()))
            }
            Append::Retry => Ok(Step::Retry),
        }
    }
}
