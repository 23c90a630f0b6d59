//! Lookups and insertions: [`HashIndex::find`], [`HashIndex::find_or_create`] (the two-phase
//! tentative insert of rule I3) and [`EntrySlot`], the handle on one slot through which the
//! caller installs or removes its record's address (rule I4).

use faster_address::Address;
use faster_epoch::Guard;

use crate::bucket::Bucket;
use crate::entry::{Entry, KeyHash, UNSET_ADDRESS};
use crate::error::Busy;
use crate::index::{HashIndex, NotSend};
use crate::sync::{AtomicU64, Ordering, Spin};
use crate::table::Table;

/// One slot of the index holding a final entry, found or created under a guard.
///
/// It remembers the entry as it was when found ([`entry`](Self::entry),
/// [`address`](Self::address)); [`load`](Self::load) reads it again. Updates are
/// compare-and-swaps on the whole word, so a slot that was emptied and reused for another tag
/// in the meantime never takes an update meant for the old one. The slot borrows the guard:
/// refreshing the guard ends it. It is neither `Send` nor `Sync`.
pub struct EntrySlot<'g> {
    atomic: &'g AtomicU64,
    entry: Entry,
    _not_send: NotSend,
}

impl std::fmt::Debug for EntrySlot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntrySlot")
            .field("entry", &self.entry)
            .finish()
    }
}

impl<'g> EntrySlot<'g> {
    fn new(atomic: &'g AtomicU64, entry: Entry) -> Self {
        Self {
            atomic,
            entry,
            _not_send: std::marker::PhantomData,
        }
    }

    /// The entry as it was when this slot was found or created (never tentative).
    #[inline]
    pub fn entry(&self) -> Entry {
        self.entry
    }

    /// The address of [`entry`](Self::entry): the newest record of the chain when it was
    /// found, or [`UNSET_ADDRESS`] for an entry just created.
    #[inline]
    pub fn address(&self) -> Address {
        self.entry.address()
    }

    /// The tag of this slot's entry.
    #[inline]
    pub fn tag(&self) -> u16 {
        self.entry.tag()
    }

    /// The slot's current entry (it may have changed, or been emptied, since it was found).
    #[inline]
    pub fn load(&self) -> Entry {
        Entry::from_raw(self.atomic.load(Ordering::Acquire))
    }

    /// Replaces the address `expected_address` by `new_address`, keeping the tag, if the slot
    /// still holds the final entry `{expected_address, tag}` (rule I4). On failure returns the
    /// entry the slot holds now, for the caller's retry.
    ///
    /// Success releases everything the caller wrote before (the record at `new_address`) to
    /// every thread that then finds the entry.
    ///
    /// # Errors
    /// The current entry, when it is not `{expected_address, tag}` any more.
    ///
    /// # Panics
    /// If `new_address` is [`Address::INVALID`]: addresses come from the log, which never
    /// produces it (use [`delete_if`](Self::delete_if) to empty a slot).
    #[inline]
    pub fn compare_exchange(
        &self,
        expected_address: Address,
        new_address: Address,
    ) -> Result<(), Entry> {
        if new_address.is_invalid() {
            invalid_address();
        }
        let expected = self.entry.with_address(expected_address);
        let new = self.entry.with_address(new_address);
        self.atomic
            .compare_exchange(
                expected.raw(),
                new.raw(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|_| ())
            .map_err(Entry::from_raw)
    }

    /// Empties the slot if it still holds the final entry `{address, tag}` (rule I4); returns
    /// whether it did. The chain's records stay in the log: the caller decides that none of
    /// them is needed any more.
    #[inline]
    pub fn delete_if(&self, address: Address) -> bool {
        let expected = self.entry.with_address(address);
        self.atomic
            .compare_exchange(expected.raw(), 0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

#[cold]
#[inline(never)]
fn invalid_address() -> ! {
    panic!("address 0 is not a record address: an entry holds 1..=2^48-1")
}

impl HashIndex {
    /// Finds the final entry for `hash`'s tag in its chain (rule I2), or `None`.
    ///
    /// The entry's address is the newest record whose key has this bucket and tag; the caller
    /// walks the records' previous addresses to find its own key.
    ///
    /// # Errors
    /// [`Busy`] while a growth is being prepared: refresh the guard and retry.
    ///
    /// # Panics
    /// If `guard` is not a guard of this index's epoch.
    #[inline]
    pub fn find<'g>(
        &'g self,
        hash: KeyHash,
        guard: &'g Guard<'_>,
    ) -> Result<Option<EntrySlot<'g>>, Busy> {
        let table = self.table_for(hash, guard)?;
        let tag = hash.tag();
        let mut bucket = table.bucket_for(hash);
        loop {
            for slot in &bucket.entries {
                let entry = Entry::from_raw(slot.load(Ordering::Acquire));
                if entry.is_final_with_tag(tag) {
                    return Ok(Some(EntrySlot::new(slot, entry)));
                }
            }
            match table.next(bucket, Ordering::Acquire) {
                Some(next) => bucket = next,
                None => return Ok(None),
            }
        }
    }

    /// Finds the final entry for `hash`'s tag, or creates one holding [`UNSET_ADDRESS`] (rule
    /// I3). Two threads creating the same tag at once end with one entry, which both return.
    ///
    /// The caller then installs its record with [`EntrySlot::compare_exchange`] from the
    /// returned address, under the same guard.
    ///
    /// # Errors
    /// [`Busy`] while a growth is being prepared: refresh the guard and retry.
    ///
    /// # Panics
    /// If `guard` is not a guard of this index's epoch.
    pub fn find_or_create<'g>(
        &'g self,
        hash: KeyHash,
        guard: &'g Guard<'_>,
    ) -> Result<EntrySlot<'g>, Busy> {
        let table = self.table_for(hash, guard)?;
        let tag = hash.tag();
        let first = table.bucket_for(hash);
        let mut spin = Spin::new();
        loop {
            // Step 1: a final entry for the tag, or the first free slot and the last bucket.
            let mut free: Option<&AtomicU64> = None;
            let mut bucket = first;
            let last = loop {
                for slot in &bucket.entries {
                    let entry = Entry::from_raw(slot.load(Ordering::Acquire));
                    if entry.is_final_with_tag(tag) {
                        return Ok(EntrySlot::new(slot, entry));
                    }
                    if entry.is_empty() && free.is_none() {
                        free = Some(slot);
                    }
                }
                match table.next(bucket, Ordering::Acquire) {
                    Some(next) => bucket = next,
                    None => break bucket,
                }
            };
            // Step 2: no free slot: link a new overflow bucket (rule I5).
            let free = match free {
                Some(slot) => slot,
                None => match link_overflow(table, last) {
                    Some(new_bucket) => &new_bucket.entries[0],
                    None => continue,
                },
            };
            // Step 3: claim the slot with a tentative entry.
            let tentative = Entry::tentative(tag);
            if free
                .compare_exchange(0, tentative.raw(), Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
            {
                spin.spin();
                continue;
            }
            // Step 4: any other entry with this tag, tentative or final, means a competing
            // insertion (or a winner); back off and start over.
            if has_other_entry_with_tag(table, first, tag, free) {
                free.store(0, Ordering::Release);
                spin.snooze();
                continue;
            }
            // Step 5: ours is the only one; make it final.
            let entry = Entry::new(UNSET_ADDRESS, tag);
            free.store(entry.raw(), Ordering::Release);
            return Ok(EntrySlot::new(free, entry));
        }
    }
}

/// Links a fresh overflow bucket after `last` (rule I5). Returns it, or `None` when another
/// thread linked one first (ours goes back to the allocator unseen).
fn link_overflow<'t>(table: &'t Table, last: &'t Bucket) -> Option<&'t Bucket> {
    let n = table.overflow.allocate();
    // SeqCst: part of the total order the conflict check of rule I3 relies on; it also
    // releases the zeroed page to every thread that follows the link.
    match last
        .overflow
        .compare_exchange(0, n, Ordering::SeqCst, Ordering::Acquire)
    {
        Ok(_) => table.overflow.get(n),
        Err(_) => {
            table.overflow.give_back(n);
            None
        }
    }
}

/// Whether the chain starting at `first` holds an entry with `tag` in a slot other than
/// `ours` (step 4 of rule I3). Every load is SeqCst: with the SeqCst claim in step 3, of two
/// competing claims at least one thread sees the other's.
fn has_other_entry_with_tag(table: &Table, first: &Bucket, tag: u16, ours: &AtomicU64) -> bool {
    let mut bucket = first;
    loop {
        for slot in &bucket.entries {
            let entry = Entry::from_raw(slot.load(Ordering::SeqCst));
            if !entry.is_empty() && entry.tag() == tag && !std::ptr::eq(slot, ours) {
                return true;
            }
        }
        match table.next(bucket, Ordering::SeqCst) {
            Some(next) => bucket = next,
            None => return false,
        }
    }
}
