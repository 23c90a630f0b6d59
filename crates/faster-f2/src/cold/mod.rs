//! The cold store: a log of cold records (a FasterLog: checksummed entries, group commit,
//! truncation) and the cold index that finds them — a two-level hash index whose chunks are
//! the records of a small faster-kv store (rules HC1–HC4 in the crate documentation).
//!
//! A key's hash picks a chunk (`chunk_bits` of it), a home slot in it (5 more bits) and a
//! 16-bit tag (rule HC1). A slot holds a tag and the cold-log address of the newest record
//! of its chain; each record holds the previous record's address. A key's chain is the slot
//! carrying its tag, found by probing from the home slot; a chunk whose 32 slots are taken
//! chains further keys into their home slot. So a lookup of a key usually reads one cold
//! record, and a lookup of a key the cold store never held reads none. Memory holds only the
//! chunk store's own index (one entry per chunk, each chunk serving 32 slots) and its log
//! budget: about a byte per cold key or less, whatever the number of keys.

pub(crate) mod compact;
pub(crate) mod record;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use faster_kv::{CompactionPolicy, FasterKv, LiveRecord, Session};
use faster_log::{Address, FasterLog, IterError};

use crate::error::{F2Error, Part};

/// Bytes of a chunk: 32 slots of 8-byte cold-log addresses.
pub(crate) const CHUNK_BYTES: usize = 256;
/// Slots in a chunk.
const SLOTS: u64 = (CHUNK_BYTES / 8) as u64;

/// A chunk of the cold index: slot `i` is bytes `8i..8i+8`, a little-endian word whose low 48
/// bits are a cold-log address and whose top 16 bits are the tag of the slot's keys (0: an
/// empty slot).
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

/// Bits of a slot that hold the cold-log address (every log address fits: they are 48-bit);
/// the 16 above hold the tag.
const ADDRESS_BITS: u32 = Address::BITS;
const ADDRESS_MASK: u64 = (1 << ADDRESS_BITS) - 1;

/// Where a key's hash leads in the cold index (rule HC1): its chunk (bits 16.. of the hash),
/// its home slot (the top 5 bits) and its tag (the low 16 bits), so that none follows another
/// or the hot index's bucket bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) chunk: u64,
    home: usize,
    tag: u64,
}

pub(crate) fn place_of(hash: u64, chunk_bits: u32) -> Place {
    Place {
        chunk: (hash >> 16) & ((1u64 << chunk_bits) - 1),
        home: (hash >> (64 - SLOTS.ilog2())) as usize,
        tag: hash & 0xffff,
    }
}

fn word(chunk: &Chunk, i: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&chunk[8 * i..8 * i + 8]);
    u64::from_le_bytes(word)
}

/// The slot of `place`'s chain in `chunk`: the first slot from the home slot on that carries
/// the tag, or, if none does, the first empty one (`Err`: the key has no chain yet and would
/// take that slot), or, in a chunk whose every slot is taken by other tags, the home slot.
/// Slots are taken in probe order and never emptied, so this is the same slot for every
/// lookup and every write of the key.
fn find_slot(chunk: &Chunk, place: Place) -> Result<usize, usize> {
    for step in 0..SLOTS as usize {
        let i = (place.home + step) % SLOTS as usize;
        let w = word(chunk, i);
        if w == 0 {
            return Err(i);
        }
        if w >> ADDRESS_BITS == place.tag {
            return Ok(i);
        }
    }
    Ok(place.home)
}

/// The newest address of `place`'s chain in `chunk` (0: none).
fn chain_head(chunk: &Chunk, place: Place) -> u64 {
    find_slot(chunk, place).map_or(0, |i| word(chunk, i) & ADDRESS_MASK)
}

/// Makes the record at `address` the head of `place`'s chain.
fn push_head(chunk: &mut Chunk, place: Place, address: u64) {
    let i = find_slot(chunk, place).unwrap_or_else(|empty| empty);
    let old = word(chunk, i);
    // A slot keeps the tag it was taken with: an overflowing key joins the home chain.
    let tag = if old == 0 {
        place.tag
    } else {
        old >> ADDRESS_BITS
    };
    let new = (tag << ADDRESS_BITS) | (address & ADDRESS_MASK);
    chunk[8 * i..8 * i + 8].copy_from_slice(&new.to_le_bytes());
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
    /// The largest cold record written or read since the store opened: the size of a cold
    /// read's first device read (a larger record costs a second).
    largest: AtomicUsize,
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
            largest: AtomicUsize::new(0),
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
        let place = place_of(hash, self.chunk_bits);
        let Some(chunk) = index.read(&place.chunk).map_err(F2Error::index)? else {
            return Ok(None);
        };
        let mut address = chain_head(&chunk, place);
        while address != 0 {
            if address < self.log.begin_address().raw() {
                return Ok(None);
            }
            let at = Address::from_masked(address);
            let payload = match self.log.read_entry_with_hint(at, self.read_hint()) {
                Ok(payload) => payload,
                // Truncated by a cold compaction while we walked (rule HC4).
                Err(_) if address < self.log.begin_address().raw() => return Ok(None),
                Err(e) => return Err(corrupt_or_log(address, e)),
            };
            let record = record::parse(&payload).map_err(|e| F2Error::Corrupt {
                address,
                reason: e.to_string(),
            })?;
            self.saw_record(payload.len());
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
            let place = place_of(r.hash, self.chunk_bits);
            let chunk = match chunks.entry(place.chunk) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let current = writer.index.read(&place.chunk).map_err(F2Error::index)?;
                    e.insert(current.unwrap_or([0; CHUNK_BYTES]))
                }
            };
            // The record's previous address is the chain's head before it: read it first,
            // then push the record's own address (known only once it is enqueued).
            let previous = chain_head(chunk, place);
            record::encode(previous, r.hash, r.key, r.value, &mut writer.payload);
            self.saw_record(writer.payload.len());
            let address = self
                .log
                .enqueue(&writer.payload)
                .map_err(faster_log::Error::from)?;
            push_head(chunk, place, address.raw());
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

    /// Notes a cold record of `len` bytes, for [`ColdStore::read_hint`].
    fn saw_record(&self, len: usize) {
        self.largest.fetch_max(len, Ordering::Relaxed);
    }

    /// Bytes of a cold read's first device read: the largest record seen with its log entry
    /// header and some slack, a whole 4 KiB page until a record has been seen.
    fn read_hint(&self) -> usize {
        match self.largest.load(Ordering::Relaxed) {
            0 => 4096,
            largest => (largest + 64).next_multiple_of(64),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash whose home slot is `home`, tag `tag`, in chunk 0.
    fn hash(home: u64, tag: u64) -> u64 {
        (home << 59) | tag
    }

    #[test]
    fn keys_with_their_own_tags_get_their_own_chains() {
        let mut chunk = [0u8; CHUNK_BYTES];
        let a = place_of(hash(3, 7), 4);
        let b = place_of(hash(3, 9), 4);
        assert_eq!((chain_head(&chunk, a), chain_head(&chunk, b)), (0, 0));
        push_head(&mut chunk, a, 100);
        // `b` shares a's home slot but not its tag: no chain yet, it probes past it.
        assert_eq!((chain_head(&chunk, a), chain_head(&chunk, b)), (100, 0));
        push_head(&mut chunk, b, 200);
        push_head(&mut chunk, a, 300);
        assert_eq!((chain_head(&chunk, a), chain_head(&chunk, b)), (300, 200));
        assert_eq!(word(&chunk, 3) >> ADDRESS_BITS, 7);
        assert_eq!(word(&chunk, 4) >> ADDRESS_BITS, 9);
        // A probe wraps around the chunk's end.
        let c = place_of(hash(31, 5), 4);
        let d = place_of(hash(31, 6), 4);
        push_head(&mut chunk, c, 400);
        push_head(&mut chunk, d, 500);
        assert_eq!(word(&chunk, 0) >> ADDRESS_BITS, 6);
        assert_eq!((chain_head(&chunk, c), chain_head(&chunk, d)), (400, 500));
    }

    #[test]
    fn a_full_chunk_chains_new_tags_into_their_home_slot() {
        let mut chunk = [0u8; CHUNK_BYTES];
        for t in 0..SLOTS {
            push_head(&mut chunk, place_of(hash(0, t + 1), 4), 1000 + t * 8);
        }
        let late = place_of(hash(5, 999), 4);
        // Its home slot's chain is where it would be (and is, once written).
        assert_eq!(chain_head(&chunk, late), 1000 + 5 * 8);
        push_head(&mut chunk, late, 9000);
        assert_eq!(chain_head(&chunk, late), 9000);
        // The home slot keeps its own tag, and its own key still finds the chain.
        assert_eq!(word(&chunk, 5) >> ADDRESS_BITS, 6);
        assert_eq!(chain_head(&chunk, place_of(hash(0, 6), 4)), 9000);
        // Tag 0 is a tag like another: a slot is empty only when its whole word is.
        let mut chunk = [0u8; CHUNK_BYTES];
        let zero = place_of(hash(2, 0), 4);
        push_head(&mut chunk, zero, 64);
        assert_eq!(chain_head(&chunk, zero), 64);
        assert_eq!(chain_head(&chunk, place_of(hash(2, 1), 4)), 0);
    }
}
