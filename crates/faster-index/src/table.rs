//! [`Table`]: one generation of the hash table — `2^k` buckets plus the overflow buckets their
//! chains reach — and the walk along a chain.

use crate::bucket::{Bucket, BucketArray, ENTRIES_PER_BUCKET};
use crate::entry::{Entry, KeyHash};
use crate::error::IndexError;
use crate::overflow::OverflowAllocator;
use crate::sync::Ordering;

/// One generation of the table. It is reached through the index's state (rule G1) and freed
/// only by an epoch action once no thread can reach it (rule I6).
#[derive(Debug)]
pub(crate) struct Table {
    buckets: BucketArray,
    /// `buckets.len() - 1`; the length is a power of two.
    mask: u64,
    size_bits: u32,
    pub(crate) overflow: OverflowAllocator,
}

impl Table {
    /// A table of `2^size_bits` empty buckets.
    ///
    /// # Errors
    /// [`IndexError::OutOfMemory`] when the buckets cannot be allocated.
    pub(crate) fn new(size_bits: u32, huge_pages: bool) -> Result<Self, IndexError> {
        let len = 1usize
            .checked_shl(size_bits)
            .ok_or(IndexError::OutOfMemory { bytes: u64::MAX })?;
        Ok(Self {
            // Faulted in now: the table is then touched at random, and on a large one the first
            // pass would otherwise spend most of its time waiting for the kernel to zero pages.
            buckets: BucketArray::zeroed(len, huge_pages, true)?,
            mask: len as u64 - 1,
            size_bits,
            overflow: OverflowAllocator::new(huge_pages),
        })
    }

    /// Number of buckets (not counting overflow buckets).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }

    /// `log2(len())`.
    pub(crate) fn size_bits(&self) -> u32 {
        self.size_bits
    }

    /// Bytes of bucket memory: table and overflow pages.
    pub(crate) fn bytes(&self) -> u64 {
        self.buckets.bytes() + self.overflow.bytes()
    }

    /// Whether the main array is backed by transparent huge pages.
    pub(crate) fn huge_pages(&self) -> bool {
        self.buckets.huge_pages()
    }

    /// The index of the bucket `hash` falls in.
    #[inline]
    pub(crate) fn index_of(&self, hash: KeyHash) -> usize {
        hash.bucket(self.mask)
    }

    /// The first bucket of the chain `hash` falls in.
    #[inline]
    pub(crate) fn bucket_for(&self, hash: KeyHash) -> &Bucket {
        // SAFETY: rule I8 — `hash & mask < len` because `len` is a power of two and
        // `mask = len - 1`.
        unsafe { self.buckets.get_unchecked(self.index_of(hash)) }
    }

    /// The first bucket of chain `index`, or `None` past the end.
    #[inline]
    pub(crate) fn bucket(&self, index: usize) -> Option<&Bucket> {
        self.buckets.get(index)
    }

    /// The address of the first bucket of `hash`'s chain, for a prefetch.
    #[inline]
    pub(crate) fn bucket_address(&self, hash: KeyHash) -> *const u8 {
        self.buckets.address_of(self.index_of(hash))
    }

    /// The bucket after `bucket` in its chain, loading the overflow word with `order`.
    #[inline]
    pub(crate) fn next(&self, bucket: &Bucket, order: Ordering) -> Option<&Bucket> {
        let link = bucket.overflow.load(order);
        if link == 0 {
            None
        } else {
            self.overflow.get(link)
        }
    }

    /// Every entry of chain `index` with its slot, read with acquire loads. The chain may
    /// change while it is walked; each entry is one consistent word.
    pub(crate) fn chain_entries(
        &self,
        index: usize,
    ) -> impl Iterator<Item = (Entry, &crate::sync::AtomicU64)> + '_ {
        let mut bucket = self.bucket(index);
        let mut slot = 0;
        std::iter::from_fn(move || {
            loop {
                let b = bucket?;
                if slot < ENTRIES_PER_BUCKET {
                    let atomic = &b.entries[slot];
                    slot += 1;
                    return Some((Entry::from_raw(atomic.load(Ordering::Acquire)), atomic));
                }
                bucket = self.next(b, Ordering::Acquire);
                slot = 0;
            }
        })
    }

    /// Number of buckets in chain `index`, the first included.
    pub(crate) fn chain_len(&self, index: usize) -> u64 {
        let mut bucket = self.bucket(index);
        let mut n = 0;
        while let Some(b) = bucket {
            n += 1;
            bucket = self.next(b, Ordering::Acquire);
        }
        n
    }
}

/// Appends entries to a chain that only the calling thread writes: a chain of a new table
/// during its chunk's split (rule G3), or a table being rebuilt from a snapshot.
pub(crate) struct ChainFiller<'t> {
    table: &'t Table,
    bucket: &'t Bucket,
    slot: usize,
}

impl<'t> ChainFiller<'t> {
    /// Starts at the first slot of chain `index`, which must be empty.
    pub(crate) fn new(table: &'t Table, index: usize) -> Option<Self> {
        Some(Self {
            table,
            bucket: table.bucket(index)?,
            slot: 0,
        })
    }

    /// Appends `entry`, linking a new overflow bucket when the current one is full. The
    /// stores are relaxed: the caller publishes the chain with one release store afterwards.
    pub(crate) fn push(&mut self, entry: Entry) {
        if self.slot == ENTRIES_PER_BUCKET {
            let n = self.table.overflow.allocate();
            self.bucket.overflow.store(n, Ordering::Relaxed);
            // The page of `n` exists: `allocate` created it before returning.
            self.bucket = match self.table.overflow.get(n) {
                Some(b) => b,
                None => unreachable!("an allocated overflow bucket has a page"),
            };
            self.slot = 0;
        }
        self.bucket.entries[self.slot].store(entry.raw(), Ordering::Relaxed);
        self.slot += 1;
    }
}
