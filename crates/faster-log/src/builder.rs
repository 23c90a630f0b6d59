//! [`FasterLogBuilder`]: the settings, validated once, and opening — which is recovery when
//! the devices already hold a log (rules L5, L6).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use faster_device::{Device, DeviceError, FileDevice};
use faster_epoch::Epoch;
use faster_hlog::{Address, HybridLog, LogConfig, RecoveryPoint};

use crate::commit::{Commits, Durable};
use crate::commit_record::CommitRecord;
use crate::entry::ENTRY_HEADER_SIZE;
use crate::error::OpenError;
use crate::handles::EpochHandles;
use crate::log::{FasterLog, Inner, Settings};
use crate::metadata::MetadataStore;
use crate::named::NamedIterators;
use crate::policy::{Background, CommitPolicy, spawn_committer};
use crate::recovery::{RecoveryInfo, ScanStop, scan_forward};

/// Where the log lives.
#[derive(Clone)]
enum Devices {
    Given {
        log: Arc<dyn Device>,
        commit: Arc<dyn Device>,
    },
    Dir(PathBuf),
}

/// Settings of a [`FasterLog`]; start from [`FasterLog::builder`] or
/// [`FasterLog::builder_in_dir`]. Every setter states its default; [`FasterLogBuilder::open`]
/// checks them all.
#[derive(Clone)]
pub struct FasterLogBuilder {
    devices: Devices,
    page_size_bits: u32,
    memory_pages: u64,
    huge_pages: bool,
    policy: CommitPolicy,
    fast_commit: bool,
    metadata_interval_bytes: u64,
    commit_slot_size: u64,
    max_threads: usize,
    segment_size: u64,
    direct_io: bool,
    preallocate: bool,
}

impl std::fmt::Debug for FasterLogBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let devices = match &self.devices {
            Devices::Given { .. } => "given devices".to_owned(),
            Devices::Dir(dir) => format!("files in {}", dir.display()),
        };
        f.debug_struct("FasterLogBuilder")
            .field("devices", &devices)
            .field("page_size_bits", &self.page_size_bits)
            .field("memory_pages", &self.memory_pages)
            .field("policy", &self.policy)
            .field("fast_commit", &self.fast_commit)
            .finish_non_exhaustive()
    }
}

impl FasterLog {
    /// A log whose entries live on `log_device` and whose commit metadata (two small slots)
    /// lives on `commit_device`. Any [`Device`] works: files, memory, or a fault-injecting
    /// wrapper. Both must keep their contents for the log to be recovered.
    pub fn builder(
        log_device: Arc<dyn Device>,
        commit_device: Arc<dyn Device>,
    ) -> FasterLogBuilder {
        FasterLogBuilder::new(Devices::Given {
            log: log_device,
            commit: commit_device,
        })
    }

    /// A log in the directory `dir` (created if needed): segment files `log.NNNNNNNN` for
    /// the entries and `commit.00000000` for the commit metadata, opened with
    /// [`FileDevice`] when the log is opened.
    pub fn builder_in_dir(dir: impl AsRef<Path>) -> FasterLogBuilder {
        FasterLogBuilder::new(Devices::Dir(dir.as_ref().to_path_buf()))
    }
}

impl FasterLogBuilder {
    fn new(devices: Devices) -> Self {
        Self {
            devices,
            page_size_bits: 22,
            memory_pages: 16,
            huge_pages: true,
            policy: CommitPolicy::Explicit,
            fast_commit: true,
            metadata_interval_bytes: 64 << 20,
            commit_slot_size: 64 << 10,
            max_threads: faster_epoch::DEFAULT_CAPACITY,
            segment_size: 1 << 30,
            direct_io: true,
            preallocate: true,
        }
    }

    /// Page size as a power of two. An entry (payload plus 16-byte header) and a whole batch
    /// must fit in one page. A log must be reopened with the page size it was written with.
    /// Default: 22 (4 MiB). Valid: 12..=30.
    #[must_use]
    pub fn page_size_bits(mut self, bits: u32) -> Self {
        self.page_size_bits = bits;
        self
    }

    /// The memory budget in pages (a power of two, at least 4): enqueues wait for flushes
    /// when this many pages are not yet written to the device. Default: 16 (64 MiB with the
    /// default page size).
    #[must_use]
    pub fn memory_pages(mut self, pages: u64) -> Self {
        self.memory_pages = pages;
        self
    }

    /// Ask for transparent huge pages for page frames of 2 MiB or more. Default: true.
    #[must_use]
    pub fn huge_pages(mut self, on: bool) -> Self {
        self.huge_pages = on;
        self
    }

    /// When the log commits by itself. Default: [`CommitPolicy::Explicit`].
    #[must_use]
    pub fn commit_policy(mut self, policy: CommitPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Fast commits: a commit whose range stays within one page writes its commit record into
    /// the log itself, so it costs one device flush instead of two (rule L5). Default: true.
    #[must_use]
    pub fn fast_commit(mut self, on: bool) -> Self {
        self.fast_commit = on;
        self
    }

    /// In fast-commit mode, write the commit record to a metadata slot at least once every
    /// this many bytes of log, which bounds recovery's forward scan. Default: 64 MiB.
    /// Valid: at least 1.
    #[must_use]
    pub fn metadata_interval_bytes(mut self, bytes: u64) -> Self {
        self.metadata_interval_bytes = bytes;
        self
    }

    /// Bytes of each of the two metadata slots: a multiple of the commit device's sector
    /// size. It bounds the commit record, whose size grows with the named iterators (10
    /// bytes plus the name each). A log must always be opened with the same slot size: the
    /// slots' places depend on it. Default: 64 KiB.
    #[must_use]
    pub fn commit_slot_size(mut self, bytes: u64) -> Self {
        self.commit_slot_size = bytes;
        self
    }

    /// How many threads may use the log at once: each thread that enqueues, commits or reads
    /// keeps one slot of the log's epoch table until it exits (the table has one more slot,
    /// for the log's own committer thread). Default: 128. Valid: at least 1.
    #[must_use]
    pub fn max_threads(mut self, threads: usize) -> Self {
        self.max_threads = threads;
        self
    }

    /// For [`FasterLog::builder_in_dir`]: bytes per log segment file, the unit in which
    /// truncation frees disk space. Default: 1 GiB. Valid: a power of two of at least 4096.
    #[must_use]
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
        self
    }

    /// For [`FasterLog::builder_in_dir`]: open the files with `O_DIRECT`. The log keeps its
    /// newest pages in memory itself, so the page cache would only hold a second copy and
    /// cost a second memory copy per byte written. When the file system refuses `O_DIRECT`
    /// (tmpfs, for one), the log falls back to buffered I/O and logs a warning.
    /// Default: true.
    #[must_use]
    pub fn direct_io(mut self, on: bool) -> Self {
        self.direct_io = on;
        self
    }

    /// For [`FasterLog::builder_in_dir`]: reserve each new log segment's blocks when it is
    /// created, so that commits overwrite allocated blocks (a write and flush costs ≈ 100 µs
    /// instead of ≈ 170 µs on ext4). Default: true.
    #[must_use]
    pub fn preallocate(mut self, on: bool) -> Self {
        self.preallocate = on;
        self
    }

    fn settings(&self) -> Result<Settings, OpenError> {
        let bits = self.page_size_bits;
        if !(faster_hlog::MIN_PAGE_SIZE_BITS..=faster_hlog::MAX_PAGE_SIZE_BITS).contains(&bits) {
            return Err(OpenError::InvalidConfig(format!(
                "page_size_bits {bits} is outside 12..=30"
            )));
        }
        let commit_every_bytes = match self.policy {
            CommitPolicy::EveryBytes(0) => {
                return Err(OpenError::InvalidConfig(
                    "CommitPolicy::EveryBytes needs at least 1 byte".into(),
                ));
            }
            CommitPolicy::EveryBytes(bytes) => Some(bytes),
            CommitPolicy::EveryInterval(every) if every < Duration::from_millis(1) => {
                return Err(OpenError::InvalidConfig(
                    "CommitPolicy::EveryInterval needs at least 1 ms".into(),
                ));
            }
            _ => None,
        };
        if self.max_threads == 0 {
            return Err(OpenError::InvalidConfig(
                "max_threads must be at least 1".into(),
            ));
        }
        if self.metadata_interval_bytes == 0 {
            return Err(OpenError::InvalidConfig(
                "metadata_interval_bytes must be at least 1".into(),
            ));
        }
        let page_size = 1u64 << bits;
        Ok(Settings {
            page_size_bits: bits,
            page_size,
            max_payload: (page_size as usize) - ENTRY_HEADER_SIZE,
            fast_commit: self.fast_commit,
            metadata_interval_bytes: self.metadata_interval_bytes,
            policy: self.policy,
            commit_every_bytes,
        })
    }

    /// The log device and the commit device.
    fn devices(&self, direct_io: bool) -> Result<[Arc<dyn Device>; 2], OpenError> {
        match &self.devices {
            Devices::Given { log, commit } => Ok([Arc::clone(log), Arc::clone(commit)]),
            Devices::Dir(dir) => {
                let log = FileDevice::builder(dir)
                    .prefix("log")
                    .segment_size(self.segment_size)
                    .direct_io(direct_io)
                    .preallocate(self.preallocate)
                    .open()?;
                let commit = FileDevice::builder(dir)
                    .prefix("commit")
                    .direct_io(direct_io)
                    .segment_size((2 * self.commit_slot_size).next_power_of_two().max(4096))
                    .io_threads(1)
                    .max_io_threads(2)
                    .open()?;
                Ok([Arc::new(log), Arc::new(commit)])
            }
        }
    }

    /// Opens the log: creates it when the devices hold none, otherwise recovers it — the
    /// newest valid commit record, then a forward scan for fast commits (see the crate
    /// documentation) — and records the open as a new commit with a new generation before
    /// returning.
    ///
    /// # Errors
    /// [`OpenError::InvalidConfig`] for a bad setting; [`OpenError::CorruptMetadata`],
    /// [`OpenError::PageSizeMismatch`] or [`OpenError::MissingSegments`] when the devices
    /// hold a log that cannot be recovered as configured; device and thread errors.
    pub fn open(self) -> Result<FasterLog, OpenError> {
        let direct = self.direct_io && matches!(self.devices, Devices::Dir(_));
        match self.open_with(direct) {
            Err(OpenError::Device(DeviceError::Io { source, .. }))
                if direct && source.kind() == std::io::ErrorKind::InvalidInput =>
            {
                log::warn!("FasterLog: O_DIRECT refused ({source}); using buffered I/O");
                self.open_with(false)
            }
            other => other,
        }
    }

    /// Opens the log, with `O_DIRECT` files if `direct_io` (files only). The first write of
    /// an open is the metadata slot's, so a file system that refuses `O_DIRECT` (`EINVAL`,
    /// from opening a file or from that write) is found before anything else is written.
    fn open_with(&self, direct_io: bool) -> Result<FasterLog, OpenError> {
        let settings = self.settings()?;
        let [log_device, commit_device] = self.devices(direct_io)?;
        let metadata = MetadataStore::new(commit_device, self.commit_slot_size)?;
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
            log::warn!("FasterLog: removing segments below {}: {e}", record.begin);
        }

        let commit_trigger = settings
            .commit_every_bytes
            .map_or(u64::MAX, |every| (record.until / every + 1) * every);
        let durable = Durable {
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
        });
        let committer = spawn_committer(&inner).map_err(|e| OpenError::Thread(Arc::new(e)))?;
        Ok(FasterLog {
            inner,
            committer: Some(committer),
        })
    }
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
) -> Result<(CommitRecord, RecoveryInfo), OpenError> {
    if u32::from(meta.page_size_bits) != settings.page_size_bits {
        return Err(OpenError::PageSizeMismatch {
            stored: meta.page_size_bits,
            configured: settings.page_size_bits,
        });
    }
    let device_begin = log_device.begin_offset();
    if device_begin > meta.begin {
        return Err(OpenError::MissingSegments {
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
