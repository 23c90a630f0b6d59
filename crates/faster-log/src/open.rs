//! Opening a log: creating it when its devices hold none, otherwise recovering it (rules L5,
//! L6) — the newest valid commit record, then a forward scan for fast commits — and recording
//! the open as a new commit with a new generation before returning.
//!
//! A log in a directory is locked and its manifest read (or written) first (`home.rs`); the
//! devices are then opened with the manifest's settings and identity. Opening the devices and
//! reading them may be tried twice (with `O_DIRECT`, then without, when the file system
//! refuses it); the lock and the manifest are taken once, before either attempt.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use faster_device::{Device, DeviceError};
use faster_epoch::Epoch;
use faster_hlog::{Address, HybridLog, LogConfig, RecoveryPoint};

use crate::builder::{Devices, FasterLogBuilder};
use crate::commit::{Commits, LastCommit};
use crate::commit_record::CommitRecord;
use crate::error::LogOpenError;
use crate::handles::EpochHandles;
use crate::home::{DEFAULT_COMMIT_SLOT_SIZE, DEFAULT_PAGE_SIZE_BITS, Home};
use crate::lock::HeldLock;
use crate::log::{FasterLog, Inner, Settings};
use crate::metadata::MetadataStore;
use crate::named::NamedIterators;
use crate::policy::{Background, spawn_committer};
use crate::recovery::{RecoveryInfo, ScanStop, scan_forward};
use crate::stats::LogCounters;

/// Where the log lives, once its directory (if any) is locked.
enum Place {
    Given {
        log: Arc<dyn Device>,
        commit: Arc<dyn Device>,
    },
    Dir(Home),
}

/// A log recovered or created on its devices, not yet running.
struct Prepared {
    settings: Settings,
    hlog: HybridLog,
    epoch: Arc<Epoch>,
    metadata: MetadataStore,
    record: CommitRecord,
    recovery: RecoveryInfo,
    max_record_len: usize,
}

impl FasterLogBuilder {
    /// Opens the log: creates it when the devices hold none, otherwise recovers it — the
    /// newest valid commit record, then a forward scan for fast commits (see the crate
    /// documentation) — and records the open as a new commit with a new generation before
    /// returning.
    ///
    /// A log in a directory is locked for as long as the log, or any iterator of it, lives;
    /// its manifest supplies every shaping setting the builder leaves unset.
    ///
    /// # Errors
    /// [`LogOpenError::InvalidSetting`] for a setting out of range; for a directory,
    /// [`LogOpenError::Locked`] when another open log holds it, [`LogOpenError::NotALog`] when it
    /// holds other files and no manifest, [`LogOpenError::Manifest`] for a damaged manifest,
    /// [`LogOpenError::SettingMismatch`] for a setting that contradicts it,
    /// [`LogOpenError::Io`] naming the file that failed and [`LogOpenError::DirDevice`] for its
    /// devices' errors (a segment file of another log is
    /// [`DeviceError::ForeignSegment`]); [`LogOpenError::CorruptMetadata`],
    /// [`LogOpenError::PageSizeMismatch`] or [`LogOpenError::MissingSegments`] when the devices
    /// hold a log that cannot be recovered as configured; device and thread errors.
    pub fn open(self) -> Result<FasterLog, LogOpenError> {
        let span = match &self.devices {
            Devices::Dir(dir) => tracing::info_span!("faster_log::open", dir = %dir.display()),
            Devices::Given { .. } => tracing::info_span!("faster_log::open", dir = "(devices)"),
        };
        let _entered = span.enter();
        let result = self.open_inner();
        match &result {
            Ok(log) => {
                let r = &log.inner.recovery;
                tracing::info!(
                    created = r.created,
                    committed_until = r.committed_until.raw(),
                    "opened"
                );
            }
            Err(error) => tracing::warn!(%error, "open failed"),
        }
        result
    }

    fn open_inner(self) -> Result<FasterLog, LogOpenError> {
        // Every setting is checked before a directory is touched.
        self.settings(self.shape.page_size_bits.unwrap_or(DEFAULT_PAGE_SIZE_BITS))?;
        let place = match &self.devices {
            Devices::Given { log, commit } => Place::Given {
                log: Arc::clone(log),
                commit: Arc::clone(commit),
            },
            Devices::Dir(dir) => Place::Dir(Home::open(dir, &self.shape)?),
        };
        let direct = self.direct_io && matches!(place, Place::Dir(_));
        let prepared = match self.prepare(&place, direct) {
            Err(LogOpenError::DirDevice {
                source: DeviceError::Io { source, .. },
                ..
            }) if direct && source.kind() == std::io::ErrorKind::InvalidInput => {
                tracing::warn!("FasterLog: O_DIRECT refused ({source}); using buffered I/O");
                self.prepare(&place, false)
            }
            other => other,
        }?;
        let dir_lock = match place {
            Place::Dir(home) => Some(home.into_lock()),
            Place::Given { .. } => None,
        };
        start(prepared, dir_lock)
    }

    /// Opens the devices (files with `O_DIRECT` if `direct_io`) and creates or recovers the
    /// log on them. The first write is the metadata slot's, so a file system that refuses
    /// `O_DIRECT` (`EINVAL`, from opening a file or from that write) is found before anything
    /// else is written.
    fn prepare(&self, place: &Place, direct_io: bool) -> Result<Prepared, LogOpenError> {
        match place {
            Place::Given { log, commit } => {
                let page_size_bits = self.shape.page_size_bits.unwrap_or(DEFAULT_PAGE_SIZE_BITS);
                let slot_size = self
                    .shape
                    .commit_slot_size
                    .unwrap_or(DEFAULT_COMMIT_SLOT_SIZE);
                let devices = [Arc::clone(log), Arc::clone(commit)];
                self.prepare_on(devices, page_size_bits, slot_size)
            }
            Place::Dir(home) => {
                let m = home.manifest();
                let devices = home.devices(direct_io, self.preallocate)?;
                self.prepare_on(devices, m.page_size_bits, m.commit_slot_size)
                    .map_err(|e| match e {
                        LogOpenError::Device(source) => home.device_error(source),
                        other => other,
                    })
            }
        }
    }

    fn prepare_on(
        &self,
        [log_device, commit_device]: [Arc<dyn Device>; 2],
        page_size_bits: u32,
        slot_size: u64,
    ) -> Result<Prepared, LogOpenError> {
        let settings = self.settings(page_size_bits)?;
        let metadata = MetadataStore::new(commit_device, slot_size)?;
        let max_record_len = metadata.max_record_len().min(settings.max_payload);
        let epoch = Epoch::with_capacity(self.max_threads.saturating_add(1))?;
        let config = LogConfig::new()
            .page_size_bits(settings.page_size_bits)
            .memory_pages(self.memory_pages)
            .mutable_fraction(0.0)
            .huge_pages(self.huge_pages);

        let (record, recovery) = match metadata.read_latest()? {
            Some(meta) => recover(&settings, log_device.as_ref(), &meta)?,
            None => create(&settings),
        };
        // The open is itself a commit: it records the new generation (rule L6) before any
        // entry of it can be written.
        metadata.write(&record)?;
        let hlog = if recovery.created {
            HybridLog::open(config, Arc::clone(&log_device), Arc::clone(&epoch))?
        } else {
            let point = RecoveryPoint {
                begin: Address::from_masked(record.begin),
                tail: Address::from_masked(record.until),
            };
            HybridLog::recover(config, Arc::clone(&log_device), Arc::clone(&epoch), point)?
        };
        // Segments below the begin address may remain if the last truncation's removal did
        // not complete.
        if let Err(e) = log_device.truncate_until(record.begin) {
            tracing::warn!("FasterLog: removing segments below {}: {e}", record.begin);
        }
        Ok(Prepared {
            settings,
            hlog,
            epoch,
            metadata,
            record,
            recovery,
            max_record_len,
        })
    }
}

/// Starts the log `prepared`: its shared state, holding the directory's lock if any, and its
/// committer thread.
fn start(prepared: Prepared, dir_lock: Option<HeldLock>) -> Result<FasterLog, LogOpenError> {
    let Prepared {
        settings,
        hlog,
        epoch,
        metadata,
        record,
        recovery,
        max_record_len,
    } = prepared;
    let commit_trigger = settings
        .commit_every_bytes
        .map_or(u64::MAX, |every| (record.until / every + 1) * every);
    let durable = LastCommit {
        sequence: record.sequence,
        committed_until: record.until,
        begin: record.begin,
        removed_begin: record.begin,
        metadata_until: record.until,
        iterators_version: 0,
    };
    let inner = Arc::new(Inner {
        settings,
        hlog,
        handles: EpochHandles::new(epoch),
        metadata,
        generation: record.generation,
        header_generation: record.generation as u32,
        commits: Commits::new(durable),
        named: NamedIterators::new(&record.iterators, max_record_len),
        begin: AtomicU64::new(record.begin),
        background: Arc::new(Background::default()),
        commit_trigger: AtomicU64::new(commit_trigger),
        recovery,
        counters: LogCounters::new(record.until, record.until),
        dir_lock,
    });
    let committer = spawn_committer(&inner).map_err(|e| LogOpenError::Thread(Arc::new(e)))?;
    Ok(FasterLog {
        inner,
        committer: Some(committer),
    })
}

/// The record that opens a new log, and what recovery "found".
fn create(settings: &Settings) -> (CommitRecord, RecoveryInfo) {
    let start = Address::FIRST_VALID.raw();
    let record = CommitRecord {
        sequence: 1,
        generation: fresh_generation(),
        begin: start,
        until: start,
        prev_until: start,
        page_size_bits: settings.page_size_bits as u8,
        fast: false,
        iterators: Vec::new(),
    };
    let info = RecoveryInfo {
        created: true,
        commit_sequence: 0,
        committed_until: Address::FIRST_VALID,
        begin: Address::FIRST_VALID,
        fast_commits_replayed: 0,
        scan_stopped_at: Address::FIRST_VALID,
        scan_stop: ScanStop::EndOfLog,
    };
    (record, info)
}

/// Recovers from the newest metadata record `meta`: the record that reopens the log, and
/// what recovery found.
fn recover(
    settings: &Settings,
    log_device: &dyn Device,
    meta: &CommitRecord,
) -> Result<(CommitRecord, RecoveryInfo), LogOpenError> {
    let _span = tracing::info_span!("faster_log::recover", sequence = meta.sequence).entered();
    if u32::from(meta.page_size_bits) != settings.page_size_bits {
        return Err(LogOpenError::PageSizeMismatch {
            stored: meta.page_size_bits,
            configured: settings.page_size_bits,
        });
    }
    let device_begin = log_device.begin_offset();
    if device_begin > meta.begin {
        return Err(LogOpenError::MissingSegments {
            begin: meta.begin,
            device_begin,
        });
    }
    let scan = scan_forward(log_device, settings.page_size_bits, meta)?;
    let found = scan.record;
    let record = CommitRecord {
        sequence: found.sequence + 1,
        generation: next_generation(meta.generation),
        begin: found.begin,
        until: scan.until,
        prev_until: scan.until,
        page_size_bits: found.page_size_bits,
        fast: false,
        iterators: found.iterators,
    };
    let info = RecoveryInfo {
        created: false,
        commit_sequence: found.sequence,
        committed_until: Address::from_masked(scan.until),
        begin: Address::from_masked(found.begin),
        fast_commits_replayed: scan.fast_commits,
        scan_stopped_at: Address::from_masked(scan.stopped_at),
        scan_stop: scan.stop,
    };
    tracing::debug!(
        committed_until = scan.until,
        fast_commits = scan.fast_commits,
        stop = ?info.scan_stop,
        "scanned forward from the last commit"
    );
    Ok((record, info))
}

/// The generation after `generation`, skipping values whose low 32 bits are zero (entries
/// carry the low 32 bits, and zero marks an empty header).
fn next_generation(generation: u64) -> u64 {
    let next = generation.wrapping_add(1);
    if next as u32 == 0 {
        next.wrapping_add(1)
    } else {
        next
    }
}

/// The generation of a new log: unpredictable, so that entries of an earlier log whose
/// metadata was deleted are not taken for this log's (rule L6).
fn fresh_generation() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let local = 0u8;
    let stack = std::ptr::from_ref(&local) as u64;
    let seed = nanos ^ (u64::from(std::process::id()) << 32) ^ stack.rotate_left(17);
    let hash = crate::entry::checksum(seed, 0, 1, seed);
    // Keep it small enough to read, and never zero in its low 32 bits.
    next_generation(hash & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_skip_a_zero_low_word() {
        assert_eq!(next_generation(5), 6);
        assert_eq!(next_generation(0xffff_ffff), 0x1_0000_0001);
        for _ in 0..100 {
            assert_ne!(fresh_generation() as u32, 0);
        }
    }
}
