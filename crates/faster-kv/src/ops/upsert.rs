//! Upsert: a blind write. In place when the key's newest record is in the mutable region,
//! else a new record at the tail. Never needs the device.

use std::sync::atomic::Ordering;

use faster_hlog::Address;

use super::attempt::{Attempt, Operation, Step, with_key};
use crate::chain::{Append, Lookup};
use crate::codec::Codec;
use crate::error::OpError;
use crate::record::{InMemory, word_of};
use crate::session::Session;
use crate::session::pinned::Pinned;
use crate::stats::{Counter, RetryCause};
use crate::store::Store;

/// An upsert of the encoded value, as the driver runs it.
pub(crate) struct UpsertOp<'v> {
    pub(crate) value: &'v [u8],
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Operation<K, V> for UpsertOp<'_> {
    type Output = ();

    #[inline(always)]
    fn attempt(&mut self, at: &mut Attempt<'_, '_, K, V>) -> Result<Step<()>, OpError> {
        // Rule R14: the begin address before the entry.
        let begin = at.store.log.begin_address();
        let Ok(slot) = at.store.index.find_or_create(at.key.hash, at.guard) else {
            return Ok(Step::Retry(RetryCause::IndexGrowth));
        };
        let entry = slot.address();
        match at.store.trace(at.ctx, at.key.bytes, entry, begin, at.guard) {
            Lookup::Shift => return Ok(Step::CprShift),
            Lookup::InMemory(address, record) => {
                if at.ctx.must_shift(address, record.header()) {
                    return Ok(Step::CprShift);
                }
                if let Some(step) = self.in_place(at, address, record) {
                    return Ok(step);
                }
            }
            // A read-cache copy is replaced by the append (rule RC3).
            Lookup::OnDevice(_) | Lookup::Absent | Lookup::Cached(..) => {}
        }
        let appended = at.store.append(
            at.guard,
            &slot,
            entry,
            at.ctx.flags(),
            at.key.bytes,
            self.value,
        )?;
        Ok(match appended {
            Append::Installed(_) => {
                at.stats.bump(Counter::Appends);
                Step::Done(())
            }
            Append::Retry(cause) => Step::Retry(cause),
        })
    }
}

impl UpsertOp<'_> {
    /// Updates the record in place if the rules allow: `Some` when the attempt ended, `None`
    /// when the value must be appended.
    #[inline(always)]
    fn in_place<K: Codec + ?Sized, V: Codec + ?Sized>(
        &self,
        at: &Attempt<'_, '_, K, V>,
        address: Address,
        record: InMemory,
    ) -> Option<Step<()>> {
        let header = record.header();
        // Rule R3/R4: in place only at or above read-only, checked under the guard (hybrid
        // log rule H4), on a live record that nobody is copying, of this session's version
        // (R8).
        if address < at.store.log.read_only_address()
            || header.is_tombstone()
            || header.is_sealed()
            || !at.may_update_in_place(address, header)
        {
            return None;
        }
        if Store::<K, V>::LAYOUT.value_word {
            if at.ctx.old_version {
                // Rule R7: under the header lock while a checkpoint may seal it.
                if !record.lock_header() {
                    return Some(Step::CprShift);
                }
                record
                    .value_word()
                    .store(word_of(self.value), Ordering::Release);
                record.unlock_header();
            } else {
                record
                    .value_word()
                    .store(word_of(self.value), Ordering::Release);
            }
        } else if !record.overwrite_locked(self.value) {
            // Another length: seal the old record so that no in-place update lands on it
            // after ours replaces it (rule R5).
            record.seal();
            return None;
        }
        at.mark_dirty(address);
        at.stats.bump(Counter::InPlaceUpdates);
        Some(Step::Done(()))
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'_, K, V> {
    /// See [`Session::upsert`].
    ///
    /// # Errors
    /// As [`Session::upsert`].
    pub fn upsert(&mut self, key: &K, value: &V) -> Result<(), OpError> {
        self.op(|this| {
            this.state.stats.bump(Counter::Upserts);
            with_key(key, |key| {
                value.with_bytes(|value| this.run(&mut UpsertOp { value }, key))?
            })
        })
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Session<K, V> {
    /// Stores `value` under `key`.
    ///
    /// # Errors
    /// [`OpErrorKind::RecordTooLarge`](crate::OpErrorKind::RecordTooLarge) when the record does not fit in a page; log errors.
    pub fn upsert(&mut self, key: &K, value: &V) -> Result<(), OpError> {
        self.pin().upsert(key, value)
    }
}
