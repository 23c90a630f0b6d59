//! Growing the hash index while sessions keep working (the growth phases of faster-cpr).
//!
//! The store's state machine moves `REST → GROW_PREPARE → GROW_IN_PROGRESS → REST`, so a
//! growth and a checkpoint never overlap (a checkpoint's index snapshot needs a stable table).
//! The doubling itself is the index's own online growth: sessions that meet a bucket not yet
//! split split it, and the growing thread splits the rest. The index learns each in-memory
//! record's hash from the log through a resolver; records on the device go to both halves.

use std::sync::Arc;
use std::time::Duration;

use faster_cpr::{Action, Phase};
use faster_hlog::Address;
use faster_index::{KeyHash, RecordLookup, Resolver};

use crate::codec::Codec;
use crate::kv::FasterKv;
use crate::read_cache::{ReadCache, is_cached};
use crate::record::{self, InMemory, Layout, Parse};
use crate::store::Store;
use crate::sync::lock;

/// Errors of growing the index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GrowError {
    /// A checkpoint or another growth is in progress.
    #[error("a checkpoint or another growth is in progress")]
    Busy,
    /// The epoch table had no slot for the growing thread.
    #[error("epoch: {0}")]
    Epoch(#[from] faster_epoch::EpochError),
    /// The index refused to grow (too large, out of memory).
    #[error("index: {0}")]
    Index(#[from] faster_index::IndexError),
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> FasterKv<K, V> {
    /// Doubles the hash index while sessions keep working; returns the new number of buckets.
    /// Blocks the calling thread until the growth is done, so it must not hold a pinned
    /// session (the growth waits for every protected session to refresh).
    ///
    /// # Errors
    /// [`GrowError::Busy`] while a checkpoint runs; index errors.
    pub fn grow_index(&self) -> Result<u64, GrowError> {
        self.store.grow_index()
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// See [`FasterKv::grow_index`].
    pub(crate) fn grow_index(self: &Arc<Self>) -> Result<u64, GrowError> {
        let store = self;
        let span = tracing::info_span!("faster_kv::grow_index");
        let _entered = span.enter();
        {
            let run = lock(&store.cpr.run);
            if run.is_some() {
                tracing::debug!("index growth refused: a checkpoint is running");
                return Err(GrowError::Busy);
            }
            if store.cpr.machine.try_start(Action::Grow).is_err() {
                tracing::debug!("index growth refused: the state machine is busy");
                return Err(GrowError::Busy);
            }
        }
        let started = std::time::Instant::now();
        let result = grow(store);
        match &result {
            Ok(buckets) => tracing::info!(
                buckets,
                duration_ms = started.elapsed().as_millis() as u64,
                "index grown"
            ),
            Err(error) => tracing::warn!(%error, "index growth failed"),
        }
        // Back to rest whatever happened: GROW_PREPARE → GROW_IN_PROGRESS → REST. Only the
        // growth's own phases are advanced here: once the state left them, a checkpoint may
        // already have started from the rest this loop reached, and its phases are its
        // driver's to advance (each with its entry work), never this loop's.
        loop {
            let state = store.cpr.machine.state();
            if !matches!(state.phase, Phase::GrowPrepare | Phase::GrowInProgress) {
                break;
            }
            if store.cpr.machine.all_acknowledged(state) {
                store.cpr.machine.try_advance(state);
            } else {
                store
                    .cpr
                    .machine
                    .wait_change(state.pack(), Duration::from_millis(1));
            }
        }
        result
    }
}

fn grow<K: Codec + ?Sized, V: Codec + ?Sized>(store: &Arc<Store<K, V>>) -> Result<u64, GrowError> {
    // Every protected session acknowledges GROW_PREPARE before the index changes.
    loop {
        let state = store.cpr.machine.state();
        if state.phase != Phase::GrowPrepare {
            break;
        }
        if store.cpr.machine.all_acknowledged(state) {
            store.cpr.machine.try_advance(state);
            break;
        }
        store
            .cpr
            .machine
            .wait_change(state.pack(), Duration::from_millis(1));
    }
    let handle = store.epoch.register()?;
    let mut guard = handle.protect();
    let buckets = store.index.grow(
        &mut guard,
        resolver::<K, V>(store.log.clone(), store.read_cache.clone()),
    )?;
    Ok(buckets)
}

/// What the index needs to know of the record at an address: its key's hash and the previous
/// record of its chain — from memory, or read back from the device. Without the device read,
/// a record below the head would go to both halves of the new table: in a store larger than
/// memory nearly every entry would then be doubled by each growth, the table would stay as
/// full as before, and a growth started because it was full would be followed by another.
fn resolver<K: Codec + ?Sized, V: Codec + ?Sized>(
    log: faster_hlog::HybridLog,
    read_cache: Option<Arc<ReadCache>>,
) -> Resolver {
    let layout: Layout = Store::<K, V>::LAYOUT;
    Arc::new(move |address: Address| {
        if let Some(cache) = read_cache.as_ref().filter(|_| is_cached(address)) {
            // A read-cache copy goes with its key's hash, and its chain goes on in the log.
            let (hash, previous_address) = cache.hash_and_previous(address, layout);
            return RecordLookup::InMemory {
                hash: KeyHash(hash),
                previous_address,
            };
        }
        if address < log.begin_address() || address < Address::FIRST_VALID {
            return RecordLookup::Gone;
        }
        if address < log.head_address() {
            return from_device::<K>(&log, layout, address);
        }
        // SAFETY: rules R1, H6 — the index calls the resolver from threads protected by the
        // store's epoch, and `address >= head` was just checked under that protection; every
        // address in the index or a chain is a published record.
        let record = unsafe { InMemory::new(log.frame_ptr(address), layout) };
        let Ok(key) = K::decode(record.key()) else {
            return RecordLookup::OnDevice;
        };
        match std::borrow::Borrow::<K>::borrow(&key).hash64() {
            Ok(hash) => RecordLookup::InMemory {
                hash: KeyHash(hash),
                previous_address: record.header().previous(),
            },
            Err(_) => RecordLookup::OnDevice,
        }
    })
}

/// The key's hash and the previous address of the record at `address`, read from the device
/// (rule R6: parsed with checks first). Anything unreadable counts as
/// [`RecordLookup::OnDevice`]: the entry then goes to both halves, which is safe.
fn from_device<K: Codec + ?Sized>(
    log: &faster_hlog::HybridLog,
    layout: Layout,
    address: Address,
) -> RecordLookup {
    let page_end = log.page_start(log.page_of(address) + 1).raw();
    let room = (page_end - address.raw()) as usize;
    let guess = layout.record_size(K::FIXED_SIZE.unwrap_or(64), 64);
    let mut len = guess.min(room) as u64;
    for _ in 0..2 {
        let Ok(buffer) = log.read_blocking(address, len) else {
            return RecordLookup::OnDevice;
        };
        // Freed under the read (rule R14): its bytes may be zeros.
        if address < log.begin_address() {
            return RecordLookup::Gone;
        }
        match record::parse(buffer.bytes(), layout, room) {
            Parse::Record(parsed) => {
                let Ok(key) = K::decode(parsed.key) else {
                    return RecordLookup::OnDevice;
                };
                return match std::borrow::Borrow::<K>::borrow(&key).hash64() {
                    Ok(hash) => RecordLookup::InMemory {
                        hash: KeyHash(hash),
                        previous_address: parsed.header.previous(),
                    },
                    Err(_) => RecordLookup::OnDevice,
                };
            }
            Parse::NeedBytes(n) if (n as u64) > len => len = n as u64,
            Parse::NeedBytes(_) | Parse::Corrupt(_) => return RecordLookup::OnDevice,
        }
    }
    RecordLookup::OnDevice
}
