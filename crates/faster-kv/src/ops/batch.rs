//! Batched reads that overlap their memory misses.
//!
//! A read of a key that is not in the CPU's caches waits for two DRAM accesses one after the
//! other: the index bucket, then the record it points to (300–900 ns each on the machines this
//! was measured on). One thread can have many accesses in flight, though, so
//! [`Pinned::read_batch`] works on groups of keys in three passes: hash every key and prefetch
//! its bucket; find every entry (the buckets have arrived) and prefetch its record; then read
//! each key as usual, from caches that are now warm. Each read is still an ordinary operation
//! with its own serial number; records on the device are read as usual.

use faster_hlog::Address;
use faster_index::KeyHash;

use crate::codec::Codec;
use crate::error::OpError;
use crate::session::Pinned;

/// Keys whose misses are overlapped at a time: enough to cover the memory latency, few enough
/// that the prefetched lines are still in the cache when they are used.
pub const READ_BATCH_GROUP: usize = 16;

/// Issues a prefetch of the cache line at `ptr`; never faults.
#[inline(always)]
fn prefetch(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` is only a hint: it never faults and never changes memory, so any
    // address will do; SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'_, K, V> {
    /// Reads every key of `keys`, appending one result per key to `out`, in order — like
    /// calling [`Pinned::read`] for each, but with the memory misses of a group of
    /// [`READ_BATCH_GROUP`] keys overlapped (see the module documentation).
    ///
    /// # Errors
    /// The first error of a read; the results of the keys before it are in `out`.
    pub fn read_batch(
        &mut self,
        keys: &[&K],
        out: &mut Vec<Option<V::Owned>>,
    ) -> Result<(), OpError> {
        let mut hashes = [0u64; READ_BATCH_GROUP];
        for group in keys.chunks(READ_BATCH_GROUP) {
            {
                let (store, guard, _) = self.parts();
                for (hash, key) in hashes.iter_mut().zip(group) {
                    *hash = key.hash64()?;
                    store.index.prefetch(KeyHash(*hash), guard);
                }
                let head = store.log.head_address();
                for hash in &hashes[..group.len()] {
                    if let Ok(Some(slot)) = store.index.find(KeyHash(*hash), guard) {
                        let address = Address::from_masked(slot.address());
                        if address >= head && address >= Address::FIRST_VALID {
                            prefetch(store.log.frame_ptr(address));
                        }
                    }
                }
            }
            for key in group {
                out.push(self.read(key)?);
            }
        }
        Ok(())
    }
}
