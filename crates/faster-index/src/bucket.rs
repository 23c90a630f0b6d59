//! [`Bucket`]: one cache line of seven entries and an overflow word, and [`BucketArray`], a
//! fixed-length array of zeroed buckets (the main table, or one page of overflow buckets).
//!
//! Memory comes from [`AlignedBuf`](faster_device::AlignedBuf), with transparent huge pages
//! when asked and the array is at least 2 MiB: a lookup in a table larger than the caches costs
//! one DRAM miss, and huge pages take the page-table walk off that miss. Under loom the buckets
//! are built one by one instead, because loom's atomics are not plain words.

use crate::error::IndexError;
use crate::sync::{AtomicU64, Ordering};

/// Entries in one bucket; the eighth word is the overflow link.
pub const ENTRIES_PER_BUCKET: usize = 7;

/// Bytes of one bucket: one cache line.
pub const BUCKET_BYTES: usize = 64;

/// Alignment of a bucket array: a page, so every bucket sits on its own cache line.
#[cfg(not(loom))]
const ARRAY_ALIGNMENT: usize = 4096;

/// One cache line: seven entries (rule I1) and the index of the next bucket of the chain in the
/// table's overflow allocator, or 0 for none (rule I5).
#[repr(C, align(64))]
#[derive(Debug)]
pub(crate) struct Bucket {
    pub(crate) entries: [AtomicU64; ENTRIES_PER_BUCKET],
    pub(crate) overflow: AtomicU64,
}

#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<Bucket>() == BUCKET_BYTES);
#[cfg(not(loom))]
const _: () = assert!(std::mem::align_of::<Bucket>() == BUCKET_BYTES);

impl Bucket {
    /// The eight words of the bucket (seven entries, then the overflow word), loaded one by one
    /// with `order`. Concurrent writers may change words between the loads.
    pub(crate) fn load_words(&self, order: Ordering) -> [u64; 8] {
        let mut words = [0; 8];
        for (word, entry) in words.iter_mut().zip(&self.entries) {
            *word = entry.load(order);
        }
        words[ENTRIES_PER_BUCKET] = self.overflow.load(order);
        words
    }
}

/// A fixed number of zero-initialised buckets that never move while the array lives.
pub(crate) struct BucketArray {
    #[cfg(not(loom))]
    buf: faster_device::AlignedBuf,
    #[cfg(loom)]
    buckets: Box<[Bucket]>,
    len: usize,
}

impl std::fmt::Debug for BucketArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketArray")
            .field("len", &self.len)
            .field("huge_pages", &self.huge_pages())
            .finish()
    }
}

impl BucketArray {
    /// Allocates `len` zeroed buckets, asking for transparent huge pages when `huge_pages` is
    /// set and the array is at least 2 MiB; with `populate`, every page is faulted in now.
    ///
    /// # Errors
    /// [`IndexError::OutOfMemory`] when the size overflows or the allocator refuses.
    pub(crate) fn zeroed(len: usize, huge_pages: bool, populate: bool) -> Result<Self, IndexError> {
        let bytes = len
            .checked_mul(BUCKET_BYTES)
            .ok_or(IndexError::OutOfMemory { bytes: u64::MAX })?;
        #[cfg(not(loom))]
        {
            let buf = faster_device::AlignedBuf::options()
                .alignment(ARRAY_ALIGNMENT)
                .huge_pages(huge_pages)
                .populate(populate)
                .zeroed(bytes)
                .map_err(|_| IndexError::OutOfMemory {
                    bytes: bytes as u64,
                })?;
            Ok(Self { buf, len })
        }
        #[cfg(loom)]
        {
            let _ = (bytes, huge_pages, populate);
            let buckets = (0..len)
                .map(|_| Bucket {
                    entries: std::array::from_fn(|_| AtomicU64::new(0)),
                    overflow: AtomicU64::new(0),
                })
                .collect();
            Ok(Self { buckets, len })
        }
    }

    /// Number of buckets.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of memory held (the allocation may be rounded up to a huge page).
    pub(crate) fn bytes(&self) -> u64 {
        (self.len * BUCKET_BYTES) as u64
    }

    /// Whether the memory is backed by transparent huge pages.
    pub(crate) fn huge_pages(&self) -> bool {
        #[cfg(not(loom))]
        {
            self.buf.huge_pages()
        }
        #[cfg(loom)]
        {
            false
        }
    }

    /// The bucket at `index`, or `None` past the end.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&Bucket> {
        if index < self.len {
            // SAFETY: rule I8 — checked just above.
            Some(unsafe { self.get_unchecked(index) })
        } else {
            None
        }
    }

    /// The bucket at `index`.
    ///
    /// # Safety
    /// `index < self.len()`.
    #[inline]
    pub(crate) unsafe fn get_unchecked(&self, index: usize) -> &Bucket {
        debug_assert!(index < self.len);
        #[cfg(not(loom))]
        {
            let base = self.buf.as_ptr().cast::<Bucket>();
            // SAFETY: rules I6, I8 — the buffer never moves and lives as long as `self`. It
            // holds `len * 64` bytes, is 4096-aligned (so every bucket is 64-aligned) and was
            // zeroed at allocation; the all-zero word is a valid `AtomicU64`, so the memory
            // holds `len` valid buckets, and `index < len` by the caller's contract. All access
            // goes through atomics (interior mutability) and the buffer is never handed out as
            // `&[u8]` or `&mut [u8]`, so no reference conflicts with this one.
            unsafe { &*base.add(index) }
        }
        #[cfg(loom)]
        {
            // SAFETY: rule I8 — `index < len == buckets.len()` by the caller's contract.
            unsafe { self.buckets.get_unchecked(index) }
        }
    }

    /// The address of bucket `index`, for a prefetch hint; never dereferenced by the caller.
    #[inline]
    pub(crate) fn address_of(&self, index: usize) -> *const u8 {
        #[cfg(not(loom))]
        {
            self.buf
                .as_ptr()
                .wrapping_add(index.wrapping_mul(BUCKET_BYTES))
        }
        #[cfg(loom)]
        {
            let _ = index;
            self.buckets.as_ptr().cast()
        }
    }
}
