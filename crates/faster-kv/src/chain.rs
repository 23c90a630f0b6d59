//! Hash chains: finding a key's newest record in memory, appending a record at the tail, and
//! following a chain on the device.

use faster_epoch::Guard;
use faster_hlog::{Address, ReadBuffer};
use faster_index::EntrySlot;

use crate::checkpoint::rules::OpCtx;
use crate::codec::Codec;
use crate::error::{OpError, OpErrorKind};
use crate::record::{self, Header, INVALID, InMemory, Parse};
use crate::stats::RetryCause;
use crate::store::Store;

/// The value size a device read of a record with values of no fixed size is sized for.
const VARIABLE_VALUE_GUESS: usize = 200;

/// Where a key's newest record is, as far as memory tells.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lookup {
    /// In a page frame at this address.
    InMemory(Address, InMemory),
    /// A copy in the read cache at this address, first in the chain (rule RC2: the key's
    /// newest value). Only for a walk that starts at the index entry itself; never a
    /// tombstone.
    Cached(Address, InMemory),
    /// The chain goes on below the head: the record (if any) is at or below this address.
    OnDevice(Address),
    /// No record of the key: the chain ended.
    Absent,
    /// A session of version `v` found a record of `v + 1` at the head of the chain (rule R8):
    /// appending behind it would put a `v` record above a `v + 1` one.
    Shift,
}

/// Result of an attempt to append a record and install it in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Append {
    /// Installed at this address.
    Installed(Address),
    /// The log asked for a refresh, or the entry changed under us: start the operation again.
    Retry(RetryCause),
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// Walks the chain from `from` for `key`, in memory only (rule R1: the head is read under
    /// the caller's protection, so every frame at or above it stays valid). `begin` is the
    /// log's begin address read before the index entry `from` (rule R14): a chain that goes
    /// below it ends there. A `from` that is a read-cache copy of the key is the answer
    /// ([`Lookup::Cached`]) except for a session of the version before a checkpoint in
    /// progress, which passes over copies (rule RC7); callers that must not meet a copy pass
    /// [`Store::skip_copy`] of the entry.
    #[inline]
    pub(crate) fn trace(
        &self,
        ctx: &OpCtx,
        key: &[u8],
        from: Address,
        begin: Address,
        guard: &Guard<'_>,
    ) -> Lookup {
        let mut from = from;
        if self.is_copy(from) {
            match self.copy_at(from, guard) {
                Some(copy) if !ctx.old_version && copy.key_is(key) => {
                    return Lookup::Cached(from, copy);
                }
                Some(copy) => from = copy.header().previous(),
                None => return Lookup::Absent,
            }
        }
        let head = self.log.head_address();
        let mut address = from;
        if ctx.old_version && address >= head && address >= begin && address >= Address::FIRST_VALID
        {
            // SAFETY: rules R1, H6 — as below.
            let record = unsafe { InMemory::new(self.log.frame_ptr(address), Self::LAYOUT) };
            if ctx.is_new(address, record.header()) {
                return Lookup::Shift;
            }
        }
        loop {
            if address < begin || address < Address::FIRST_VALID {
                return Lookup::Absent;
            }
            if address < head {
                return Lookup::OnDevice(address);
            }
            // SAFETY: rules R1, H6 — `address >= head` was checked under `guard` and every
            // address reachable from the index is the start of a published record.
            let record = unsafe { InMemory::new(self.log.frame_ptr(address), Self::LAYOUT) };
            let header = record.header();
            if !header.is_invalid() && record.key_is(key) {
                return Lookup::InMemory(address, record);
            }
            address = header.previous();
        }
    }

    /// Appends a record `(key, value)` whose previous address is `expected` (past a read-cache
    /// copy, rule RC3) and installs it in `slot` if the slot still points at `expected` (rule
    /// R1), loaded or compared under `guard` (RC5). A lost race marks the new record invalid.
    pub(crate) fn append(
        &self,
        guard: &Guard<'_>,
        slot: &EntrySlot<'_>,
        expected: Address,
        flags: u64,
        key: &[u8],
        value: &[u8],
    ) -> Result<Append, OpError> {
        let size = self.record_size(key.len(), value.len())?;
        let Some(address) = self.log.try_allocate(size as u64, guard)? else {
            return Ok(Append::Retry(RetryCause::PageTurn));
        };
        let ptr = self.log.frame_ptr(address);
        if self.read_cache.is_some() && address.raw() + size as u64 > crate::read_cache::CACHE_BIT {
            // Rule RC1: with a read cache, log addresses stay below 2^47. The space stays a
            // record that scans and recovery skip.
            // SAFETY: rules R1, H4 — as below.
            unsafe {
                record::write_new(
                    ptr,
                    Self::LAYOUT,
                    Header::new(Address::INVALID, INVALID),
                    key,
                    value,
                )
            };
            return Err(OpErrorKind::Log(faster_hlog::LogError::AddressSpaceExhausted).into());
        }
        // Rules RC3, RC5: the new record follows the log, past a copy the entry points at.
        let previous = self.skip_copy(expected, guard);
        // SAFETY: rules R1, H4 — `address` was just allocated under `guard`: `size` zeroed,
        // 8-aligned bytes that no other thread can reach until the compare-and-swap below
        // publishes them.
        unsafe { record::write_new(ptr, Self::LAYOUT, Header::new(previous, flags), key, value) };
        match slot.compare_exchange(expected, address) {
            Ok(()) => Ok(Append::Installed(address)),
            Err(_) => {
                // SAFETY: rule R1 — the record is ours and complete; marking it invalid makes
                // scans and recovery skip it. Nobody else ever saw it.
                let lost = unsafe { InMemory::new(ptr, Self::LAYOUT) };
                lost.set_bits(INVALID);
                Ok(Append::Retry(RetryCause::LostRace))
            }
        }
    }

    /// Bytes of a record with these lengths, checked against the page size.
    #[inline]
    pub(crate) fn record_size(&self, key_len: usize, value_len: usize) -> Result<usize, OpError> {
        if key_len > u32::MAX as usize || value_len > u32::MAX as usize {
            return Err(OpErrorKind::RecordTooLarge {
                size: key_len.saturating_add(value_len),
                page_size: self.log.page_size(),
            }
            .into());
        }
        let size = Self::LAYOUT.record_size(key_len, value_len);
        if size as u64 > self.log.page_size() {
            return Err(OpErrorKind::RecordTooLarge {
                size,
                page_size: self.log.page_size(),
            }
            .into());
        }
        Ok(size)
    }
}

/// The newest record of a key found on the device.
#[derive(Debug, Clone)]
pub(crate) struct DiskRecord {
    pub(crate) address: Address,
    pub(crate) header: Header,
    pub(crate) value: Vec<u8>,
}

/// Next step of a [`DiskLookup`].
#[derive(Debug)]
pub(crate) enum DiskStep {
    /// Read `len` bytes at this address and call [`DiskLookup::on_read`] again.
    Read(Address, u64),
    /// The newest record of the key (possibly a tombstone).
    Found(DiskRecord),
    /// The chain ended without the key: at its first record, or — `truncated` — below the
    /// log's begin address, which a compaction may have moved while the lookup ran (rule
    /// R14: the caller checks whether the key's index entry changed).
    Absent {
        /// The chain went on below the begin address.
        truncated: bool,
    },
}

/// Following a chain on the device for one key: issue reads until the key's newest record or
/// the end of the chain (rule R6: every record read back is parsed and checked first).
#[derive(Debug, Clone)]
pub(crate) struct DiskLookup {
    pub(crate) key: Vec<u8>,
    address: Address,
    len: u64,
}

impl DiskLookup {
    /// Starts at `address` (below the head).
    pub(crate) fn new<K: Codec + ?Sized, V: Codec + ?Sized>(
        store: &Store<K, V>,
        key: &[u8],
        address: Address,
    ) -> (Self, DiskStep) {
        let _ = store;
        // The first read's length: exact for values of a fixed size; for others, enough for
        // values of up to about 200 bytes (a longer one costs a second read, the rest of
        // the record; a device that reads whole sectors brings in more anyway).
        let guess = Store::<K, V>::LAYOUT
            .record_size(key.len(), V::FIXED_SIZE.unwrap_or(VARIABLE_VALUE_GUESS))
            as u64;
        let lookup = Self {
            key: key.to_vec(),
            address,
            len: guess,
        };
        let step = lookup.step(store, address, guess);
        (lookup, step)
    }

    fn step<K: Codec + ?Sized, V: Codec + ?Sized>(
        &self,
        store: &Store<K, V>,
        address: Address,
        len: u64,
    ) -> DiskStep {
        if address < Address::FIRST_VALID {
            DiskStep::Absent { truncated: false }
        } else if address < store.log.begin_address() {
            DiskStep::Absent { truncated: true }
        } else {
            DiskStep::Read(address, len)
        }
    }

    /// Digests the bytes read at [`DiskLookup::address`].
    pub(crate) fn on_read<K: Codec + ?Sized, V: Codec + ?Sized>(
        &mut self,
        store: &Store<K, V>,
        read: Result<ReadBuffer, faster_hlog::LogError>,
    ) -> Result<DiskStep, OpError> {
        let buffer = match read {
            Ok(buffer) => buffer,
            // Truncated while we were reading: the record is gone (rule R14). A segment
            // removed under the read reports a device error; below the begin address that
            // is the same thing.
            Err(faster_hlog::LogError::Truncated { .. }) => {
                return Ok(DiskStep::Absent { truncated: true });
            }
            Err(_) if self.address < store.log.begin_address() => {
                return Ok(DiskStep::Absent { truncated: true });
            }
            Err(e) => return Err(e.into()),
        };
        // The device frees what lies below the begin address (the blocks of a partly
        // truncated segment read back as zeros): bytes read while the begin address passed
        // them may be such zeros, which would parse as the end of a chain. Rule R14: the
        // begin address moves before anything is freed, so looking at it after the read
        // tells.
        if self.address < store.log.begin_address() {
            return Ok(DiskStep::Absent { truncated: true });
        }
        let page_end = store
            .log
            .page_start(store.log.page_of(self.address) + 1)
            .raw();
        let room = (page_end - self.address.raw()) as usize;
        match record::parse(buffer.bytes(), Store::<K, V>::LAYOUT, room) {
            Parse::NeedBytes(n) if (n as u64) > self.len => {
                self.len = n as u64;
                Ok(self.step(store, self.address, self.len))
            }
            Parse::NeedBytes(_) => Err(OpErrorKind::CorruptRecord {
                address: self.address,
                reason: "record shorter than the bytes its lengths need",
            }
            .into()),
            Parse::Corrupt(reason) => Err(OpErrorKind::CorruptRecord {
                address: self.address,
                reason,
            }
            .into()),
            Parse::Record(parsed) => {
                if !parsed.header.is_invalid() && parsed.key == self.key.as_slice() {
                    return Ok(DiskStep::Found(DiskRecord {
                        address: self.address,
                        header: parsed.header,
                        value: parsed.value.to_vec(),
                    }));
                }
                let previous = parsed.header.previous();
                if previous >= self.address {
                    return Err(OpErrorKind::CorruptRecord {
                        address: self.address,
                        reason: "previous address does not go back",
                    }
                    .into());
                }
                self.address = previous;
                self.len = Store::<K, V>::LAYOUT
                    .record_size(self.key.len(), V::FIXED_SIZE.unwrap_or(64))
                    as u64;
                Ok(self.step(store, previous, self.len))
            }
        }
    }
}
