//! Read-modify-write: in place in the mutable region, a copy to the tail from the immutable
//! region or from the device, an initial value for an absent key. Conditional inserts,
//! counters and compare-and-swap are RMWs whose update may decline to write
//! ([`super::update`]).

use std::sync::atomic::Ordering;

use faster_hlog::Address;
use faster_index::EntrySlot;

use super::attempt::{Attempt, FromDevice, KeyRef, Operation, Step, with_key};
use super::update::{self, Rmw, Update};
use crate::chain::{Append, Lookup};
use crate::codec::{Codec, expired};
use crate::error::OpError;
use crate::record::{InMemory, word_of};
use crate::session::Session;
use crate::session::pinned::Pinned;
use crate::stats::{Counter, RetryCause};
use crate::store::Store;

/// How an RMW ended; the value it stored (if any) is in the session's value buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RmwDone {
    /// The key had a live value.
    pub(crate) existed: bool,
    /// The update stored a value.
    pub(crate) wrote: bool,
}

/// An RMW on encoded values, as the driver runs it.
pub(crate) struct RmwOp<'u, U: ?Sized> {
    pub(crate) update: &'u mut U,
    /// Whether a key with no record gets one (from `update(None)`); if not, the RMW ends
    /// without writing and [`RmwOp::absent`] holds the entry it saw (a layered RMW).
    pub(crate) create: bool,
    pub(crate) absent: Option<Address>,
}

impl<'u, U: ?Sized> RmwOp<'u, U> {
    /// An RMW that creates absent keys.
    pub(crate) fn new(update: &'u mut U) -> Self {
        Self {
            update,
            create: true,
            absent: None,
        }
    }

    /// Ends without writing: the key has no record and the RMW does not create one.
    fn absent(&mut self, entry: Address) -> Step<RmwDone> {
        self.absent = Some(entry);
        Step::Done(RmwDone {
            existed: false,
            wrote: false,
        })
    }
}

/// What the in-memory record let an RMW do.
enum InMemoryRmw {
    /// The attempt ended (in place, declined, or retry / shift).
    Finished(Step<RmwDone>),
    /// Copy to the tail, from this old value (`None`: deleted).
    CopyFrom(Option<Vec<u8>>),
}

impl<K, V, U> Operation<K, V> for RmwOp<'_, U>
where
    K: Codec + ?Sized,
    V: Codec + ?Sized,
    U: Update + ?Sized,
{
    type Output = RmwDone;

    fn attempt(&mut self, at: &mut Attempt<'_, '_, K, V>) -> Result<Step<RmwDone>, OpError> {
        // Rule R14: the begin address before the entry.
        let begin = at.store.log.begin_address();
        let Ok(slot) = at.store.index.find_or_create(at.key.hash, at.guard) else {
            return Ok(Step::Retry(RetryCause::IndexGrowth));
        };
        let entry = slot.address();
        let old = match at.store.trace(at.ctx, at.key.bytes, entry, begin, at.guard) {
            Lookup::OnDevice(read) => return Ok(Step::Pending { read, entry }),
            Lookup::Absent if !self.create => return Ok(self.absent(entry)),
            Lookup::Absent => None,
            Lookup::Shift => return Ok(Step::CprShift),
            // The value of a read-cache copy; the append replaces the copy (rule RC3).
            Lookup::Cached(_, copy) => {
                let mut old = Vec::new();
                crate::read_cache::copy_value(copy, &mut old);
                Some(old)
            }
            Lookup::InMemory(address, record) => match self.in_memory(at, address, record)? {
                InMemoryRmw::Finished(step) => return Ok(step),
                InMemoryRmw::CopyFrom(old) => old,
            },
        };
        self.copy_to_tail(at, &slot, entry, old.as_deref())
    }

    /// Copies the old value found on the device to the tail if the index entry still points
    /// where it did when the operation went pending; otherwise the chain changed and the
    /// operation starts again.
    fn after_device(
        &mut self,
        at: &mut Attempt<'_, '_, K, V>,
        device: FromDevice<'_>,
    ) -> Result<Step<RmwDone>, OpError> {
        let Ok(slot) = at.store.index.find_or_create(at.key.hash, at.guard) else {
            return Ok(Step::Retry(RetryCause::IndexGrowth));
        };
        if slot.address() != device.entry {
            return Ok(Step::Retry(RetryCause::LostRace));
        }
        if device.found.is_none() && !self.create {
            return Ok(self.absent(device.entry));
        }
        if let Some(record) = device.found
            && at.ctx.must_shift(record.address, record.header)
        {
            return Ok(Step::CprShift);
        }
        let old = device
            .found
            .filter(|r| !r.header.is_tombstone())
            .map(|r| r.value.as_slice());
        self.copy_to_tail(at, &slot, device.entry, old)
    }
}

impl<U: Update + ?Sized> RmwOp<'_, U> {
    /// The key's newest record is in memory: update it in place if the region and the
    /// checkpoint allow, else say what to copy.
    fn in_memory<K: Codec + ?Sized, V: Codec + ?Sized>(
        &mut self,
        at: &mut Attempt<'_, '_, K, V>,
        address: Address,
        record: InMemory,
    ) -> Result<InMemoryRmw, OpError> {
        let header = record.header();
        if at.ctx.must_shift(address, header) {
            return Ok(InMemoryRmw::Finished(Step::CprShift));
        }
        if address >= at.store.log.read_only_address() {
            if !at.may_update_in_place(address, header) {
                // A version-`v + 1` RMW on a version-`v` record: copy it, sealed first, so
                // that no lagging version-`v` update lands on it afterwards (R8).
                record.seal();
            } else if !header.is_tombstone() && !header.is_sealed() {
                let step = if Store::<K, V>::LAYOUT.value_word {
                    Some(self.in_place_word(at, address, record)?)
                } else {
                    self.in_place_locked(at, address, record)?
                };
                if let Some(step) = step {
                    return Ok(InMemoryRmw::Finished(step));
                }
            }
        } else if address >= at.store.log.safe_read_only_address() {
            // The fuzzy region: a thread that has not refreshed may still update this record
            // in place; copying now could lose its update (hybrid log rule H4).
            return Ok(InMemoryRmw::Finished(Step::Retry(RetryCause::FuzzyRegion)));
        }
        // Immutable, sealed or deleted: copy from it.
        Ok(InMemoryRmw::CopyFrom(if header.is_tombstone() {
            None
        } else {
            let mut value = Vec::new();
            record.read_value(&mut value);
            Some(value)
        }))
    }

    /// Rule R3: a compare-and-swap loop on the value word; under the header lock while a
    /// checkpoint may seal the record (R7).
    fn in_place_word<K: Codec + ?Sized, V: Codec + ?Sized>(
        &mut self,
        at: &mut Attempt<'_, '_, K, V>,
        address: Address,
        record: InMemory,
    ) -> Result<Step<RmwDone>, OpError> {
        if at.ctx.old_version && !record.lock_header() {
            return Ok(if record.header().is_sealed() {
                Step::CprShift
            } else {
                Step::Retry(RetryCause::RecordLocked)
            });
        }
        let result = update_word(&record, self.update, at.value);
        if at.ctx.old_version {
            record.unlock_header();
        }
        let wrote = result?;
        if wrote {
            at.mark_dirty(address);
            at.stats.bump(Counter::InPlaceUpdates);
        }
        Ok(Step::Done(RmwDone {
            existed: true,
            wrote,
        }))
    }

    /// Rule R4: in place under the record's sequence lock. `None` when the new value has
    /// another length: the record is then sealed (rule R5) and the value is copied.
    fn in_place_locked<K: Codec + ?Sized, V: Codec + ?Sized>(
        &mut self,
        at: &mut Attempt<'_, '_, K, V>,
        address: Address,
        record: InMemory,
    ) -> Result<Option<Step<RmwDone>>, OpError> {
        let mut outcome: Result<Option<bool>, OpError> = Ok(None);
        let mut existed = true;
        let update = &mut *self.update;
        let out = &mut *at.value;
        let in_place = record.update_locked(|current| {
            // Rule X1: an expired value is updated as if the key were absent.
            let current = Some(current).filter(|bytes| !expired::<V>(bytes));
            existed = current.is_some();
            match update.apply(current, out) {
                Ok(true) => Some(out.clone()),
                Ok(false) => {
                    outcome = Ok(Some(false));
                    None
                }
                Err(e) => {
                    outcome = Err(e);
                    None
                }
            }
        });
        if in_place {
            at.mark_dirty(address);
            at.stats.bump(Counter::InPlaceUpdates);
            return Ok(Some(Step::Done(RmwDone {
                existed,
                wrote: true,
            })));
        }
        if let Some(false) = outcome? {
            return Ok(Some(Step::Done(RmwDone {
                existed,
                wrote: false,
            })));
        }
        if record.header().is_sealed() && at.ctx.old_version {
            return Ok(Some(Step::CprShift));
        }
        record.seal();
        Ok(None)
    }

    /// Applies the update to `old` and appends the result at the tail, installed if the index
    /// entry still points at `entry` (rule R1).
    fn copy_to_tail<K: Codec + ?Sized, V: Codec + ?Sized>(
        &mut self,
        at: &mut Attempt<'_, '_, K, V>,
        slot: &EntrySlot<'_>,
        entry: Address,
        old: Option<&[u8]>,
    ) -> Result<Step<RmwDone>, OpError> {
        // Rule X1: an expired value is updated as if the key were absent.
        let old = old.filter(|bytes| !expired::<V>(bytes));
        let existed = old.is_some();
        if !self.update.apply(old, at.value)? {
            return Ok(Step::Done(RmwDone {
                existed,
                wrote: false,
            }));
        }
        let flags = at.ctx.flags();
        Ok(
            match at
                .store
                .append(at.guard, slot, entry, flags, at.key.bytes, at.value)?
            {
                Append::Installed(_) => {
                    at.stats.bump(Counter::Appends);
                    Step::Done(RmwDone {
                        existed,
                        wrote: true,
                    })
                }
                Append::Retry(cause) => Step::Retry(cause),
            },
        )
    }
}

/// The compare-and-swap loop of an in-place RMW on a word value (rule R3).
fn update_word<U: Update + ?Sized>(
    record: &InMemory,
    update: &mut U,
    out: &mut Vec<u8>,
) -> Result<bool, OpError> {
    let word = record.value_word();
    let len = record.value_len();
    if len == 8
        && let Some(delta) = update.word_add()
    {
        let new = word.fetch_add(delta, Ordering::AcqRel).wrapping_add(delta);
        out.clear();
        out.extend_from_slice(&new.to_le_bytes());
        return Ok(true);
    }
    let mut current = word.load(Ordering::Acquire);
    loop {
        let bytes = current.to_le_bytes();
        if !update.apply(Some(&bytes[..len]), out)? {
            return Ok(false);
        }
        match word.compare_exchange(current, word_of(out), Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(true),
            Err(actual) => current = actual,
        }
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'_, K, V> {
    /// Runs an RMW on encoded values to completion, waiting for the device if needed.
    pub(crate) fn rmw_bytes<U: Update + ?Sized>(
        &mut self,
        key: KeyRef<'_>,
        update: &mut U,
    ) -> Result<RmwDone, OpError> {
        self.state.stats.bump(Counter::Rmws);
        self.run(&mut RmwOp::new(update), key)
    }

    /// The value a finished RMW stored, if it stored one.
    pub(crate) fn rmw_result(&self, done: RmwDone) -> Result<Option<V::Owned>, OpError> {
        if done.wrote {
            Ok(Some(V::decode(&self.state.value)?))
        } else {
            Ok(None)
        }
    }

    /// See [`Session::rmw`].
    ///
    /// # Errors
    /// As [`Session::rmw`].
    pub fn rmw(&mut self, key: &K, mut rmw: impl Rmw<V>) -> Result<Option<V::Owned>, OpError> {
        self.op(|this| {
            let mut update = update::typed::<V>(&mut rmw);
            let done = with_key(key, |key| this.rmw_bytes(key, &mut update))?;
            this.rmw_result(done)
        })
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Session<K, V> {
    /// Read-modify-write: stores `rmw.apply(current)`; returns the value stored, or `None` if
    /// `apply` declined to store one.
    ///
    /// # Errors
    /// As [`Session::read`] and [`Session::upsert`].
    pub fn rmw(&mut self, key: &K, rmw: impl Rmw<V>) -> Result<Option<V::Owned>, OpError> {
        self.pin().rmw(key, rmw)
    }
}
