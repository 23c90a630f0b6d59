//! The store's side of the read cache: following a chain past a copy, making copies,
//! giving them a second chance and unlinking them before their page is reused.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use faster_epoch::Guard;
use faster_hlog::Address;
use faster_index::KeyHash;

use super::{CACHE_BIT, ReadCache, cache_address, copy_value, is_cached};
use crate::codec::Codec;
use crate::record::{self, Header, INVALID, InMemory};
use crate::store::Store;

/// Bytes kept after each copy: the key's hash, for eviction to find its entry (rule RC4).
const HASH_BYTES: u64 = 8;

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// Whether `address`, taken from an index entry, is a copy in the read cache (rule RC1).
    #[inline(always)]
    pub(crate) fn is_copy(&self, address: Address) -> bool {
        self.read_cache.is_some() && is_cached(address)
    }

    /// The copy at `address` (rule RC5: loaded from an entry under `guard`). `None` without a
    /// read cache.
    #[inline]
    pub(crate) fn copy_at(&self, address: Address, guard: &Guard<'_>) -> Option<InMemory> {
        let _ = guard;
        let cache = self.read_cache.as_ref()?;
        // SAFETY: rules RC4, RC5 — the address was loaded from (or compared equal to) an index
        // entry under `guard`, so its page is neither freed nor reused while the guard lives;
        // the copy was written whole before the swap that published it (RC2).
        Some(unsafe { InMemory::new(cache.ptr(address), Self::LAYOUT) })
    }

    /// Where the chain of an entry holding `entry` goes on in the log: `entry` itself, or the
    /// previous address of the copy it points at (rule RC3). `entry` was loaded from the
    /// index under `guard`, or compared equal to it (RC5).
    #[inline(always)]
    pub(crate) fn skip_copy(&self, entry: Address, guard: &Guard<'_>) -> Address {
        if !self.is_copy(entry) {
            return entry;
        }
        self.copy_at(entry, guard)
            .map_or(Address::INVALID, |copy| copy.header().previous())
    }

    /// Counts a read that had to go to the device.
    pub(crate) fn count_cache_miss(&self) {
        if let Some(cache) = &self.read_cache {
            cache.count_miss();
        }
    }

    /// A read found `key` in the copy at `address`: counts the hit, and gives the copy a
    /// second chance if it is among the cache's oldest (rule RC6).
    pub(crate) fn cache_hit(
        &self,
        guard: &Guard<'_>,
        hash: KeyHash,
        key: &[u8],
        address: Address,
        copy: InMemory,
    ) {
        let Some(cache) = &self.read_cache else {
            return;
        };
        cache.count_hit();
        if cache.is_old(address) {
            let mut value = Vec::new();
            copy_value(copy, &mut value);
            if self.cache_copy(guard, hash, address, key, &value) {
                cache
                    .counters
                    .second_chances
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Copies `(key, value)` into the read cache as the newest record of the chain whose entry
    /// (for `hash`) held `expected` when the value was found (rule RC2): after a device read,
    /// or from an old copy (RC6). Best effort: `false` when nothing was copied.
    pub(crate) fn cache_copy(
        &self,
        guard: &Guard<'_>,
        hash: KeyHash,
        expected: Address,
        key: &[u8],
        value: &[u8],
    ) -> bool {
        let Some(cache) = &self.read_cache else {
            return false;
        };
        let copied = self.try_cache_copy(cache, guard, hash, expected, key, value);
        let counter = if copied {
            &cache.counters.inserts
        } else {
            &cache.counters.failed_inserts
        };
        counter.fetch_add(1, Ordering::Relaxed);
        copied
    }

    fn try_cache_copy(
        &self,
        cache: &ReadCache,
        guard: &Guard<'_>,
        hash: KeyHash,
        expected: Address,
        key: &[u8],
        value: &[u8],
    ) -> bool {
        let Ok(size) = self.record_size(key.len(), value.len()) else {
            return false;
        };
        let size = size as u64;
        if size + HASH_BYTES > cache.page_bytes() {
            return false;
        }
        // A key with no entry (a value found in a lower layer, `expected` invalid) gets one,
        // holding no record until the copy is swapped in.
        let slot = if expected.is_invalid() {
            self.index.find_or_create(hash, guard).ok()
        } else {
            self.index.find(hash, guard).ok().flatten()
        };
        let Some(slot) = slot else {
            return false;
        };
        let expected = if expected.is_invalid() {
            faster_index::UNSET_ADDRESS
        } else {
            expected
        };
        if slot.address() != expected {
            return false;
        }
        // Rule RC5: `expected` is in the entry under `guard`.
        let previous = self.skip_copy(expected, guard);
        let Some(address) = self.cache_allocate(cache, size + HASH_BYTES, guard) else {
            return false;
        };
        let ptr = cache.ptr(address);
        // SAFETY: rules RC2, RC4 — `size + 8` bytes at `address` were just allocated under the
        // allocation mutex in a page nobody can reach (zeroed after every copy in it was
        // unlinked and the epoch moved past); records in a page start 8-aligned and have
        // 8-aligned sizes. Nothing reaches them before the swap below.
        unsafe {
            record::write_new(ptr, Self::LAYOUT, Header::new(previous, 0), key, value);
            std::ptr::write(ptr.add(size as usize).cast::<u64>(), hash.0);
        }
        match slot.compare_exchange(expected, address) {
            Ok(()) => true,
            Err(_) => {
                // SAFETY: rule RC2 — ours, complete, never published.
                let lost = unsafe { InMemory::new(ptr, Self::LAYOUT) };
                lost.set_bits(INVALID);
                false
            }
        }
    }

    /// `bytes` of cache memory, or `None` when the cache is busy (another thread allocates or
    /// evicts) or its next page is not free yet (rule RC4).
    fn cache_allocate(&self, cache: &ReadCache, bytes: u64, guard: &Guard<'_>) -> Option<Address> {
        let mut alloc = cache.alloc.try_lock().ok()?;
        let page_bytes = cache.page_bytes();
        let pages = cache.pages.len() as u64;
        let page = alloc.tail >> cache.page_bits;
        // Rule RC4: the page after the tail's is unlinked one page ahead, so that its epoch
        // action has run by the time the tail gets there.
        let due = (page + 2).saturating_sub(pages);
        while alloc.unlinked < due {
            let victim = alloc.unlinked;
            let used = alloc.used[(victim % pages) as usize];
            if !self.unlink_page(cache, victim, used, guard) {
                break;
            }
            alloc.unlinked = victim + 1;
            let freed = Arc::clone(&cache.freed);
            self.epoch.bump_with(move || {
                freed.fetch_max(victim + 1, Ordering::AcqRel);
            });
        }
        let within = alloc.tail & (page_bytes - 1);
        let start = if within + bytes <= page_bytes {
            alloc.tail
        } else {
            let next = page + 1;
            if next >= pages && cache.freed.load(Ordering::Acquire) < next - pages + 1 {
                return None;
            }
            let slot = (next % pages) as usize;
            // SAFETY: rule RC4 — the slot's previous page had every copy unlinked and its
            // epoch action ran (checked just above), so no thread can reach its bytes; only
            // the allocation mutex, held, writes a page before it is handed out.
            unsafe {
                std::ptr::write_bytes(cache.pages[slot].ptr.as_ptr(), 0, page_bytes as usize)
            };
            alloc.used[slot] = 0;
            next << cache.page_bits
        };
        alloc.tail = start + bytes;
        alloc.used[((start >> cache.page_bits) % pages) as usize] =
            alloc.tail - (start & !(page_bytes - 1));
        cache.tail.store(alloc.tail, Ordering::Release);
        Some(cache_address(start))
    }

    /// Unlinks every copy in cache page `page` (its first `used` bytes) from its entry (rule
    /// RC4). `false` when an entry cannot be looked up now (the index is preparing a growth).
    fn unlink_page(&self, cache: &ReadCache, page: u64, used: u64, guard: &Guard<'_>) -> bool {
        let base = page << cache.page_bits;
        let mut offset = 0;
        while offset < used {
            let address = cache_address(base + offset);
            // SAFETY: rule RC4 — the page is still in its slot (the tail cannot pass it before
            // it is unlinked) and every copy in its first `used` bytes was written whole under
            // the allocation mutex, which the caller holds.
            let copy = unsafe { InMemory::new(cache.ptr(address), Self::LAYOUT) };
            let size = Self::LAYOUT.record_size(copy.key().len(), copy.value_len()) as u64;
            if !copy.header().is_invalid() {
                // SAFETY: rule RC4 — as above; the hash word follows the record
                // (`try_cache_copy`).
                let hash =
                    unsafe { std::ptr::read(cache.ptr(address).add(size as usize).cast::<u64>()) };
                match self.index.find(KeyHash(hash), guard) {
                    Ok(Some(slot)) => {
                        let previous = copy.header().previous();
                        let unlinked = slot.address() == address
                            && if previous < Address::FIRST_VALID {
                                slot.delete_if(address)
                            } else {
                                slot.compare_exchange(address, previous).is_ok()
                            };
                        if unlinked {
                            cache.counters.evictions.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(None) => {}
                    Err(_busy) => return false,
                }
            }
            offset += size + HASH_BYTES;
        }
        true
    }

    /// The address an index snapshot records for `address` (rule RC7): a copy's previous
    /// address, any other address as it is.
    pub(crate) fn snapshot_address(&self, address: Address, guard: &Guard<'_>) -> Address {
        debug_assert!(self.read_cache.is_some() || address.raw() & CACHE_BIT == 0);
        self.skip_copy(address, guard)
    }
}
