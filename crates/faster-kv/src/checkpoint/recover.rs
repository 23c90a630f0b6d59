//! Recovery from a checkpoint (rule R11).
//!
//! 1. Pick the checkpoint: the one asked for, or the newest complete one with a log part
//!    whose metadata, index snapshot and snapshot files all check out (damaged or incomplete
//!    newer ones are skipped and reported). Nothing is written before this choice.
//!    Then every newer checkpoint loses its completion marker: recovering this one rewrites
//!    or overwrites the log they need.
//! 2. Snapshots: write the chain's snapshot chunks (base first, increments in order) back to
//!    the log's device at their addresses, at and above the checkpoint's snapshot start. The
//!    device then holds the log up to the checkpoint's final address, as after a fold-over.
//! 3. Reopen the hybrid log at `(begin, final)` and load the index snapshot.
//! 4. Replay `[index start, final)` in address order: a record of the next version (in-new-
//!    version bit, at or above the checkpoint's start) is marked invalid on the device; every
//!    other valid record becomes its chain's index entry. The entry then points at each chain's
//!    newest record of the checkpoint's version.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faster_cpr::{CheckpointDir, CheckpointMeta, LogCheckpointKind, SNAPSHOT_FILE, SessionCommit};
use faster_device::{AlignedBuf, DeviceExt};
use faster_epoch::Epoch;
use faster_hlog::{Address, HybridLog, RecoveryPoint};
use faster_index::KeyHash;

use super::jobs::read_index_snapshot;
use super::snapshot::{SnapshotChunk, SnapshotReader};
use crate::codec::Codec;
use crate::config::FasterKvBuilder;
use crate::record::{self, INVALID, Parse};
use crate::store::{FasterKv, Store, StoreParts};

/// Errors of recovery; each names the file or address involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoverError {
    /// The store has no checkpoint directory to recover from.
    #[error("the store has no checkpoint directory")]
    NoCheckpointDir,
    /// The directory holds no complete checkpoint (damaged ones are listed).
    #[error("no complete checkpoint in {}{}", dir.display(), describe(skipped))]
    NoCheckpoint {
        /// The checkpoint directory.
        dir: PathBuf,
        /// Checkpoints that were skipped, with the reason.
        skipped: Vec<(u64, String)>,
    },
    /// The checkpoint asked for is damaged, or a file it needs is.
    #[error(transparent)]
    Checkpoint(#[from] faster_cpr::CheckpointError),
    /// A snapshot file is damaged.
    #[error("{}: {source}", path.display())]
    Snapshot {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: faster_cpr::FormatError,
    },
    /// The index snapshot could not be read.
    #[error("{}: {source}", path.display())]
    Index {
        /// The checkpoint directory holding the snapshot.
        path: PathBuf,
        /// What is wrong.
        source: faster_index::IndexError,
    },
    /// A record in the recovered range of the log is damaged.
    #[error("corrupt record at {address}: {reason}")]
    CorruptRecord {
        /// Its address.
        address: Address,
        /// What is wrong.
        reason: &'static str,
    },
    /// The store could not be opened (settings, device, log).
    #[error("open: {0}")]
    Open(#[from] crate::error::OpenError),
    /// The log failed while recovering.
    #[error("log: {0}")]
    Log(#[from] faster_hlog::LogError),
    /// The device failed while recovering.
    #[error("device: {0}")]
    Device(#[from] faster_device::DeviceError),
}

fn describe(skipped: &[(u64, String)]) -> String {
    skipped
        .iter()
        .map(|(t, why)| format!("; skipped {t}: {why}"))
        .collect()
}

/// What recovery restored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovered {
    /// The checkpoint recovered.
    pub token: u64,
    /// Its version: the store continues in `version + 1`.
    pub version: u32,
    /// Every session's recovered commit point; continue one with
    /// [`FasterKv::continue_session`].
    pub sessions: Vec<SessionCommit>,
    /// Newer checkpoints that were skipped, with the reason.
    pub skipped: Vec<(u64, String)>,
    /// Bytes of log replayed into the index.
    pub replayed_bytes: u64,
    /// Wall time of the recovery.
    pub duration: Duration,
}

impl FasterKvBuilder {
    /// Opens the store from the checkpoint `token`, or from the newest valid checkpoint when
    /// `token` is `None`. The settings must match those the checkpoint was taken with (the
    /// page size in particular).
    ///
    /// # Errors
    /// [`RecoverError`] naming the damaged file or record; never a panic.
    pub fn recover<K: Codec + ?Sized, V: Codec + ?Sized>(
        self,
        token: Option<u64>,
    ) -> Result<(FasterKv<K, V>, Recovered), RecoverError> {
        let started = Instant::now();
        let root = self
            .checkpoint_root()
            .ok_or(RecoverError::NoCheckpointDir)?;
        let dir = CheckpointDir::open(&root)?;
        let config = self.log_config()?;
        let page_size = config.page_size();
        let epoch = Epoch::with_capacity(self.max_sessions.saturating_add(8))
            .map_err(|e| crate::error::OpenError::InvalidConfig(e.to_string()))?;
        let mut skipped = Vec::new();
        // The checkpoint, its index snapshot (loaded) — all checked before anything is
        // written to the log's device, so that a damaged newest checkpoint leaves the device
        // as it was for the next candidate.
        let (meta, index) = match token {
            Some(token) => {
                let meta = dir.read(token)?;
                let index = validate(&dir, &meta, page_size, &epoch)?;
                (meta, index)
            }
            None => {
                let mut chosen = None;
                for token in dir.tokens()?.into_iter().rev() {
                    let meta = match dir.read(token) {
                        Ok(meta) if meta.log.is_some() => meta,
                        Ok(_) => continue,
                        Err(e) => {
                            skipped.push((token, e.to_string()));
                            continue;
                        }
                    };
                    match validate(&dir, &meta, page_size, &epoch) {
                        Ok(index) => {
                            chosen = Some((meta, index));
                            break;
                        }
                        Err(e) => skipped.push((token, e.to_string())),
                    }
                }
                chosen.ok_or_else(|| RecoverError::NoCheckpoint {
                    dir: root.clone(),
                    skipped: skipped.clone(),
                })?
            }
        };
        let Some(log_meta) = meta.log.clone() else {
            return Err(RecoverError::Checkpoint(
                faster_cpr::CheckpointError::Corrupt {
                    path: dir.token_dir(meta.token),
                    source: faster_cpr::FormatError::Inconsistent(
                        "an index-only checkpoint cannot be recovered alone",
                    ),
                },
            ));
        };
        // Every newer checkpoint needs log bytes that recovering this one rewrites (snapshot
        // chunks, next-version records marked invalid) or that the store overwrites from the
        // final address on: each loses its completion marker, durably, before the device is
        // touched, so that none can be recovered later over the wrong log. Their files stay
        // for inspection until the next checkpoint's retention removes them.
        for newer in dir.tokens()?.into_iter().filter(|&t| t > meta.token) {
            dir.retire(newer)?;
        }
        let device = self.open_device()?;
        if log_meta.kind != LogCheckpointKind::FoldOver {
            restore_snapshots(&dir, &meta, page_size, &*device)?;
        }
        let log = HybridLog::recover(
            config,
            device,
            Arc::clone(&epoch),
            RecoveryPoint {
                begin: Address::from_masked(log_meta.begin),
                tail: Address::from_masked(log_meta.final_address),
            },
        )?;
        let kv: FasterKv<K, V> = FasterKv {
            store: Arc::new(Store::assemble(StoreParts {
                builder: &self,
                epoch,
                log,
                index,
                version: meta.version.wrapping_add(1),
                checkpoint_dir: Some(dir),
                last: Some(meta.clone()),
            })),
        };
        let replayed_bytes = replay(&kv.store, &meta)?;
        kv.store.cpr.sessions.restore(&meta.sessions);
        Ok((
            kv,
            Recovered {
                token: meta.token,
                version: meta.version,
                sessions: meta.sessions,
                skipped,
                replayed_bytes,
                duration: started.elapsed(),
            },
        ))
    }
}

/// Loads the index snapshot of `meta` and checks every snapshot file it needs, without
/// touching the log's device.
fn validate(
    dir: &CheckpointDir,
    meta: &CheckpointMeta,
    page_size: u64,
    epoch: &Arc<Epoch>,
) -> Result<faster_index::HashIndex, RecoverError> {
    let index_dir = dir.token_dir(meta.index_token);
    let index = read_index_snapshot(&index_dir, Arc::clone(epoch)).map_err(|source| {
        RecoverError::Index {
            path: index_dir.clone(),
            source,
        }
    })?;
    if meta
        .log
        .as_ref()
        .is_some_and(|log| log.kind != LogCheckpointKind::FoldOver)
    {
        each_snapshot_chunk(dir, meta, page_size, |_, _| Ok(()))?;
    }
    Ok(index)
}

/// Reads the snapshot chain of `meta` (base first, then each increment), checking every
/// file's checksums, and hands each chunk to `f` with its file's path.
fn each_snapshot_chunk(
    dir: &CheckpointDir,
    meta: &CheckpointMeta,
    page_size: u64,
    mut f: impl FnMut(&Path, SnapshotChunk) -> Result<(), RecoverError>,
) -> Result<(), RecoverError> {
    let Some(log) = &meta.log else { return Ok(()) };
    for token in log.base_chain.iter().copied().chain([meta.token]) {
        let path = dir.token_dir(token).join(SNAPSHOT_FILE);
        let file = std::fs::File::open(&path).map_err(|e| faster_cpr::CheckpointError::Io {
            path: path.clone(),
            source: e,
        })?;
        let snapshot_err = |source| RecoverError::Snapshot {
            path: path.clone(),
            source,
        };
        let mut reader =
            SnapshotReader::open(std::io::BufReader::new(file), token, page_size as usize)
                .map_err(snapshot_err)?;
        while let Some(chunk) = reader.next_chunk().map_err(snapshot_err)? {
            f(&path, chunk)?;
        }
    }
    Ok(())
}

/// Writes the snapshot chain of `meta` back to the log's device (step 2).
fn restore_snapshots(
    dir: &CheckpointDir,
    meta: &CheckpointMeta,
    page_size: u64,
    device: &dyn faster_device::Device,
) -> Result<(), RecoverError> {
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
            return Err(RecoverError::Snapshot {
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
) -> Result<u64, RecoverError> {
    let Some(log_meta) = &meta.log else {
        return Ok(0);
    };
    let layout = Store::<K, V>::LAYOUT;
    let from = meta.index_meta.start_address.max(log_meta.begin);
    let to = log_meta.final_address;
    let sizer = move |bytes: &[u8]| -> Option<u64> {
        if bytes.get(..8).is_none_or(|h| h == [0u8; 8]) {
            return None;
        }
        match record::parse(bytes, layout, bytes.len()) {
            Parse::Record(p) => Some(p.size as u64),
            // Let the scan report it: a size past the page is corruption.
            Parse::NeedBytes(n) => Some(n as u64),
            Parse::Corrupt(_) => Some(u64::MAX),
        }
    };
    let mut scan = store
        .log
        .scan(Address::from_masked(from), Address::from_masked(to), sizer)?;
    let handle = store
        .epoch
        .register()
        .map_err(|e| crate::error::OpenError::InvalidConfig(e.to_string()))?;
    let mut invalid: Vec<Address> = Vec::new();
    // Records are installed in batches: hash a batch, prefetch its buckets, then install, so
    // that the index's cache misses overlap instead of following one another.
    let mut batch: Vec<(u64, Address)> = Vec::with_capacity(REPLAY_BATCH);
    while let Some(item) = scan.next().map_err(|e| match e {
        faster_hlog::LogError::CorruptRecord { address, reason } => {
            RecoverError::CorruptRecord { address, reason }
        }
        other => RecoverError::Log(other),
    })? {
        let address = item.address;
        let parsed = match record::parse(item.bytes, layout, item.bytes.len()) {
            Parse::Record(p) => p,
            Parse::NeedBytes(_) => {
                return Err(RecoverError::CorruptRecord {
                    address,
                    reason: "record truncated",
                });
            }
            Parse::Corrupt(reason) => return Err(RecoverError::CorruptRecord { address, reason }),
        };
        if parsed.header.is_invalid() {
            continue;
        }
        if address.raw() >= log_meta.start && parsed.header.in_new_version() {
            invalid.push(address);
            continue;
        }
        let key = K::decode(parsed.key).map_err(|_| RecoverError::CorruptRecord {
            address,
            reason: "key does not decode",
        })?;
        let hash = std::borrow::Borrow::<K>::borrow(&key)
            .hash64()
            .map_err(|_| RecoverError::CorruptRecord {
                address,
                reason: "key does not hash",
            })?;
        batch.push((hash, address));
        if batch.len() == REPLAY_BATCH {
            install(store, &handle, &batch);
            batch.clear();
        }
    }
    install(store, &handle, &batch);
    drop(scan);
    invalidate(store, &invalid)?;
    Ok(to - from)
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
            if slot.compare_exchange(slot.address(), address.raw()).is_ok() {
                break;
            }
        }
    }
}

/// Sets the invalid bit of each record, on the device and in memory (step 4).
fn invalidate<K: Codec + ?Sized, V: Codec + ?Sized>(
    store: &Arc<Store<K, V>>,
    addresses: &[Address],
) -> Result<(), RecoverError> {
    if addresses.is_empty() {
        return Ok(());
    }
    let device = store.log.device();
    let sector = device.geometry().sector_size as u64;
    let head = store.log.head_address();
    let handle = store
        .epoch
        .register()
        .map_err(|e| crate::error::OpenError::InvalidConfig(e.to_string()))?;
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
                // SAFETY: rule R1 — `address >= head` was checked under `guard` by `get`, the
                // record is complete (recovered from the device), and nobody else runs yet.
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
