//! Overlapping the memory misses of many operations.
//!
//! An operation on a key that is not in the CPU's caches waits for two DRAM accesses one after
//! the other: the index bucket, then the record it points to (300–900 ns each on the machines
//! this was measured on). One thread can have many accesses in flight, though. Two hints let a
//! caller that knows its next keys start those accesses early, without changing what any
//! operation does or the order they run in: [`Pinned::prefetch_bucket`] starts loading a key's
//! bucket, and [`Pinned::prefetch_record`] (once the bucket has arrived) its newest record. A
//! pipeline issues the bucket prefetch some 16 operations ahead and the record prefetch some 8
//! ahead. [`Pinned::read_batch`] does this for a slice of keys.

use faster_hlog::Address;
use faster_index::KeyHash;

use crate::codec::Codec;
use crate::error::OpError;
use crate::session::pinned::Pinned;

/// Keys whose misses are overlapped at a time: enough to cover the memory latency, few enough
/// that the prefetched lines are still in the cache when they are used.
pub const READ_BATCH_GROUP: usize = 16;

/// Issues a prefetch of the cache line at `ptr`; never faults.
#[inline(always)]
fn prefetch(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: rule R13 — `_mm_prefetch` is only a hint: it never faults and never changes
    // memory, so any address will do; SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'_, K, V> {
    /// Starts loading into the CPU's caches the index bucket of `key`. A hint: it changes no
    /// result, costs a hash, and never waits.
    ///
    /// # Errors
    /// Only if the key cannot be encoded (a serde key whose `Serialize` fails).
    #[inline]
    pub fn prefetch_bucket(&mut self, key: &K) -> Result<(), OpError> {
        let hash = KeyHash(key.hash64()?);
        let (store, guard, _) = self.parts();
        store.index.prefetch(hash, guard);
        Ok(())
    }

    /// Starts loading into the CPU's caches the newest record of `key`, if it is in memory. It
    /// reads the key's index bucket, so issue [`Pinned::prefetch_bucket`] for the key some
    /// operations earlier. A hint: it changes no result and never waits for the record.
    ///
    /// # Errors
    /// Only if the key cannot be encoded.
    #[inline]
    pub fn prefetch_record(&mut self, key: &K) -> Result<(), OpError> {
        let hash = KeyHash(key.hash64()?);
        let (store, guard, _) = self.parts();
        if let Ok(Some(slot)) = store.index.find(hash, guard) {
            let address = slot.address();
            if address >= store.log.head_address()
                && address >= Address::FIRST_VALID
                && !store.is_copy(address)
            {
                prefetch(store.log.frame_ptr(address));
            }
        }
        Ok(())
    }

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
                        let address = slot.address();
                        if address >= head
                            && address >= Address::FIRST_VALID
                            && !store.is_copy(address)
                        {
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
