//! [`FasterLogBuilder`]: the settings, each with its default, and their validation. Opening
//! is in `open.rs`; a log in a directory is in `home.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faster_device::Device;

use crate::entry::ENTRY_HEADER_SIZE;
use crate::error::LogOpenError;
use crate::home::Shape;
use crate::log::{FasterLog, Settings};
use crate::policy::CommitPolicy;

/// Where the log lives.
#[derive(Clone)]
pub(crate) enum Devices {
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
    pub(crate) devices: Devices,
    /// The settings that shape the log's bytes; unset ones come from a directory's manifest,
    /// or are the defaults.
    pub(crate) shape: Shape,
    pub(crate) memory_pages: u64,
    pub(crate) huge_pages: bool,
    pub(crate) policy: CommitPolicy,
    pub(crate) fast_commit: bool,
    pub(crate) metadata_interval_bytes: u64,
    pub(crate) max_threads: usize,
    pub(crate) direct_io: bool,
    pub(crate) preallocate: bool,
}

impl std::fmt::Debug for FasterLogBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let devices = match &self.devices {
            Devices::Given { .. } => "given devices".to_owned(),
            Devices::Dir(dir) => format!("files in {}", dir.display()),
        };
        f.debug_struct("FasterLogBuilder")
            .field("devices", &devices)
            .field("page_size_bits", &self.shape.page_size_bits)
            .field("segment_size", &self.shape.segment_size)
            .field("commit_slot_size", &self.shape.commit_slot_size)
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

    /// A log in the directory `dir` (created if needed): a `MANIFEST` recording the log's
    /// identity and the settings that shape its bytes, segment files `log.NNNNNNNN` for the
    /// entries and `commit.00000000` for the commit metadata (opened with
    /// [`FileDevice`](crate::FileDevice)), and a `LOCK` file. The open log holds the
    /// directory's lock, so one process at a time uses it; a reopen needs none of the shaping
    /// settings repeated.
    pub fn builder_in_dir(dir: impl AsRef<Path>) -> FasterLogBuilder {
        FasterLogBuilder::new(Devices::Dir(dir.as_ref().to_path_buf()))
    }
}

impl FasterLogBuilder {
    fn new(devices: Devices) -> Self {
        Self {
            devices,
            shape: Shape::default(),
            memory_pages: 16,
            huge_pages: true,
            policy: CommitPolicy::Explicit,
            fast_commit: true,
            metadata_interval_bytes: 64 << 20,
            max_threads: faster_epoch::DEFAULT_CAPACITY,
            direct_io: true,
            preallocate: true,
        }
    }

    /// Page size as a power of two. An entry (payload plus 16-byte header) and a whole batch
    /// must fit in one page. A log keeps the page size it was created with: in a directory,
    /// a reopen that leaves this unset takes it from the manifest, and one that sets another
    /// value is refused ([`LogOpenError::SettingMismatch`]); on given devices it must be repeated
    /// ([`LogOpenError::PageSizeMismatch`]). Default: 22 (4 MiB). Valid: 12..=30.
    #[must_use]
    pub fn page_size_bits(mut self, bits: u32) -> Self {
        self.shape.page_size_bits = Some(bits);
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
    /// bytes plus the name each). A log keeps the slot size it was created with (the slots'
    /// places depend on it): in a directory, a reopen that leaves this unset takes it from
    /// the manifest, and one that sets another value is refused
    /// ([`LogOpenError::SettingMismatch`]). Default: 64 KiB. Valid in a directory: a multiple
    /// of 4096, at most 16 MiB.
    #[must_use]
    pub fn commit_slot_size(mut self, bytes: u64) -> Self {
        self.shape.commit_slot_size = Some(bytes);
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
    /// truncation frees disk space. A log keeps the segment size it was created with: a
    /// reopen that leaves this unset takes it from the manifest, and one that sets another
    /// value is refused ([`LogOpenError::SettingMismatch`]). Ignored on given devices.
    /// Default: 1 GiB. Valid: a power of two from 4096 to 2^48.
    #[must_use]
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.shape.segment_size = Some(bytes);
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

    /// The settings the log runs with, for pages of `2^page_size_bits` bytes.
    ///
    /// # Errors
    /// [`LogOpenError::InvalidSetting`] naming the first setting out of range.
    pub(crate) fn settings(&self, page_size_bits: u32) -> Result<Settings, LogOpenError> {
        let bits = page_size_bits;
        if !(faster_hlog::MIN_PAGE_SIZE_BITS..=faster_hlog::MAX_PAGE_SIZE_BITS).contains(&bits) {
            return Err(LogOpenError::invalid(
                "page_size_bits",
                format!("{bits} is outside 12..=30"),
            ));
        }
        let commit_every_bytes = match self.policy {
            CommitPolicy::EveryBytes(0) => {
                return Err(LogOpenError::invalid(
                    "commit_policy",
                    "CommitPolicy::EveryBytes needs at least 1 byte",
                ));
            }
            CommitPolicy::EveryBytes(bytes) => Some(bytes),
            CommitPolicy::EveryInterval(every) if every < Duration::from_millis(1) => {
                return Err(LogOpenError::invalid(
                    "commit_policy",
                    "CommitPolicy::EveryInterval needs at least 1 ms",
                ));
            }
            _ => None,
        };
        if self.max_threads == 0 {
            return Err(LogOpenError::invalid("max_threads", "must be at least 1"));
        }
        if self.metadata_interval_bytes == 0 {
            return Err(LogOpenError::invalid(
                "metadata_interval_bytes",
                "must be at least 1",
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
}
