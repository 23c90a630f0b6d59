//! Recovery from a checkpoint (rule R11).
//!
//! 1. Pick the checkpoint (`choose.rs`): the one asked for, or the newest one that checks
//!    out. Nothing is written before this choice. Then every newer checkpoint loses its
//!    completion marker: recovering this one rewrites or overwrites the log they need.
//! 2. Snapshots: write the chain's snapshot chunks (base first, increments in order) back to
//!    the log's device at their addresses, at and above the checkpoint's snapshot start. The
//!    device then holds the log up to the checkpoint's final address, as after a fold-over.
//! 3. Reopen the hybrid log at `(begin, final)` and load the index snapshot.
//! 4. Replay `[index start, final)` in address order: a record of the next version (in-new-
//!    version bit, at or above the checkpoint's start) is marked invalid on the device; every
//!    other valid record becomes its chain's index entry. The entry then points at each chain's
//!    newest record of the checkpoint's version.

use std::sync::Arc;
use std::time::Instant;

use faster_cpr::{CheckpointDir, CheckpointMeta, LogCheckpointKind};
use faster_device::{AlignedBuf, Device, DeviceExt};
use faster_epoch::Epoch;
use faster_hlog::{Address, HybridLog, RecoveryPoint};
use faster_index::KeyHash;

use super::choose::{Chosen, each_snapshot_chunk};
use crate::codec::Codec;
use crate::error::OpenError;
use crate::kv::FasterKv;
use crate::opened::{Opened, Recovered};
use crate::record::{self, INVALID, Layout, Parse};
use crate::settings::Settings;
use crate::store::{Store, StoreParts};
use crate::store_dir::Home;

/// Recovers the chosen checkpoint (steps 2–4) into a store.
pub(crate) fn recover_chosen<K: Codec + ?Sized, V: Codec + ?Sized>(
    settings: Settings,
    (device, owns_device): (Arc<dyn Device>, bool),
    epoch: Arc<Epoch>,
    dir: CheckpointDir,
    chosen: Chosen,
    home: Home,
) -> Result<FasterKv<K, V>, OpenError> {
    let started = Instant::now();
    let Chosen {
        meta,
        index,
        skipped,
    } = chosen;
    let span = tracing::info_span!(
        "faster_kv::recover",
        token = %meta.token,
        version = meta.version,
        skipped = skipped.len()
    );
    let _entered = span.enter();
    let Some(log_meta) = meta.log.clone() else {
        return Err(OpenError::Damaged {
            path: dir.token_dir(meta.token),
            source: faster_cpr::FormatError::Inconsistent("no log part"),
        });
    };
    // Every newer checkpoint needs log bytes that recovering this one rewrites (snapshot
    // chunks, next-version records marked invalid) or that the store overwrites from the
    // final address on: each loses its completion marker, durably, before the device is
    // touched, so that none can be recovered later over the wrong log. Their files stay for
    // inspection until the next checkpoint's retention removes them. (Without a token these
    // are the damaged and incomplete ones only.)
    for newer in dir.tokens()?.into_iter().filter(|&t| t > meta.token) {
        dir.retire(newer)?;
    }
    let page_size = settings.page_size();
    if log_meta.kind != LogCheckpointKind::FoldOver {
        restore_snapshots(&dir, &meta, page_size, &*device)?;
    }
    let log = HybridLog::recover(
        settings.log_config()?,
        device,
        Arc::clone(&epoch),
        RecoveryPoint {
            begin: Address::from_masked(log_meta.begin),
            tail: Address::from_masked(log_meta.final_address),
        },
    )?;
    let version = meta.version;
    let token = meta.token;
    let sessions = meta.sessions.clone();
    let store: Arc<Store<K, V>> = Arc::new(Store::assemble(StoreParts {
        settings,
        epoch,
        log,
        index,
        version: meta.version.wrapping_add(1),
        checkpoint_dir: Some(dir),
        last: Some(meta.clone()),
        home: Some(home),
        owns_device,
    }));
    let replayed_bytes = replay(&store, &meta)?;
    store.cpr.sessions.restore(&meta.sessions);
    tracing::debug!(
        replayed_bytes,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "log replayed into the index"
    );
    let recovered = Recovered {
        token,
        version,
        sessions,
        skipped,
        replayed_bytes,
        duration: started.elapsed(),
    };
    Ok(FasterKv::from_store(store, Opened::Recovered(recovered)))
}

/// Writes the snapshot chain of `meta` back to the log's device (step 2).
fn restore_snapshots(
    dir: &CheckpointDir,
    meta: &CheckpointMeta,
    page_size: u64,
    device: &dyn Device,
) -> Result<(), OpenError> {
    let Some(log) = &meta.log else { return Ok(()) };
    let sector = device.geometry().sector_size as u64;
    each_snapshot_chunk(dir, meta, page_size, |path, chunk| {
        // A snapshot's first chunk starts on the page that holds its start (the bytes before
        // the start lie below the log's begin address: no record uses them).
        if chunk.address + chunk.data.len() as u64 <= log.snapshot_start
            || chunk.address >= log.final_address
        {
            return Ok(());
        }
        if chunk.address % sector != 0 {
            return Err(OpenError::Damaged {
                path: path.to_path_buf(),
                source: faster_cpr::FormatError::Inconsistent(
                    "snapshot chunk is not sector-aligned",
                ),
            });
        }
        let len = (chunk.data.len() as u64).div_ceil(sector) * sector;
        let mut buf = AlignedBuf::options()
            .alignment(sector.max(4096) as usize)
            .zeroed(len as usize)?;
        buf[..chunk.data.len()].copy_from_slice(&chunk.data);
        device.write_blocking(chunk.address, &buf)?;
        Ok(())
    })?;
    device.flush()?;
    Ok(())
}

/// Replays `[index start, final)` into the index (step 4); returns the bytes replayed.
fn replay<K: Codec + ?Sized, V: Codec + ?Sized>(
    store: &Arc<Store<K, V>>,
    meta: &CheckpointMeta,
) -> Result<u64, OpenError> {
    let Some(log_meta) = &meta.log else {
        return Ok(0);
    };
    let layout = Store::<K, V>::LAYOUT;
    // Below 2^48: checked when the metadata was decoded.
    let from = Address::from_masked(meta.index_meta.start_address.max(log_meta.begin));
    let to = Address::from_masked(log_meta.final_address);
    let start = Address::from_masked(log_meta.start);
    let mut scan = store.log.scan(from, to, record::sizer(layout))?;
    let handle = store.epoch.register()?;
    let mut invalid: Vec<Address> = Vec::new();
    // Records are installed in batches: hash a batch, prefetch its buckets, then install, so
    // that the index's cache misses overlap instead of following one another.
    let mut batch: Vec<(u64, Address)> = Vec::with_capacity(REPLAY_BATCH);
    while let Some(item) = scan.next().map_err(|e| match e {
        faster_hlog::LogError::CorruptRecord { address, reason } => {
            OpenError::CorruptRecord { address, reason }
        }
        other => OpenError::Log(other),
    })? {
        match replayed::<K>(item.address, item.bytes, layout, start)? {
            Replayed::Skip => continue,
            Replayed::NextVersion => {
                invalid.push(item.address);
                continue;
            }
            Replayed::Install(hash) => batch.push((hash, item.address)),
        }
        if batch.len() == REPLAY_BATCH {
            install(store, &handle, &batch);
            batch.clear();
        }
    }
    install(store, &handle, &batch);
    drop(scan);
    invalidate(store, &invalid)?;
    Ok(to.raw() - from.raw())
}

/// What replay does with one record.
enum Replayed {
    /// An invalid record (a lost race): nothing.
    Skip,
    /// A record of the version after the checkpoint's: marked invalid on the device.
    NextVersion,
    /// Its chain's newest record so far, under this key hash.
    Install(u64),
}

/// Classifies the record at `address` (`bytes`); records of the next version lie at or
/// above `start`.
fn replayed<K: Codec + ?Sized>(
    address: Address,
    bytes: &[u8],
    layout: Layout,
    start: Address,
) -> Result<Replayed, OpenError> {
    let parsed = match record::parse(bytes, layout, bytes.len()) {
        Parse::Record(p) => p,
        Parse::NeedBytes(_) => {
            return Err(OpenError::CorruptRecord {
                address,
                reason: "record truncated",
            });
        }
        Parse::Corrupt(reason) => return Err(OpenError::CorruptRecord { address, reason }),
    };
    if parsed.header.is_invalid() {
        return Ok(Replayed::Skip);
    }
    if address >= start && parsed.header.in_new_version() {
        return Ok(Replayed::NextVersion);
    }
    let key = K::decode(parsed.key).map_err(|_| OpenError::CorruptRecord {
        address,
        reason: "key does not decode",
    })?;
    let hash = std::borrow::Borrow::<K>::borrow(&key)
        .hash64()
        .map_err(|_| OpenError::CorruptRecord {
            address,
            reason: "key does not hash",
        })?;
    Ok(Replayed::Install(hash))
}

/// Records installed per batch during replay.
const REPLAY_BATCH: usize = 64;

/// Makes each `(hash, address)` its chain's index entry, in order (later records win).
fn install<K: Codec + ?Sized, V: Codec + ?Sized>(
    store: &Arc<Store<K, V>>,
    handle: &faster_epoch::Handle,
    batch: &[(u64, Address)],
) {
    let guard = handle.protect();
    for &(hash, _) in batch {
        store.index.prefetch(KeyHash(hash), &guard);
    }
    for &(hash, address) in batch {
        loop {
            let Ok(slot) = store.index.find_or_create(KeyHash(hash), &guard) else {
                continue;
            };
            if slot.compare_exchange(slot.address(), address).is_ok() {
                break;
            }
        }
    }
}

/// Sets the invalid bit of each record, on the device and in memory (step 4).
fn invalidate<K: Codec + ?Sized, V: Codec + ?Sized>(
    store: &Arc<Store<K, V>>,
    addresses: &[Address],
) -> Result<(), OpenError> {
    if addresses.is_empty() {
        return Ok(());
    }
    let device = store.log.device();
    let sector = device.geometry().sector_size as u64;
    let head = store.log.head_address();
    let handle = store.epoch.register()?;
    for &address in addresses {
        let at = address.raw() / sector * sector;
        let mut buf = AlignedBuf::options()
            .alignment(sector.max(4096) as usize)
            .zeroed(sector as usize)?;
        device.read_blocking(at, &mut buf)?;
        let offset = (address.raw() - at) as usize;
        let mut header = [0u8; 8];
        header.copy_from_slice(&buf[offset..offset + 8]);
        let patched = u64::from_le_bytes(header) | INVALID;
        buf[offset..offset + 8].copy_from_slice(&patched.to_le_bytes());
        device.write_blocking(at, &buf)?;
        if address >= head {
            let guard = handle.protect();
            if store.log.get(address, &guard).is_some() {
                // SAFETY: rules R1, H6, R11 — `address >= head` was checked under `guard` by
                // `get`, the record is complete (recovered from the device), and nobody else
                // runs yet.
                let record = unsafe {
                    record::InMemory::new(store.log.frame_ptr(address), Store::<K, V>::LAYOUT)
                };
                record.set_bits(INVALID);
            }
        }
    }
    device.flush()?;
    Ok(())
}
