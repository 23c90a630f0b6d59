//! The read cache: a second log, in memory only, holding copies of records read from the
//! device, so that a key read again is served from memory.
//!
//! A copy is an ordinary record (same layout, same header word) in one of the cache's pages.
//! Its address has [`CACHE_BIT`] set, so an index entry can point at it; its header's previous
//! address is where the entry pointed before — the newest record of the chain in the log. A
//! chain is then `entry → copy → log records …`: at most one copy, always first.
//!
//! # The rules
//!
//! - **RC1 — addresses.** A cache address is [`CACHE_BIT`] | (offset mod 2^47). Log addresses
//!   stay below 2^47 in a store with a read cache (the log refuses to grow past it,
//!   [`OpErrorKind::LogFull`](crate::OpErrorKind::LogFull)), so the bit alone tells the two
//!   apart. Only index entries hold cache addresses: a copy's previous address, and every
//!   record's in the log, is a log address.
//! - **RC2 — insertion.** A copy is written whole into freshly allocated cache memory, with
//!   the previous address read from the entry it is to replace, then published by a
//!   compare-and-swap of that entry from the value it had when the device lookup started. A
//!   lost swap (any write of the chain meanwhile) marks the copy invalid; nothing saw it.
//!   So a linked copy is always the key's newest value: every write of a chain swaps its entry.
//! - **RC3 — writers.** An upsert, RMW, delete or compaction that finds a copy first in its
//!   chain appends its record with the copy's previous address and swaps the entry from the
//!   copy's address: the copy is unlinked by the same swap that installs the new value.
//! - **RC4 — eviction.** Before the cache reuses a page, every copy in it is unlinked: its
//!   entry is swapped from the copy's address back to the copy's previous address (a swap that
//!   fails means a writer or a newer copy already replaced it). Then an epoch action marks the
//!   page free; the memory is zeroed and reused only after it ran, so a thread that loaded the
//!   copy's address from the entry before the unlinking reads valid bytes until it refreshes.
//!   A page whose copies cannot all be unlinked (the index is preparing a growth) is not
//!   freed, and insertions wait for it (they fail, and the read goes on without caching).
//! - **RC5 — reading a copy.** A cache address is dereferenced only when it was loaded from an
//!   index entry under the current guard (or compared equal to the entry under it): by RC4 the
//!   page is then neither freed nor reused while the guard lives.
//! - **RC6 — second chance.** A hit on a copy among the oldest tenth of the cache's copies copies
//!   it to the cache's tail (RC2, from the copy's own address), so hot copies are not evicted.
//! - **RC7 — checkpoints.** Copies are never written to the device: an index snapshot records
//!   each cache address as the copy's previous address, so a recovered index never holds one.
//!   Sessions of the version before a checkpoint in progress (its PREPARE phase) pass over
//!   copies, so version checks see the log's own records.
//! - **RC8 — pages.** A page is one zeroed, 4096-aligned allocation of the page size, made
//!   when the cache is created and freed once when it drops; it never moves. An address maps
//!   to its page and to an offset below the page size.

mod store;

use std::alloc::{Layout as AllocLayout, alloc_zeroed, dealloc};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use faster_hlog::Address;

use crate::record::{InMemory, Layout};

/// Bit 47 of an address: set on read-cache addresses (rule RC1).
pub(crate) const CACHE_BIT: u64 = 1 << 47;

/// The offsets of cache addresses wrap at this (rule RC1).
const OFFSET_MASK: u64 = CACHE_BIT - 1;

/// The smallest cache: four pages of 64 KiB.
pub(crate) const MIN_CACHE_BYTES: u64 = 4 << 16;

/// Whether `address` is a read-cache address (rule RC1).
#[inline(always)]
pub(crate) fn is_cached(address: Address) -> bool {
    address.raw() & CACHE_BIT != 0
}

/// Counters of the read cache, summed over its life.
#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    failed_inserts: AtomicU64,
    evictions: AtomicU64,
    second_chances: AtomicU64,
}

/// The read cache's statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadCacheStats {
    /// Bytes of memory the cache holds.
    pub bytes: u64,
    /// Reads served from a copy in the cache.
    pub hits: u64,
    /// Reads that went to the device with the cache on.
    pub misses: u64,
    /// Copies made after a device read.
    pub inserts: u64,
    /// Copies not made: the chain changed during the read, the record does not fit a cache
    /// page, or the cache had no free page yet.
    pub failed_inserts: u64,
    /// Copies unlinked when their page was reused.
    pub evictions: u64,
    /// Copies moved to the cache's tail because they were read while among its oldest.
    pub second_chances: u64,
}

/// One page of cache memory: zeroed, 4096-aligned, never moved while the cache lives.
struct Page {
    ptr: NonNull<u8>,
    layout: AllocLayout,
}

// SAFETY: rule RC4 — a page is plain memory; who may write or read which bytes when is
// governed by the allocation mutex and the epoch, not by the thread that owns the value.
unsafe impl Send for Page {}
// SAFETY: rule RC4 — as above.
unsafe impl Sync for Page {}

impl Page {
    fn new(bytes: usize) -> Option<Self> {
        let layout = AllocLayout::from_size_align(bytes, 4096).ok()?;
        // SAFETY: rule RC8 — `layout` has a non-zero size (at least 64 KiB).
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        Some(Self { ptr, layout })
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // SAFETY: rule RC8 — allocated in `Page::new` with this layout, freed once.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

/// Allocation state, under the cache's mutex.
struct Alloc {
    /// Next free offset (never wraps: cache addresses take it mod 2^47).
    tail: u64,
    /// Pages below this number have had every copy unlinked (rule RC4).
    unlinked: u64,
    /// Bytes used in each page slot, for eviction to walk its records.
    used: Vec<u64>,
}

/// The read cache's memory, allocation and counters; the store's side (copying, eviction,
/// lookups) is in [`store`].
pub(crate) struct ReadCache {
    pages: Box<[Page]>,
    page_bits: u32,
    alloc: Mutex<Alloc>,
    /// `Alloc::tail`, for the second-chance test (rule RC6) without the mutex.
    tail: AtomicU64,
    /// Pages below this number may be reused: set by epoch actions (rule RC4).
    freed: Arc<AtomicU64>,
    counters: Counters,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("pages", &self.pages.len())
            .field("page_bytes", &(1u64 << self.page_bits))
            .finish()
    }
}

impl ReadCache {
    /// A cache of about `bytes` (rounded down to a power-of-two number of pages, at least
    /// four); `None` when the memory cannot be had.
    pub(crate) fn new(bytes: u64) -> Option<Self> {
        let bytes = bytes.max(MIN_CACHE_BYTES);
        // Pages of 1 MiB, or smaller so that there are at least 16 of them.
        let page_bits = (bytes / 16).clamp(1 << 16, 1 << 20).ilog2();
        let count = (bytes >> page_bits).max(4);
        let count = 1u64 << count.ilog2();
        let pages = (0..count)
            .map(|_| Page::new(1 << page_bits))
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            pages: pages.into_boxed_slice(),
            page_bits,
            // Page 0 stays empty: no copy has an offset below a page, so none has the
            // address of a sentinel.
            alloc: Mutex::new(Alloc {
                tail: 1 << page_bits,
                unlinked: 0,
                used: vec![0; count as usize],
            }),
            tail: AtomicU64::new(1 << page_bits),
            freed: Arc::new(AtomicU64::new(0)),
            counters: Counters::default(),
        })
    }

    fn page_bytes(&self) -> u64 {
        1 << self.page_bits
    }

    fn capacity(&self) -> u64 {
        self.page_bytes() * self.pages.len() as u64
    }

    /// The page frame and in-page offset of a cache address.
    fn locate(&self, address: Address) -> (usize, usize) {
        let offset = address.raw() & OFFSET_MASK;
        let slot = (offset >> self.page_bits) as usize & (self.pages.len() - 1);
        (slot, (offset & (self.page_bytes() - 1)) as usize)
    }

    /// A pointer to the record at cache address `address`.
    #[inline]
    pub(crate) fn ptr(&self, address: Address) -> *mut u8 {
        let (slot, within) = self.locate(address);
        // SAFETY: rule RC8 — `within` is below the page size, the size of every page.
        unsafe { self.pages[slot].ptr.as_ptr().add(within) }
    }

    /// Whether the copy at `address` is among the oldest tenth of the copies the cache holds
    /// (rule RC6). Copies live through all pages but one (the page after the tail's is
    /// emptied ahead of it, rule RC4).
    #[inline]
    pub(crate) fn is_old(&self, address: Address) -> bool {
        let tail = self.tail.load(Ordering::Relaxed) & OFFSET_MASK;
        let age = tail.wrapping_sub(address.raw() & OFFSET_MASK) & OFFSET_MASK;
        let span = self.page_bytes() * (self.pages.len() as u64 - 1);
        age > span / 10 * 9
    }

    /// The statistics.
    pub(crate) fn stats(&self) -> ReadCacheStats {
        let c = &self.counters;
        ReadCacheStats {
            bytes: self.capacity(),
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            inserts: c.inserts.load(Ordering::Relaxed),
            failed_inserts: c.failed_inserts.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            second_chances: c.second_chances.load(Ordering::Relaxed),
        }
    }

    /// The key hash and previous address of the copy at `address`, for an index growth that
    /// splits its entry. `address` came from an index entry under a guard (rule RC5).
    pub(crate) fn hash_and_previous(&self, address: Address, layout: Layout) -> (u64, Address) {
        // SAFETY: rules RC4, RC5 — the copy's page stays while the caller's guard lives, and
        // the copy and the hash word after it were written whole before publication (RC2).
        unsafe {
            let copy = InMemory::new(self.ptr(address), layout);
            let size = layout.record_size(copy.key().len(), copy.value_len());
            let hash = std::ptr::read(self.ptr(address).add(size).cast::<u64>());
            (hash, copy.header().previous())
        }
    }

    pub(crate) fn count_hit(&self) {
        self.counters.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_miss(&self) {
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
    }
}

/// The cache address of `offset` (rule RC1).
fn cache_address(offset: u64) -> Address {
    Address::from_masked(CACHE_BIT | (offset & OFFSET_MASK))
}

/// The value of a copy, into `out` (replacing what it held).
pub(crate) fn copy_value(copy: InMemory, out: &mut Vec<u8>) {
    match copy.read_word() {
        Some((bytes, len)) => {
            out.clear();
            out.extend_from_slice(&bytes[..len.min(8)]);
        }
        None => copy.read_value(out),
    }
}
