//! [`HashIndex`]: the shared state (rule G1) — the state word, the current table and the
//! growth in progress — and how an operation finds the table it works on.

use std::marker::PhantomData;

use faster_epoch::{Epoch, Guard};

use crate::config::IndexConfig;
use crate::entry::KeyHash;
use crate::error::{Busy, IndexError};
use crate::grow::GrowState;
use crate::sync::{Arc, AtomicPtr, AtomicU64, Mutex, Ordering};
use crate::table::Table;

/// Phase of the state word (rule G1): no growth.
pub(crate) const REST: u64 = 0;
/// Phase: a growth has published its new table and waits for every thread to refresh.
pub(crate) const PREPARE: u64 = 1;
/// Phase: old chunks are being split into the new table.
pub(crate) const IN_PROGRESS: u64 = 2;

const PHASE_BITS: u32 = 2;
const PHASE_MASK: u64 = (1 << PHASE_BITS) - 1;

/// The state word for `version` (number of completed growths) and `phase`.
#[inline]
pub(crate) const fn state_word(version: u64, phase: u64) -> u64 {
    (version << PHASE_BITS) | phase
}

/// The phase of a state word.
#[inline]
pub(crate) const fn phase_of(state: u64) -> u64 {
    state & PHASE_MASK
}

/// The version of a state word.
#[inline]
pub(crate) const fn version_of(state: u64) -> u64 {
    state >> PHASE_BITS
}

/// The state of one index — its state word, current table, growth in progress and growth lock —
/// shared between the index, its growth actions and its threads.
pub(crate) struct IndexState {
    /// `version << 2 | phase` (rule G1). Read first by every operation.
    pub(crate) state: AtomicU64,
    /// The table operations use at rest; owned here (rule I6).
    pub(crate) current: AtomicPtr<Table>,
    /// The growth in progress, or null; published before `PREPARE` (rule G2).
    pub(crate) grow: AtomicPtr<GrowState>,
    pub(crate) epoch: Arc<Epoch>,
    /// Held by the one running `grow` call (rule G6).
    pub(crate) grow_lock: Mutex<()>,
    /// Old tables freed by growth actions so far.
    pub(crate) tables_freed: Arc<AtomicU64>,
    pub(crate) huge_pages: bool,
}

impl Drop for IndexState {
    fn drop(&mut self) {
        // `&mut self`: no thread holds a reference obtained through this state any more, and
        // the flip action (which holds an `Arc<IndexState>`) has run.
        let grow = self.grow.swap(std::ptr::null_mut(), Ordering::Acquire);
        if !grow.is_null() {
            // SAFETY: rules G5, I6 — a non-null `grow` is a `Box` published by `grow` and not
            // yet taken by the installing thread, so its new table was never installed and is
            // owned by it; both are freed once, here.
            unsafe {
                let grow = Box::from_raw(grow);
                drop(Box::from_raw(grow.new_table_ptr()));
            }
        }
        let current = self.current.swap(std::ptr::null_mut(), Ordering::Acquire);
        if !current.is_null() {
            // SAFETY: rule I6 — `current` owns its table; it is taken out and freed once.
            drop(unsafe { Box::from_raw(current) });
        }
    }
}

/// The concurrent hash index: `2^k` cache-line buckets mapping a key's hash to the address of
/// its newest record. See the crate documentation for the protocol.
///
/// Every operation takes a [`Guard`] of the epoch given to [`HashIndex::new`]; the references
/// it returns live no longer than that guard.
pub struct HashIndex {
    pub(crate) shared: Arc<IndexState>,
}

impl std::fmt::Debug for HashIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.state.load(Ordering::Acquire);
        f.debug_struct("HashIndex")
            .field("version", &version_of(state))
            .field("phase", &phase_of(state))
            .finish_non_exhaustive()
    }
}

/// The table (or growth) an operation sees, read from the state word under a guard.
pub(crate) enum View<'g> {
    /// No growth: operations use this table.
    Rest(&'g Table),
    /// A growth is waiting for every thread to refresh (operations return [`Busy`]); the table
    /// is still the current one.
    Preparing(&'g Table),
    /// A growth is splitting chunks.
    InProgress(&'g GrowState),
}

impl HashIndex {
    /// Builds an empty index with `config`'s table, protected by `epoch` (the store shares one
    /// epoch between its log and its index).
    ///
    /// # Errors
    /// [`IndexError::NotPowerOfTwo`] or [`IndexError::TooLarge`] for a bad bucket count,
    /// [`IndexError::OutOfMemory`] when the table cannot be allocated.
    pub fn new(config: IndexConfig, epoch: Arc<Epoch>) -> Result<Self, IndexError> {
        let size_bits = config.validate()?;
        let table = Table::new(size_bits, config.uses_huge_pages())?;
        Ok(Self::from_table(table, epoch, config.uses_huge_pages()))
    }

    /// An index whose current table is `table`.
    pub(crate) fn from_table(table: Table, epoch: Arc<Epoch>, huge_pages: bool) -> Self {
        Self {
            shared: Arc::new(IndexState {
                state: AtomicU64::new(state_word(0, REST)),
                current: AtomicPtr::new(Box::into_raw(Box::new(table))),
                grow: AtomicPtr::new(std::ptr::null_mut()),
                epoch,
                grow_lock: Mutex::new(()),
                tables_freed: Arc::new(AtomicU64::new(0)),
                huge_pages,
            }),
        }
    }

    /// The epoch this index is protected by.
    pub fn epoch(&self) -> &Arc<Epoch> {
        &self.shared.epoch
    }

    /// Number of buckets of the table operations use now (not counting overflow buckets).
    ///
    /// # Panics
    /// If `guard` is not a guard of this index's epoch.
    pub fn buckets(&self, guard: &Guard<'_>) -> u64 {
        match self.view(guard) {
            View::Rest(t) | View::Preparing(t) => t.len() as u64,
            View::InProgress(g) => g.new_table().len() as u64,
        }
    }

    /// Whether the table is full enough to be worth doubling: the overflow buckets its chains
    /// use pass one eighth of its buckets (for well-spread hashes, about 70 % of its entries
    /// are then in use). Reads two counters, so it can be asked often. False while a growth
    /// is preparing or in progress.
    ///
    /// # Panics
    /// If `guard` is not a guard of this index's epoch.
    pub fn wants_growth(&self, guard: &Guard<'_>) -> bool {
        match self.view(guard) {
            View::Rest(t) => t.overflow.in_use().saturating_mul(8) > t.len() as u64,
            View::Preparing(_) | View::InProgress(_) => false,
        }
    }

    /// Panics unless `guard` protects this index's epoch: a guard of another epoch would not
    /// keep this index's memory alive.
    #[inline]
    pub(crate) fn check_guard(&self, guard: &Guard<'_>) {
        if !Arc::ptr_eq(guard.shared(), &self.shared.epoch) {
            wrong_epoch();
        }
    }

    /// The table an operation on `hash` works on; during a growth, splits the old chunk of
    /// `hash` first (rule G3).
    #[inline]
    pub(crate) fn table_for<'g>(
        &'g self,
        hash: KeyHash,
        guard: &'g Guard<'_>,
    ) -> Result<&'g Table, Busy> {
        self.check_guard(guard);
        let state = self.shared.state.load(Ordering::Acquire);
        if phase_of(state) == REST {
            let table = self.shared.current.load(Ordering::Acquire);
            // SAFETY: rules I7, G5 — the pointer was loaded under `guard`, and a table is freed
            // only by an epoch action scheduled after it stopped being current, which cannot run
            // while `guard` lives; `'g` ties the reference to the guard.
            return Ok(unsafe { &*table });
        }
        self.table_while_growing(hash, guard)
    }

    #[inline(never)]
    fn table_while_growing<'g>(
        &'g self,
        hash: KeyHash,
        guard: &'g Guard<'_>,
    ) -> Result<&'g Table, Busy> {
        match self.view(guard) {
            View::Rest(table) => Ok(table),
            View::Preparing(_) => Err(Busy),
            View::InProgress(grow) => {
                let old_index = grow.old_table().index_of(hash);
                grow.ensure_split(old_index, &self.shared);
                Ok(grow.new_table())
            }
        }
    }

    /// Reads the state word and the tables it names (rule G1).
    pub(crate) fn view<'g>(&'g self, guard: &'g Guard<'_>) -> View<'g> {
        self.check_guard(guard);
        loop {
            let state = self.shared.state.load(Ordering::Acquire);
            match phase_of(state) {
                REST | PREPARE => {
                    let table = self.shared.current.load(Ordering::Acquire);
                    // SAFETY: rules I7, G5 — as in `table_for`.
                    let table = unsafe { &*table };
                    return if phase_of(state) == REST {
                        View::Rest(table)
                    } else {
                        View::Preparing(table)
                    };
                }
                _ => {
                    let grow = self.shared.grow.load(Ordering::Acquire);
                    // Null: the growth was installed after our state load; a different
                    // version: another growth started since. Either way the state word has
                    // moved on (the swap to null follows the state store), so reload it.
                    if grow.is_null() {
                        continue;
                    }
                    // SAFETY: rules I7, G5 — a growth state is freed only by the epoch action
                    // the installing thread schedules after taking it out of `grow`; we loaded
                    // it non-null under `guard`, so that action cannot run before the guard is
                    // refreshed or dropped.
                    let grow = unsafe { &*grow };
                    if grow.version() != version_of(state) {
                        continue;
                    }
                    return View::InProgress(grow);
                }
            }
        }
    }

    /// Hints the processor to fetch the first bucket of `hash`'s chain into the cache, so that
    /// a batch of lookups can overlap their cache misses: prefetch the buckets of the next 8–16
    /// hashes, then look them up. A no-op while the table is growing and on targets without a
    /// prefetch instruction.
    ///
    /// # Panics
    /// If `guard` is not a guard of this index's epoch.
    #[inline]
    pub fn prefetch(&self, hash: KeyHash, guard: &Guard<'_>) {
        self.check_guard(guard);
        if phase_of(self.shared.state.load(Ordering::Acquire)) != REST {
            return;
        }
        let table = self.shared.current.load(Ordering::Acquire);
        // SAFETY: rules I7, G5 — as in `table_for`.
        let table = unsafe { &*table };
        prefetch_line(table.bucket_address(hash));
    }
}

/// Issues a prefetch of the cache line at `ptr`. Never faults, whatever `ptr` is.
#[inline(always)]
fn prefetch_line(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: rule I9 — `_mm_prefetch` is a hint: it never faults and never changes memory,
        // so any address is fine; SSE is part of the x86_64 baseline.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr.cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = ptr;
    }
}

#[cold]
#[inline(never)]
fn wrong_epoch() -> ! {
    panic!("the guard belongs to another epoch than the one this index was built with")
}

/// A marker that makes a type neither `Send` nor `Sync`.
pub(crate) type NotSend = PhantomData<*const ()>;
