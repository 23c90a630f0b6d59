//! Delete: a tombstone, set in place in the mutable region or appended at the tail. Never
//! needs the device: a tombstone hides whatever older records the device holds.

use super::attempt::{Attempt, Operation, Step, with_key};
use crate::chain::{Append, Lookup};
use crate::codec::Codec;
use crate::error::{OpError, Status};
use crate::record::TOMBSTONE;
use crate::session::Session;
use crate::session::pinned::Pinned;
use crate::stats::{Counter, RetryCause};

/// A delete, as the driver runs it. `Found` when a tombstone was written (the key may or may
/// not have had a record on the device), `NotFound` when the key is known to be absent.
pub(crate) struct DeleteOp {
    /// Append a tombstone even when the key has no record (a layered delete, which must hide
    /// the key's records in a lower layer).
    pub(crate) force: bool,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Operation<K, V> for DeleteOp {
    type Output = Status;

    fn attempt(&mut self, at: &mut Attempt<'_, '_, K, V>) -> Result<Step<Status>, OpError> {
        // Rule R14: the begin address before the entry.
        let begin = at.store.log.begin_address();
        let found = if self.force {
            at.store
                .index
                .find_or_create(at.key.hash, at.guard)
                .map(Some)
        } else {
            at.store.index.find(at.key.hash, at.guard)
        };
        let slot = match found {
            Ok(Some(slot)) => slot,
            Ok(None) => return Ok(Step::Done(Status::NotFound)),
            Err(_busy) => return Ok(Step::Retry(RetryCause::IndexGrowth)),
        };
        let entry = slot.address();
        match at.store.trace(at.ctx, at.key.bytes, entry, begin, at.guard) {
            Lookup::InMemory(address, record) => {
                let header = record.header();
                if at.ctx.must_shift(address, header) {
                    return Ok(Step::CprShift);
                }
                if header.is_tombstone() {
                    return Ok(Step::Done(Status::NotFound));
                }
                if address >= at.store.log.read_only_address()
                    && !header.is_sealed()
                    && at.may_update_in_place(address, header)
                {
                    // Rule R3: header bits are updated atomically in the mutable region; the
                    // compare-and-swap fails on a record sealed meanwhile (R5, R8).
                    if record.try_tombstone() {
                        at.mark_dirty(address);
                        at.stats.bump(Counter::InPlaceUpdates);
                        return Ok(Step::Done(Status::Found));
                    }
                    if at.ctx.old_version {
                        return Ok(Step::CprShift);
                    }
                }
            }
            Lookup::Absent if !self.force => return Ok(Step::Done(Status::NotFound)),
            Lookup::Absent => {}
            Lookup::Shift => return Ok(Step::CprShift),
            // A read-cache copy is replaced by the tombstone (rule RC3).
            Lookup::OnDevice(_) | Lookup::Cached(..) => {}
        }
        let empty = vec![0u8; V::FIXED_SIZE.unwrap_or(0)];
        let flags = TOMBSTONE | at.ctx.flags();
        Ok(
            match at
                .store
                .append(at.guard, &slot, entry, flags, at.key.bytes, &empty)?
            {
                Append::Installed(_) => {
                    at.stats.bump(Counter::Appends);
                    Step::Done(Status::Found)
                }
                Append::Retry(cause) => Step::Retry(cause),
            },
        )
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'_, K, V> {
    /// See [`Session::delete`].
    ///
    /// # Errors
    /// As [`Session::delete`].
    pub fn delete(&mut self, key: &K) -> Result<Status, OpError> {
        self.op(|this| {
            this.state.stats.bump(Counter::Deletes);
            with_key(key, |key| this.run(&mut DeleteOp { force: false }, key))
        })
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Session<K, V> {
    /// Deletes `key`: [`Status::Found`] when a tombstone was written, [`Status::NotFound`]
    /// when the key was known to be absent. Never reads the device.
    ///
    /// # Errors
    /// Log errors.
    pub fn delete(&mut self, key: &K) -> Result<Status, OpError> {
        self.pin().delete(key)
    }
}
