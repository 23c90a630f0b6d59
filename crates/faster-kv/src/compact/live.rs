//! Whether a record is its key's live record, and the conditional copy of a live record to the
//! tail: the two operations that the live-record scan and compaction run through the driver.
//!
//! A record at `address` is *live* when it is the newest record of its key: walking the key's
//! chain from its index entry meets no newer record of the key before `address`. Compaction
//! copies a live record to the tail with a compare-and-swap on the entry it walked from (rule
//! R1), so a writer that installs a newer record first makes the copy fail and the record is
//! looked at again — and is then no longer live (FASTER's conditional insert).

use faster_hlog::Address;

use crate::chain::{Append, Lookup};
use crate::codec::Codec;
use crate::error::OpError;
use crate::ops::attempt::{Attempt, FromDevice, Operation, Step};
use crate::stats::RetryCause;

/// What became of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It is its key's newest record (a check), or a copy of it is now (a copy).
    Live,
    /// A newer record of its key exists, or its key is gone from the index.
    Dead,
    /// A copy must wait: the store is not at rest (a checkpoint or an index growth runs).
    NotNow,
}

/// Checks (`value` `None`) or conditionally copies (`value` the record's value bytes) the
/// record at `address`.
pub(crate) struct LiveOp<'v> {
    pub(crate) address: Address,
    pub(crate) value: Option<&'v [u8]>,
}

impl LiveOp<'_> {
    /// A copy is made only while the store is at rest, observed under the attempt's guard:
    /// then no version change can happen before the copy is installed (a checkpoint's phases
    /// advance only once every protected thread has acknowledged them), so the copy is a
    /// record of the current version like any other, and never one a recovery must undo.
    fn may_copy<K: Codec + ?Sized, V: Codec + ?Sized>(&self, at: &Attempt<'_, '_, K, V>) -> bool {
        self.value.is_none() || at.store.cpr.machine.state().is_rest()
    }

    /// The record is live and its chain's entry was `entry`: done for a check; for a copy,
    /// append it behind `entry` if the entry still holds it.
    fn live<K: Codec + ?Sized, V: Codec + ?Sized>(
        &self,
        at: &Attempt<'_, '_, K, V>,
        slot: &faster_index::EntrySlot<'_>,
        entry: Address,
    ) -> Result<Step<Verdict>, OpError> {
        let Some(value) = self.value else {
            return Ok(Step::Done(Verdict::Live));
        };
        Ok(
            match at
                .store
                .append(at.guard, slot, entry, 0, at.key.bytes, value)?
            {
                Append::Installed(_) => Step::Done(Verdict::Live),
                Append::Retry(cause) => Step::Retry(cause),
            },
        )
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Operation<K, V> for LiveOp<'_> {
    type Output = Verdict;

    fn attempt(&mut self, at: &mut Attempt<'_, '_, K, V>) -> Result<Step<Verdict>, OpError> {
        if !self.may_copy(at) {
            return Ok(Step::Done(Verdict::NotNow));
        }
        // Rule R14: the begin address before the entry.
        let begin = at.store.log.begin_address();
        let slot = match at.store.index.find(at.key.hash, at.guard) {
            Ok(Some(slot)) => slot,
            Ok(None) => return Ok(Step::Done(Verdict::Dead)),
            Err(_busy) => return Ok(Step::Retry(RetryCause::IndexGrowth)),
        };
        let entry = slot.address();
        // A read-cache copy is not a newer record: walk the log past it (rule RC3).
        let from = at.store.skip_copy(entry, at.guard);
        match at.store.trace(at.ctx, at.key.bytes, from, begin, at.guard) {
            Lookup::InMemory(found, _) if found == self.address => self.live(at, &slot, entry),
            Lookup::OnDevice(read) if read == self.address => self.live(at, &slot, entry),
            // The chain goes on below the head, above the record: the newest record of the
            // key may still be ours.
            Lookup::OnDevice(read) if read > self.address => Ok(Step::Pending { read, entry }),
            Lookup::Shift => Ok(Step::CprShift),
            // A newer record, or a chain that no longer reaches the record.
            Lookup::InMemory(..) | Lookup::OnDevice(_) | Lookup::Absent | Lookup::Cached(..) => {
                Ok(Step::Done(Verdict::Dead))
            }
        }
    }

    fn after_device(
        &mut self,
        at: &mut Attempt<'_, '_, K, V>,
        device: FromDevice<'_>,
    ) -> Result<Step<Verdict>, OpError> {
        if !self.may_copy(at) {
            return Ok(Step::Done(Verdict::NotNow));
        }
        if device.found.map(|r| r.address) != Some(self.address) {
            return Ok(Step::Done(Verdict::Dead));
        }
        let slot = match at.store.index.find(at.key.hash, at.guard) {
            Ok(Some(slot)) => slot,
            Ok(None) => return Ok(Step::Done(Verdict::Dead)),
            Err(_busy) => return Ok(Step::Retry(RetryCause::IndexGrowth)),
        };
        if slot.address() != device.entry {
            // A newer record may have been installed since: walk again.
            return Ok(Step::Retry(RetryCause::LostRace));
        }
        self.live(at, &slot, device.entry)
    }
}
