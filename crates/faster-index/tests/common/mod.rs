//! Test support: a tiny append-only "log" of records `{hash, previous address}` that plays the
//! store's part — it builds record chains, resolves addresses for a growth, and walks chains
//! to find a key — so tests can check the index the way a store uses it.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses a different part of this shared module"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use faster_epoch::Guard;
use faster_index::{Address, Busy, HashIndex, KeyHash, RecordLookup, Resolver, UNSET_ADDRESS};

/// Address of the first record; records are 8 bytes apart.
pub const FIRST_ADDRESS: u64 = 64;

/// The address `raw`, which a test knows to be below 2^48.
pub fn at(raw: u64) -> Address {
    Address::new(raw).expect("a test address fits in 48 bits")
}

/// A lock-free append-only array of records with a begin (truncation point) and a head
/// (records below it count as "on the device" for a growth).
pub struct TestLog {
    hashes: Box<[AtomicU64]>,
    prevs: Box<[AtomicU64]>,
    tail: AtomicU64,
    begin: AtomicU64,
    head: AtomicU64,
}

impl TestLog {
    pub fn with_capacity(records: usize) -> Arc<Self> {
        Arc::new(Self {
            hashes: (0..records).map(|_| AtomicU64::new(0)).collect(),
            prevs: (0..records).map(|_| AtomicU64::new(0)).collect(),
            tail: AtomicU64::new(0),
            begin: AtomicU64::new(FIRST_ADDRESS),
            head: AtomicU64::new(FIRST_ADDRESS),
        })
    }

    /// Appends a record and returns its address.
    pub fn append(&self, hash: KeyHash, prev: Address) -> Address {
        let i = self.tail.fetch_add(1, Ordering::Relaxed) as usize;
        assert!(i < self.hashes.len(), "test log full");
        self.hashes[i].store(hash.0, Ordering::Relaxed);
        self.prevs[i].store(prev.raw(), Ordering::Release);
        at(FIRST_ADDRESS + 8 * i as u64)
    }

    /// The record at `address`: (hash, previous address).
    pub fn get(&self, address: Address) -> Option<(KeyHash, Address)> {
        let i = (address.raw().checked_sub(FIRST_ADDRESS)? / 8) as usize;
        if i as u64 >= self.tail.load(Ordering::Acquire) {
            return None;
        }
        let prev = self.prevs.get(i)?.load(Ordering::Acquire);
        Some((KeyHash(self.hashes[i].load(Ordering::Relaxed)), at(prev)))
    }

    /// The address the next record will get.
    pub fn tail_address(&self) -> Address {
        at(FIRST_ADDRESS + 8 * self.tail.load(Ordering::Acquire))
    }

    pub fn begin(&self) -> Address {
        at(self.begin.load(Ordering::Acquire))
    }

    pub fn set_begin(&self, address: Address) {
        self.begin.store(address.raw(), Ordering::Release);
        if self.head.load(Ordering::Acquire) < address.raw() {
            self.head.store(address.raw(), Ordering::Release);
        }
    }

    pub fn set_head(&self, address: Address) {
        self.head
            .store(address.max(self.begin()).raw(), Ordering::Release);
    }

    fn head(&self) -> Address {
        at(self.head.load(Ordering::Acquire))
    }

    /// A resolver answering from this log: below begin `Gone`, below head `OnDevice`.
    pub fn resolver(self: &Arc<Self>) -> Resolver {
        let log = Arc::clone(self);
        Arc::new(move |address| {
            if address < log.begin() {
                RecordLookup::Gone
            } else if address < log.head() {
                RecordLookup::OnDevice
            } else {
                match log.get(address) {
                    Some((hash, previous_address)) => RecordLookup::InMemory {
                        hash,
                        previous_address,
                    },
                    None => RecordLookup::Gone,
                }
            }
        })
    }

    /// The store's read: the newest record of `hash`'s key, walking the chain from the index
    /// entry and stopping at the log's begin.
    pub fn lookup(
        &self,
        index: &HashIndex,
        hash: KeyHash,
        guard: &Guard<'_>,
    ) -> Result<Option<Address>, Busy> {
        let Some(slot) = index.find(hash, guard)? else {
            return Ok(None);
        };
        let begin = self.begin();
        let mut address = slot.address();
        while address > UNSET_ADDRESS && address >= begin {
            let Some((record_hash, prev)) = self.get(address) else {
                return Ok(None);
            };
            if record_hash == hash {
                return Ok(Some(address));
            }
            address = prev;
        }
        Ok(None)
    }

    /// The store's upsert: appends a record for `hash` and swaps it into the entry. Returns
    /// its address.
    pub fn upsert(
        &self,
        index: &HashIndex,
        hash: KeyHash,
        guard: &Guard<'_>,
    ) -> Result<Address, Busy> {
        loop {
            let slot = index.find_or_create(hash, guard)?;
            let expected = slot.address();
            let address = self.append(hash, expected);
            if slot.compare_exchange(expected, address).is_ok() {
                return Ok(address);
            }
        }
    }
}

/// A bijective 64-bit mix (splitmix64's finaliser).
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A hash with random low bits and its tag forced to `tag`.
pub fn hash_with_tag(seed: u64, tag: u16) -> KeyHash {
    let tag_field = ((1u64 << 14) - 1) << 48;
    KeyHash((mix(seed) & !tag_field) | (u64::from(tag) << 48))
}
