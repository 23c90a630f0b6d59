//! [`OverflowAllocator`]: the buckets that extend a chain past its first bucket.
//!
//! Buckets are numbered from 1 (0 in an overflow word means "no next bucket") and live in
//! pages that double in size: page 0 holds buckets 1–512, page 1 the next 1024, page 2 the
//! next 2048, and so on. The directory of pages is a fixed array of pointers, so a page never moves
//! once published, the directory never needs to grow, and finding bucket `n` is a
//! leading-zeros count and one pointer load. Pages are created on first use and freed only
//! when the allocator drops, that is with its table (rule I6).
//!
//! A bucket handed out but never linked into a chain (the loser of the linking race of rule
//! I5) goes back on a free list at once: no other thread has seen it. Linked buckets are never
//! unlinked, so nothing else is ever freed early.

use crate::bucket::{Bucket, BucketArray};
use crate::sync::{AtomicPtr, AtomicU64, AtomicUsize, Mutex, Ordering, lock};

/// Buckets in the first page (32 KiB); page `k` holds `FIRST_PAGE_BUCKETS << k`.
const FIRST_PAGE_BITS: u32 = 9;
const FIRST_PAGE_BUCKETS: u64 = 1 << FIRST_PAGE_BITS;

/// Number of pages in the directory: room for about 2^41 overflow buckets (128 TiB).
const PAGES: usize = 32;

/// The largest bucket number this allocator can hand out.
pub(crate) const MAX_OVERFLOW_BUCKETS: u64 = (FIRST_PAGE_BUCKETS << PAGES) - FIRST_PAGE_BUCKETS;

/// Where bucket `n` (≥ 1) lives: its page and its index inside the page.
#[inline]
fn locate(n: u64) -> (usize, usize) {
    let m = n + (FIRST_PAGE_BUCKETS - 1);
    let page = (63 - m.leading_zeros() - FIRST_PAGE_BITS) as usize;
    let offset = m - (FIRST_PAGE_BUCKETS << page);
    (page, offset as usize)
}

/// Number of buckets in page `page`.
fn page_len(page: usize) -> usize {
    (FIRST_PAGE_BUCKETS << page) as usize
}

/// A concurrent allocator of overflow buckets for one table.
pub(crate) struct OverflowAllocator {
    /// Page `k`, or null until first used. Set once by CAS, freed in `Drop` only.
    pages: [AtomicPtr<BucketArray>; PAGES],
    /// The next bucket number never handed out; starts at 1.
    next: AtomicU64,
    /// Buckets handed out and returned unlinked; they are still zero.
    free: Mutex<Vec<u64>>,
    /// `free.len()`, readable without the lock.
    free_count: AtomicUsize,
    huge_pages: bool,
}

impl std::fmt::Debug for OverflowAllocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverflowAllocator")
            .field("allocated", &self.high_water())
            .field("free", &self.free_count.load(Ordering::Relaxed))
            .finish()
    }
}

impl OverflowAllocator {
    /// An empty allocator; pages are allocated on demand, with huge pages for those of at
    /// least 2 MiB when `huge_pages` is set.
    pub(crate) fn new(huge_pages: bool) -> Self {
        Self {
            pages: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            next: AtomicU64::new(1),
            free: Mutex::new(Vec::new()),
            free_count: AtomicUsize::new(0),
            huge_pages,
        }
    }

    /// Bucket numbers handed out so far: every linked bucket is in `1..=high_water()`.
    pub(crate) fn high_water(&self) -> u64 {
        self.next.load(Ordering::Acquire) - 1
    }

    /// Buckets handed out and not given back (approximate while others allocate).
    pub(crate) fn in_use(&self) -> u64 {
        self.high_water()
            .saturating_sub(self.free_count.load(Ordering::Acquire) as u64)
    }

    /// Bytes held by the pages allocated so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.pages
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.load(Ordering::Acquire).is_null())
            .map(|(k, _)| (page_len(k) * crate::bucket::BUCKET_BYTES) as u64)
            .sum()
    }

    /// Hands out a zeroed bucket and returns its number (≥ 1).
    ///
    /// Allocation failure aborts through [`std::alloc::handle_alloc_error`], as a failed
    /// `Vec` growth does: an insertion has no way to report it, and continuing would lose the
    /// entry.
    pub(crate) fn allocate(&self) -> u64 {
        if self.free_count.load(Ordering::Acquire) > 0 {
            let mut free = lock(&self.free);
            if let Some(n) = free.pop() {
                self.free_count.store(free.len(), Ordering::Release);
                return n;
            }
        }
        let n = self.next.fetch_add(1, Ordering::AcqRel);
        if n > MAX_OVERFLOW_BUCKETS {
            abort_out_of_memory(usize::MAX);
        }
        let (page, _) = locate(n);
        self.ensure_page(page);
        n
    }

    /// Returns bucket `n`, handed out by [`allocate`](Self::allocate) and never linked into a
    /// chain, so that the next allocation reuses it (rule I5). It must still be all zero.
    pub(crate) fn give_back(&self, n: u64) {
        debug_assert!(
            self.get(n)
                .is_some_and(|b| b.load_words(Ordering::Relaxed) == [0; 8]),
            "a bucket given back must be unused"
        );
        let mut free = lock(&self.free);
        free.push(n);
        self.free_count.store(free.len(), Ordering::Release);
    }

    /// Makes sure page `page` exists. The thread that loses the race to create it drops its
    /// copy; the winner's pointer is never replaced (rule I6).
    fn ensure_page(&self, page: usize) {
        if !self.pages[page].load(Ordering::Acquire).is_null() {
            return;
        }
        let len = page_len(page);
        let array = match BucketArray::zeroed(len, self.huge_pages, false) {
            Ok(array) => array,
            Err(_) => abort_out_of_memory(len * crate::bucket::BUCKET_BYTES),
        };
        let fresh = Box::into_raw(Box::new(array));
        // AcqRel: Release publishes the zeroed page to every thread that later loads the
        // pointer with Acquire; Acquire on failure makes the winner's page visible here.
        if self.pages[page]
            .compare_exchange(
                std::ptr::null_mut(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // SAFETY: rule I6 — a page is published once; `fresh` came from `Box::into_raw`
            // above and lost that race, so no other thread has seen it.
            drop(unsafe { Box::from_raw(fresh) });
        }
    }

    /// Bucket `n`, or `None` when `n` is 0 or its page does not exist (yet).
    ///
    /// A number read from an overflow word always has its page: the linking thread created
    /// the page before its release CAS of the link, and the reader loaded the link with
    /// acquire (rule I5).
    #[inline]
    pub(crate) fn get(&self, n: u64) -> Option<&Bucket> {
        if n == 0 || n > MAX_OVERFLOW_BUCKETS {
            return None;
        }
        let (page, offset) = locate(n);
        let ptr = self.pages[page].load(Ordering::Acquire);
        if ptr.is_null() {
            return None;
        }
        // SAFETY: rule I6 — a non-null page pointer was published by `ensure_page` from a live
        // `Box` and is freed only by `Drop`, which needs `&mut self`; so it is valid for as long
        // as `&self` is borrowed.
        let array = unsafe { &*ptr };
        array.get(offset)
    }
}

impl Drop for OverflowAllocator {
    fn drop(&mut self) {
        for page in &self.pages {
            let ptr = page.swap(std::ptr::null_mut(), Ordering::Acquire);
            if !ptr.is_null() {
                // SAFETY: rule I6 — `ptr` came from `Box::into_raw` in `ensure_page`, was
                // published once and is taken out here once; `&mut self` means no reference into
                // it remains.
                drop(unsafe { Box::from_raw(ptr) });
            }
        }
    }
}

/// Reports an allocation of `bytes` that failed, the way the standard collections do.
#[cold]
fn abort_out_of_memory(bytes: usize) -> ! {
    let layout = std::alloc::Layout::from_size_align(bytes.min(isize::MAX as usize), 64)
        .unwrap_or(std::alloc::Layout::new::<Bucket>());
    std::alloc::handle_alloc_error(layout)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn locate_numbers_pages_by_doubling_sizes() {
        assert_eq!(locate(1), (0, 0));
        assert_eq!(locate(512), (0, 511));
        assert_eq!(locate(513), (1, 0));
        assert_eq!(locate(1536), (1, 1023));
        assert_eq!(locate(1537), (2, 0));
        assert_eq!(locate(3584), (2, 2047));
        assert_eq!(locate(3585), (3, 0));
        assert_eq!(locate(MAX_OVERFLOW_BUCKETS).0, PAGES - 1);
    }

    #[test]
    fn allocated_buckets_are_distinct_zeroed_and_reused_after_give_back() {
        let a = OverflowAllocator::new(false);
        let numbers: Vec<u64> = (0..1500).map(|_| a.allocate()).collect();
        assert_eq!(numbers, (1..=1500).collect::<Vec<_>>());
        for &n in &numbers {
            let b = a.get(n).unwrap();
            assert_eq!(b.load_words(Ordering::Relaxed), [0; 8]);
            b.entries[0].store(n, Ordering::Relaxed);
        }
        for &n in &numbers {
            assert_eq!(a.get(n).unwrap().entries[0].load(Ordering::Relaxed), n);
        }
        let fresh = a.allocate();
        a.give_back(fresh);
        assert_eq!(a.allocate(), fresh);
        assert_eq!(a.high_water(), 1501);
        assert!(a.get(0).is_none());
        assert!(a.get(5000).is_none());
    }
}
