//! The cold store: a log of cold records (a FasterLog: checksummed entries, group commit,
//! truncation) and the cold index that finds them — a two-level hash index whose chunks are
//! the records of a small faster-kv store (rules HC1–HC4 in the crate documentation).
//!
//! A key's hash picks a chunk (`chunk_bits` of it) and a slot in it (5 more bits); the slot
//! holds the cold-log address of the newest record whose key falls there, and each record
//! holds the previous record's address. Memory holds only the chunk store's own index (one
//! entry per chunk, each chunk serving 32 slots) and its log budget: about a byte per cold
//! key or less, whatever the number of keys.

pub(crate) mod compact;
pub(crate) mod record;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use faster_kv::{CompactionPolicy, FasterKv, LiveRecord, Session};
use faster_log::{Address, FasterLog, IterError};

use crate::error::{F2Error, Part};

/// Bytes of a chunk: 32 slots of 8-byte cold-log addresses.
pub(crate) const CHUNK_BYTES: usize = 256;
/// Slots in a chunk.
const SLOTS: u64 = (CHUNK_BYTES / 8) as u64;

/// A chunk of the cold index: slot `i` is bytes `8i..8i+8`, a little-endian cold-log address
/// (0: no record).
pub(crate) type Chunk = [u8; CHUNK_BYTES];

/// What the cold store holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColdRead {
    /// The newest cold record of the key holds these value bytes.
    Value(Vec<u8>),
    /// The newest cold record of the key is a tombstone.
    Deleted,
    /// No cold record of the key.
    Absent,
}

/// How the cold store is shaped and sized.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColdSettings {
    pub(crate) chunk_bits: u32,
    pub(crate) index_memory: u64,
    pub(crate) log_page_bits: u32,
    pub(crate) log_memory_pages: u64,
}

/// The chunk and slot of a key's hash (rule HC1). The chunk takes bits 16.. of the hash, the
/// slot its top 5 bits, so neither follows the hot index's bucket bits.
pub(crate) fn chunk_of(hash: u64, chunk_bits: u32) -> (u64, usize) {
    let chunk = (hash >> 16) & ((1u64 << chunk_bits) - 1);
    let slot = (hash >> (64 - SLOTS.ilog2())) as usize;
    (chunk, slot)
}

fn slot(chunk: &Chunk, i: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&chunk[8 * i..8 * i + 8]);
    u64::from_le_bytes(word)
}

fn set_slot(chunk: &mut Chunk, i: usize, address: u64) {
    chunk[8 * i..8 * i + 8].copy_from_slice(&address.to_le_bytes());
}

/// A key's newest cold record: its address and its value (`None`: a tombstone).
pub(crate) type Newest = (u64, Option<Vec<u8>>);

/// The single writer's state: its index session and buffers.
struct Writer {
    index: Session<u64, Chunk>,
    payload: Vec<u8>,
}

/// The cold log and its index.
pub(crate) struct ColdStore {
    pub(crate) log: FasterLog,
    pub(crate) index: FasterKv<u64, Chunk>,
    chunk_bits: u32,
    writer: Mutex<Option<Writer>>,
}

impl ColdStore {
    /// Opens (creating or recovering) the cold log in `dir/cold-log` and the cold index in
    /// `dir/cold-index`.
    pub(crate) fn open(dir: &Path, settings: ColdSettings) -> Result<Self, F2Error> {
        let log = FasterLog::builder_in_dir(dir.join("cold-log"))
            .page_size_bits(settings.log_page_bits)
            .memory_pages(settings.log_memory_pages)
            .direct_io(false)
            .preallocate(false)
            .open()
            .map_err(F2Error::OpenLog)?;
        let chunks = 1u64 << settings.chunk_bits;
        // About four chunks per bucket of the chunk store's index (seven entries a bucket).
        let buckets = (chunks / 4).next_power_of_two().max(64);
        // Every chunk is rewritten as keys migrate: keep its log near four copies of them.
        let live = chunks * (CHUNK_BYTES as u64 + 16);
        let index = FasterKv::builder()
            .dir(dir.join("cold-index"))
            .page_size_bits(16)
            .memory_budget(settings.index_memory)
            .segment_size(1 << 24)
            .index_buckets(buckets)
            .checkpoint_retention(2)
            .compaction(CompactionPolicy::with_budget((live * 4).max(8 << 20)))
            .open::<u64, Chunk>()
            .map_err(|source| F2Error::Open {
                part: Part::ColdIndex,
                source,
            })?;
        Ok(Self {
            log,
            index,
            chunk_bits: settings.chunk_bits,
            writer: Mutex::new(None),
        })
    }

    /// A session on the cold index, for one F2 session's reads.
    pub(crate) fn reader(&self) -> Result<Session<u64, Chunk>, F2Error> {
        Ok(self.index.session()?)
    }

    /// The newest cold record of `key` (rule HC3: a chain is walked from the slot's address
    /// down, each record checked before use, and ends below the log's begin address).
    pub(crate) fn read(
        &self,
        index: &mut Session<u64, Chunk>,
        key: &[u8],
        hash: u64,
    ) -> Result<ColdRead, F2Error> {
        Ok(match self.newest(index, key, hash)? {
            Some((_, Some(value))) => ColdRead::Value(value),
            Some((_, None)) => ColdRead::Deleted,
            None => ColdRead::Absent,
        })
    }

    /// The address and value (`None`: a tombstone) of the newest cold record of `key`.
    pub(crate) fn newest(
        &self,
        index: &mut Session<u64, Chunk>,
        key: &[u8],
        hash: u64,
    ) -> Result<Option<Newest>, F2Error> {
        let (id, i) = chunk_of(hash, self.chunk_bits);
        let Some(chunk) = index.read(&id).map_err(F2Error::index)? else {
            return Ok(None);
        };
        let mut address = slot(&chunk, i);
        while address != 0 {
            if address < self.log.begin_address().raw() {
                return Ok(None);
            }
            let payload = match self.log.read_entry(Address::from_masked(address)) {
                Ok(payload) => payload,
                // Truncated by a cold compaction while we walked (rule HC4).
                Err(_) if address < self.log.begin_address().raw() => return Ok(None),
                Err(e) => return Err(corrupt_or_log(address, e)),
            };
            let record = record::parse(&payload).map_err(|e| F2Error::Corrupt {
                address,
                reason: e.to_string(),
            })?;
            if record.key == key {
                return Ok(Some((address, record.value.map(<[u8]>::to_vec))));
            }
            if record.previous >= address {
                return Err(F2Error::Corrupt {
                    address,
                    reason: "previous address does not go back".into(),
                });
            }
            address = record.previous;
        }
        Ok(None)
    }

    /// Appends `records` (one writer at a time), makes them durable, then points their slots
    /// at them (rule HC2: a slot never points at an entry that is not committed).
    pub(crate) fn write(&self, records: &[LiveRecord<'_>]) -> Result<(), F2Error> {
        if records.is_empty() {
            return Ok(());
        }
        let mut guard = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            *guard = Some(Writer {
                index: self.index.session()?,
                payload: Vec::new(),
            });
        }
        let Some(writer) = guard.as_mut() else {
            return Ok(());
        };
        let mut chunks: HashMap<u64, Chunk> = HashMap::new();
        for r in records {
            let (id, i) = chunk_of(r.hash, self.chunk_bits);
            let chunk = match chunks.entry(id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let current = writer.index.read(&id).map_err(F2Error::index)?;
                    e.insert(current.unwrap_or([0; CHUNK_BYTES]))
                }
            };
            record::encode(slot(chunk, i), r.hash, r.key, r.value, &mut writer.payload);
            let address = self
                .log
                .enqueue(&writer.payload)
                .map_err(faster_log::Error::from)?;
            set_slot(chunk, i, address.raw());
        }
        self.log.commit().map_err(faster_log::Error::from)?;
        for (id, chunk) in &chunks {
            writer.index.upsert(id, chunk).map_err(F2Error::index)?;
        }
        Ok(())
    }

    /// Makes the cold index durable (a checkpoint of the chunk store); every entry it points
    /// at is committed already (rule HC2).
    pub(crate) fn persist(&self) -> Result<(), F2Error> {
        let checkpoint = |e| F2Error::Checkpoint {
            part: Part::ColdIndex,
            source: std::sync::Arc::new(e),
        };
        loop {
            match self.index.checkpoint() {
                Ok(handle) => {
                    handle.wait().map_err(|source| F2Error::Checkpoint {
                        part: Part::ColdIndex,
                        source,
                    })?;
                    return Ok(());
                }
                // The chunk store's own background work (none is configured) or an index
                // growth: try again shortly.
                Err(faster_kv::CheckpointError::Busy) => {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Err(e) => return Err(checkpoint(e)),
            }
        }
    }

    /// Bytes of the cold log (tail − begin).
    pub(crate) fn log_bytes(&self) -> u64 {
        self.log.tail_address().raw() - self.log.begin_address().raw()
    }
}

/// A damaged entry is [`F2Error::Corrupt`]; anything else the log's own error.
fn corrupt_or_log(address: u64, e: IterError) -> F2Error {
    match e {
        IterError::Corrupt { .. } | IterError::NoEntry { .. } => F2Error::Corrupt {
            address,
            reason: e.to_string(),
        },
        e => F2Error::Log(e.into()),
    }
}
