//! Read-modify-write: in place in the mutable region, a copy to the tail from the immutable
//! region or from the device, an initial value for an absent key. Conditional inserts,
//! counters and compare-and-swap are RMWs whose update may decline to write.

use std::sync::atomic::Ordering;

use faster_epoch::Guard;

use super::rmw_update::Update;
use super::{KeyRef, OpCtx, Step};
use crate::chain::{Append, DiskRecord, Lookup};
use crate::codec::Codec;
use crate::error::OpError;
use crate::record::word_of;
use crate::stats::{Counter, SessionStats};
use crate::store::Store;

/// What a pending RMW learned from the device: the index entry's address when it went pending,
/// and the key's newest record there (if any).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FromDevice<'a> {
    pub(crate) entry: u64,
    pub(crate) found: Option<&'a DiskRecord>,
}

/// How an RMW ended; the value it stored (if any) is in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RmwDone {
    /// The key had a live value.
    pub(crate) existed: bool,
    /// The update stored a value.
    pub(crate) wrote: bool,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// One attempt of an RMW.
    pub(crate) fn rmw_once<U: Update + ?Sized>(
        &self,
        guard: &Guard<'_>,
        ctx: OpCtx,
        key: KeyRef<'_>,
        update: &mut U,
        out: &mut Vec<u8>,
        stats: &SessionStats,
    ) -> Result<Step<RmwDone>, OpError> {
        let Ok(slot) = self.index.find_or_create(key.hash, guard) else {
            return Ok(Step::Retry);
        };
        let entry = slot.address();
        let old = match self.trace(ctx, key.bytes, entry, guard) {
            Lookup::OnDevice(read) => return Ok(Step::Pending { read, entry }),
            Lookup::Absent => None,
            Lookup::Shift => return Ok(Step::CprShift),
            Lookup::InMemory(address, record) => {
                let header = record.header();
                if ctx.must_shift(address, header) {
                    return Ok(Step::CprShift);
                }
                if address >= self.log.read_only_address() {
                    if !self.may_update_in_place(ctx, address, header) {
                        // A version-`v + 1` RMW on a version-`v` record: copy it, sealed first,
                        // so that no lagging version-`v` update lands on it afterwards (R8).
                        record.seal();
                    } else if !header.is_tombstone() && !header.is_sealed() {
                        if Self::LAYOUT.value_word {
                            // Rule R3: a compare-and-swap loop on the value word; under the
                            // header lock while a checkpoint may seal the record (R7).
                            if ctx.old_version && !record.lock_header() {
                                if record.header().is_sealed() {
                                    return Ok(Step::CprShift);
                                }
                                return Ok(Step::Retry);
                            }
                            let result = Self::update_word(&record, update, out);
                            if ctx.old_version {
                                record.unlock_header();
                            }
                            let wrote = result?;
                            if wrote {
                                self.mark_dirty(address, ctx);
                                stats.bump(Counter::InPlaceUpdates);
                            }
                            return Ok(Step::Done(RmwDone {
                                existed: true,
                                wrote,
                            }));
                        }
                        // Rule R4: under the record's sequence lock.
                        let mut outcome: Result<Option<bool>, OpError> = Ok(None);
                        let in_place = record.update_locked(|current| {
                            match update.apply(Some(current), out) {
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
                            self.mark_dirty(address, ctx);
                            stats.bump(Counter::InPlaceUpdates);
                            return Ok(Step::Done(RmwDone {
                                existed: true,
                                wrote: true,
                            }));
                        }
                        if let Some(false) = outcome? {
                            return Ok(Step::Done(RmwDone {
                                existed: true,
                                wrote: false,
                            }));
                        }
                        if record.header().is_sealed() && ctx.old_version {
                            return Ok(Step::CprShift);
                        }
                        // The new value has another length: seal, then copy (rule R5).
                        record.seal();
                    }
                } else if address >= self.log.safe_read_only_address() {
                    // The fuzzy region: a thread that has not refreshed may still update this
                    // record in place; copying now could lose its update (hybrid log rule H4).
                    return Ok(Step::Retry);
                }
                // Immutable, sealed or deleted: copy from it.
                if header.is_tombstone() {
                    None
                } else {
                    let mut value = Vec::new();
                    record.read_value(&mut value);
                    Some(value)
                }
            }
        };
        let existed = old.is_some();
        if !update.apply(old.as_deref(), out)? {
            return Ok(Step::Done(RmwDone {
                existed,
                wrote: false,
            }));
        }
        match self.append(guard, &slot, entry, ctx.flags(), key.bytes, out)? {
            Append::Installed(_) => {
                stats.bump(Counter::Appends);
                Ok(Step::Done(RmwDone {
                    existed,
                    wrote: true,
                }))
            }
            Append::Retry => Ok(Step::Retry),
        }
    }

    /// Finishes an RMW whose old value was looked up on the device: copies it to the tail if
    /// the index entry still points where it did when the operation went pending; otherwise
    /// the chain changed and the operation starts again.
    #[expect(
        clippy::too_many_arguments,
        reason = "the attempt's guard, context, key, device result, update and session buffers are all distinct"
    )]
    pub(crate) fn rmw_after_device<U: Update + ?Sized>(
        &self,
        guard: &Guard<'_>,
        ctx: OpCtx,
        key: KeyRef<'_>,
        device: FromDevice<'_>,
        update: &mut U,
        out: &mut Vec<u8>,
        stats: &SessionStats,
    ) -> Result<Step<RmwDone>, OpError> {
        let FromDevice { entry, found } = device;
        let Ok(slot) = self.index.find_or_create(key.hash, guard) else {
            return Ok(Step::Retry);
        };
        if slot.address() != entry {
            return Ok(Step::Retry);
        }
        if let Some(record) = found
            && ctx.must_shift(record.address, record.header)
        {
            return Ok(Step::CprShift);
        }
        let old = found
            .filter(|r| !r.header.is_tombstone())
            .map(|r| r.value.as_slice());
        let existed = old.is_some();
        if !update.apply(old, out)? {
            return Ok(Step::Done(RmwDone {
                existed,
                wrote: false,
            }));
        }
        match self.append(guard, &slot, entry, ctx.flags(), key.bytes, out)? {
            Append::Installed(_) => {
                stats.bump(Counter::Appends);
                Ok(Step::Done(RmwDone {
                    existed,
                    wrote: true,
                }))
            }
            Append::Retry => Ok(Step::Retry),
        }
    }

    /// The compare-and-swap loop of an in-place RMW on a word value (rule R3).
    fn update_word<U: Update + ?Sized>(
        record: &crate::record::InMemory,
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
            match word.compare_exchange(current, word_of(out), Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(true),
                Err(actual) => current = actual,
            }
        }
    }
}
