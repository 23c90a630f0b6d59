//! Doubling the table while operations continue (rules G1–G6): [`HashIndex::grow`],
//! [`HashIndex::help_grow`], the split of one chunk of old buckets, and the installation of
//! the new table.

use std::panic::{AssertUnwindSafe, catch_unwind};

use faster_address::Address;
use faster_epoch::Guard;

use crate::config::MAX_TABLE_SIZE_BITS;
use crate::entry::{Entry, KeyHash, UNSET_ADDRESS};
use crate::error::IndexError;
use crate::index::{
    HashIndex, IN_PROGRESS, IndexState, PREPARE, REST, View, phase_of, state_word, version_of,
};
use crate::sync::{Arc, AtomicU8, AtomicU64, AtomicUsize, Ordering, Spin, try_lock};
use crate::table::{ChainFiller, Table};

/// Old buckets split as one unit: 256 buckets, 16 KiB.
pub(crate) const GROW_CHUNK_BUCKETS: usize = 256;

/// Chunk state (rule G3): nobody has claimed it.
const UNSPLIT: u8 = 0;
/// Chunk state: one thread is splitting it.
const SPLITTING: u8 = 1;
/// Chunk state: its entries are in the new table.
const SPLIT: u8 = 2;

/// What the log knows about the record at an address, as a growth needs it (rule G4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordLookup {
    /// The record's key is known (from memory, or read back from the device by a resolver
    /// that may do I/O): the hash of its key and the address of the previous record
    /// of its chain ([`Address::INVALID`] or [`UNSET_ADDRESS`] when it is the first).
    InMemory {
        /// The hash of the record's key.
        hash: KeyHash,
        /// The previous record in the chain.
        previous_address: Address,
    },
    /// The record is only on the device: its key is unknown without I/O.
    OnDevice,
    /// No record lives there any more (the log was truncated above it).
    Gone,
}

/// How a growth learns which half of the new table a record belongs to: called with a record
/// address, it answers from the log (rule G4). It must not block on the index, and should
/// not panic (a panic counts as [`RecordLookup::OnDevice`]).
pub type Resolver = std::sync::Arc<dyn Fn(Address) -> RecordLookup + Send + Sync>;

/// One growth: the old and new tables and the split state of each chunk (rules G2–G5).
pub(crate) struct GrowState {
    /// The version being grown from.
    version: u64,
    /// The current table when the growth started; owned by `IndexState::current` until the
    /// install, then by the retire action.
    old: *const Table,
    /// The new table; owned here until the install, then by `IndexState::current`.
    new: *mut Table,
    chunks: Box<[AtomicU8]>,
    /// Where helpers look for the next chunk to claim.
    next_chunk: AtomicUsize,
    /// Chunks not split yet.
    pending: AtomicUsize,
    resolver: Resolver,
}

impl GrowState {
    /// The version this growth started from.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// The table being split.
    pub(crate) fn old_table(&self) -> &Table {
        // SAFETY: rule G5 — the old table is freed by the same action as this growth state,
        // so it lives at least as long as `&self`.
        unsafe { &*self.old }
    }

    /// The table being filled.
    pub(crate) fn new_table(&self) -> &Table {
        // SAFETY: rule G5 — the new table is owned by this state until installed, then by
        // `IndexState::current`, and is freed only by a later growth's retire action, which waits
        // for every guard that could have reached this state.
        unsafe { &*self.new }
    }

    /// The raw new table, for `IndexState::drop` of a growth that was never installed.
    pub(crate) fn new_table_ptr(&self) -> *mut Table {
        self.new
    }

    /// Whether the chunk holding old bucket `old_index` has been split.
    pub(crate) fn is_split(&self, old_index: usize) -> bool {
        self.chunks
            .get(old_index / GROW_CHUNK_BUCKETS)
            .is_some_and(|c| c.load(Ordering::Acquire) == SPLIT)
    }

    /// Makes sure the chunk holding old bucket `old_index` is split, splitting it here or
    /// waiting for the thread that claimed it (rule G3).
    pub(crate) fn ensure_split(&self, old_index: usize, shared: &IndexState) {
        let chunk = old_index / GROW_CHUNK_BUCKETS;
        let Some(state) = self.chunks.get(chunk) else {
            return;
        };
        let mut spin = Spin::new();
        loop {
            match state.load(Ordering::Acquire) {
                SPLIT => return,
                UNSPLIT => {
                    if state
                        .compare_exchange(UNSPLIT, SPLITTING, Ordering::Acquire, Ordering::Acquire)
                        .is_ok()
                    {
                        self.split_and_count(chunk, shared);
                        return;
                    }
                }
                _ => spin.snooze(),
            }
        }
    }

    /// Claims the next unclaimed chunk, for a helper.
    fn claim_next(&self) -> Option<usize> {
        loop {
            let chunk = self.next_chunk.fetch_add(1, Ordering::Relaxed);
            let state = self.chunks.get(chunk)?;
            if state
                .compare_exchange(UNSPLIT, SPLITTING, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Some(chunk);
            }
        }
    }

    /// Splits a chunk this thread claimed, marks it split and, if it was the last, installs
    /// the new table (rule G5).
    fn split_and_count(&self, chunk: usize, shared: &IndexState) {
        self.split_chunk(chunk);
        // Release: the new buckets written by the split happen before any operation that
        // sees SPLIT with acquire (rule G3).
        self.chunks[chunk].store(SPLIT, Ordering::Release);
        // AcqRel: the last decrement acquires every other splitter's writes (their
        // decrements form one release sequence), so the installed table is complete.
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.install(shared);
        }
    }

    /// Moves the entries of old chunk `chunk` into the new table (rule G4).
    fn split_chunk(&self, chunk: usize) {
        let old = self.old_table();
        let new = self.new_table();
        let old_len = old.len();
        let start = chunk * GROW_CHUNK_BUCKETS;
        let end = (start + GROW_CHUNK_BUCKETS).min(old_len);
        for index in start..end {
            let (Some(mut low), Some(mut high)) = (
                ChainFiller::new(new, index),
                ChainFiller::new(new, index + old_len),
            ) else {
                continue;
            };
            for (entry, _) in old.chain_entries(index) {
                self.split_entry(entry, old_len as u64, &mut low, &mut high);
            }
        }
    }

    /// Places one old entry in the new table (rule G4).
    fn split_entry<'t>(
        &self,
        entry: Entry,
        old_len: u64,
        low: &mut ChainFiller<'t>,
        high: &mut ChainFiller<'t>,
    ) {
        if entry.is_empty() || entry.is_tentative() || entry.address() <= UNSET_ADDRESS {
            return;
        }
        let high_side = |hash: KeyHash| hash.0 & old_len != 0;
        match self.lookup(entry.address()) {
            RecordLookup::Gone => {}
            RecordLookup::OnDevice => {
                low.push(entry);
                high.push(entry);
            }
            RecordLookup::InMemory {
                hash,
                previous_address,
            } => {
                let side = high_side(hash);
                let other = self.trace_back_for_other_side(
                    entry.address(),
                    previous_address,
                    side,
                    old_len,
                );
                let (own, theirs) = if side { (high, low) } else { (low, high) };
                own.push(entry);
                if let Some(address) = other {
                    theirs.push(Entry::new(address, entry.tag()));
                }
            }
        }
    }

    /// Walks back from `from` for the newest record of the chain whose key falls on the other
    /// side than `side`, or whose key is unknown (on the device). `None` when the chain ends
    /// first (rule G4).
    fn trace_back_for_other_side(
        &self,
        start: Address,
        mut from: Address,
        side: bool,
        old_len: u64,
    ) -> Option<Address> {
        let mut newer = start;
        // A chain runs from newer to older records; an address that does not go down is a
        // broken answer of the resolver, and ends the walk rather than looping.
        while from > UNSET_ADDRESS && from < newer {
            match self.lookup(from) {
                RecordLookup::Gone => return None,
                RecordLookup::OnDevice => return Some(from),
                RecordLookup::InMemory {
                    hash,
                    previous_address,
                } => {
                    if (hash.0 & old_len != 0) != side {
                        return Some(from);
                    }
                    newer = from;
                    from = previous_address;
                }
            }
        }
        None
    }

    fn lookup(&self, address: Address) -> RecordLookup {
        let resolver = &self.resolver;
        match catch_unwind(AssertUnwindSafe(|| resolver(address))) {
            Ok(answer) => answer,
            Err(_) => {
                tracing::warn!("the growth resolver panicked at address {address}");
                RecordLookup::OnDevice
            }
        }
    }

    /// Installs the new table and schedules the freeing of the old one (rule G5).
    fn install(&self, shared: &IndexState) {
        shared.current.store(self.new, Ordering::Release);
        shared
            .state
            .store(state_word(self.version + 1, REST), Ordering::Release);
        let grow = shared.grow.swap(std::ptr::null_mut(), Ordering::AcqRel);
        debug_assert!(std::ptr::eq(grow, self));
        let retired = Retired {
            table: self.old.cast_mut(),
            grow,
            freed: Arc::clone(&shared.tables_freed),
        };
        shared.epoch.bump_with(move || retired.free());
    }
}

/// The old table and growth state, handed to the epoch to free (rule G5).
struct Retired {
    table: *mut Table,
    grow: *mut GrowState,
    freed: Arc<AtomicU64>,
}

// SAFETY: rules G5, I6 — `Retired` owns the table and growth state it points to (nobody else
// frees them), and both are `Send` data (atomics and owned buffers); the raw pointers only defer
// the freeing.
unsafe impl Send for Retired {}

impl Retired {
    fn free(self) {
        // SAFETY: rule G5 — both came from `Box::into_raw`, were unlinked from the shared
        // state before the bump that scheduled this action, and the action runs once, after
        // every guard that could have reached them is gone.
        unsafe {
            drop(Box::from_raw(self.grow));
            drop(Box::from_raw(self.table));
        }
        self.freed.fetch_add(1, Ordering::Release);
    }
}

impl HashIndex {
    /// Doubles the table while other threads keep operating (rules G1–G6). Returns the new
    /// number of buckets once the new table is installed and the old one freed.
    ///
    /// `guard` is refreshed while waiting — for every thread protected before the start to
    /// refresh, and for the old table's freeing — so it must be the outermost guard of its
    /// handle, and every other protected thread must keep refreshing (as it must anyway for
    /// the epoch to progress). `resolver` tells which half of the new table each record
    /// belongs to. Other threads split the chunks their operations touch and may call
    /// [`help_grow`](Self::help_grow).
    ///
    /// # Errors
    /// [`IndexError::GrowInProgress`] when another growth runs, [`IndexError::NestedGuard`],
    /// [`IndexError::TooLarge`] beyond 2^[`MAX_TABLE_SIZE_BITS`] buckets,
    /// [`IndexError::OutOfMemory`]. On error nothing changed.
    ///
    /// # Panics
    /// If `guard` is not a guard of this index's epoch.
    pub fn grow(&self, guard: &mut Guard<'_>, resolver: Resolver) -> Result<u64, IndexError> {
        self.check_guard(guard);
        let shared = &*self.shared;
        let Some(_running) = try_lock(&shared.grow_lock) else {
            return Err(IndexError::GrowInProgress);
        };
        // A nested guard cannot move its slot's epoch: detect it before changing anything.
        let target = shared.epoch.bump();
        guard.refresh();
        if guard.epoch() < target {
            return Err(IndexError::NestedGuard);
        }
        let state = shared.state.load(Ordering::Acquire);
        if phase_of(state) != REST {
            return Err(IndexError::GrowInProgress);
        }
        let version = version_of(state);
        let freed_before = shared.tables_freed.load(Ordering::Acquire);
        let (grow, new_len) = {
            let old = match self.view(guard) {
                View::Rest(table) => table,
                _ => return Err(IndexError::GrowInProgress),
            };
            let size_bits = old.size_bits() + 1;
            if size_bits > MAX_TABLE_SIZE_BITS {
                return Err(IndexError::TooLarge {
                    size_bits,
                    max_bits: MAX_TABLE_SIZE_BITS,
                });
            }
            let new = Table::new(size_bits, shared.huge_pages)?;
            let chunk_count = old.len().div_ceil(GROW_CHUNK_BUCKETS);
            let new_len = new.len() as u64;
            let grow = Box::new(GrowState {
                version,
                old: std::ptr::from_ref(old),
                new: Box::into_raw(Box::new(new)),
                chunks: (0..chunk_count).map(|_| AtomicU8::new(UNSPLIT)).collect(),
                next_chunk: AtomicUsize::new(0),
                pending: AtomicUsize::new(chunk_count),
                resolver,
            });
            (grow, new_len)
        };
        // Rule G2: publish the growth, then PREPARE, then the flip as an epoch action.
        shared.grow.store(Box::into_raw(grow), Ordering::Release);
        shared
            .state
            .store(state_word(version, PREPARE), Ordering::SeqCst);
        let flip = Arc::clone(&self.shared);
        shared.epoch.bump_with(move || {
            flip.state
                .store(state_word(version, IN_PROGRESS), Ordering::Release);
        });
        let mut spin = Spin::new();
        while phase_of(shared.state.load(Ordering::Acquire)) == PREPARE {
            guard.refresh();
            spin.snooze();
        }
        // Split chunks until none is left to claim, refreshing between chunks so that a long
        // growth does not hold back the epoch.
        let mut chunks_done = 0u64;
        while self.help_grow(guard) {
            chunks_done += 1;
            if chunks_done.is_multiple_of(16) {
                guard.refresh();
            }
        }
        // Wait for chunks other threads claimed, then for the old table's freeing (rule G6).
        let mut spin = Spin::new();
        while version_of(shared.state.load(Ordering::Acquire)) == version {
            spin.snooze();
        }
        let mut spin = Spin::new();
        while shared.tables_freed.load(Ordering::Acquire) == freed_before {
            guard.refresh();
            spin.snooze();
        }
        Ok(new_len)
    }

    /// Splits one chunk of the growth in progress, if any is left unclaimed; returns whether
    /// it did. Threads may call it after a refresh to speed a growth up.
    ///
    /// # Panics
    /// If `guard` is not a guard of this index's epoch.
    pub fn help_grow(&self, guard: &Guard<'_>) -> bool {
        match self.view(guard) {
            View::InProgress(grow) => match grow.claim_next() {
                Some(chunk) => {
                    grow.split_and_count(chunk, &self.shared);
                    true
                }
                None => false,
            },
            _ => false,
        }
    }
}
