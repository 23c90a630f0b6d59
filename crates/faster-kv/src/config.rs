//! [`FasterKvBuilder`]: every setting of a store, with its default, and [`Settings`], the
//! values a store runs with once the builder's choices, the manifest of a store that exists,
//! and the defaults are put together and checked.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faster_device::Device;
use faster_hlog::LogConfig;
use faster_index::IndexConfig;

use crate::checkpoint::options::CheckpointOptions;
use crate::error::OpenError;
use crate::manifest::{Manifest, Remembered};

/// Where a store keeps the log's pages that do not fit in memory.
#[derive(Clone)]
pub(crate) enum Storage {
    /// Segment files in a directory ([`FileDevice`](faster_device::FileDevice), io_uring
    /// when available).
    Dir(PathBuf),
    /// An in-memory device: nothing survives the process, but data beyond the memory budget
    /// still spills to it rather than being lost.
    Memory,
    /// A device the caller built.
    Device(Arc<dyn Device>),
}

impl Storage {
    /// Whether the store opens (and closes) the device itself.
    pub(crate) fn is_owned(&self) -> bool {
        !matches!(self, Self::Device(_))
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(dir) => f.debug_tuple("Dir").field(dir).finish(),
            Self::Memory => f.write_str("Memory"),
            Self::Device(_) => f.write_str("Device(..)"),
        }
    }
}

/// Settings of a [`FasterKv`](crate::FasterKv). Every setter states its default.
///
/// Reopening a store needs none of them: the page size, the segment size and the types are
/// read back from the store's manifest (a setter that contradicts them is refused), and the
/// memory budget, mutable fraction, index size, checkpoint directory and retention of the last
/// open are remembered (a setter changes them, and the new value is remembered in turn).
#[derive(Debug, Clone)]
pub struct FasterKvBuilder {
    pub(crate) storage: Storage,
    pub(crate) memory_bytes: Option<u64>,
    pub(crate) page_size_bits: Option<u32>,
    pub(crate) mutable_fraction: Option<f64>,
    pub(crate) index_buckets: Option<u64>,
    pub(crate) huge_pages: bool,
    pub(crate) segment_size: Option<u64>,
    pub(crate) max_sessions: usize,
    pub(crate) checkpoint_dir: Option<PathBuf>,
    pub(crate) checkpoint_retention: Option<usize>,
    pub(crate) snapshot_buffer: Option<u64>,
    pub(crate) policy: CheckpointPolicy,
    pub(crate) check_type_names: bool,
}

/// Default memory budget for the log's pages: 256 MiB.
pub const DEFAULT_MEMORY_BYTES: u64 = 256 << 20;
/// Default number of index buckets: 2^20 (64 MiB of table, about 7 million keys before
/// overflow buckets are needed).
pub const DEFAULT_INDEX_BUCKETS: u64 = 1 << 20;
/// Default log page size: 2^22 bytes (4 MiB).
pub const DEFAULT_PAGE_SIZE_BITS: u32 = 22;
/// Default size of a log segment file: 1 GiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 1 << 30;
const DEFAULT_MUTABLE_FRACTION: f64 = 0.9;
const DEFAULT_RETENTION: usize = 2;

/// When the store takes checkpoints by itself; see [`FasterKvBuilder::checkpoint_every`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CheckpointPolicy {
    pub(crate) every: Option<Duration>,
    pub(crate) after_bytes: Option<u64>,
    pub(crate) on_close: bool,
    pub(crate) options: CheckpointOptions,
}

impl CheckpointPolicy {
    pub(crate) fn is_background(&self) -> bool {
        self.every.is_some() || self.after_bytes.is_some()
    }
}

impl Default for FasterKvBuilder {
    fn default() -> Self {
        Self {
            storage: Storage::Memory,
            memory_bytes: None,
            page_size_bits: None,
            mutable_fraction: None,
            index_buckets: None,
            huge_pages: true,
            segment_size: None,
            max_sessions: 128,
            checkpoint_dir: None,
            checkpoint_retention: None,
            snapshot_buffer: None,
            check_type_names: true,
            policy: CheckpointPolicy {
                every: None,
                after_bytes: None,
                on_close: false,
                options: CheckpointOptions::default(),
            },
        }
    }
}

impl FasterKvBuilder {
    /// Keep the store in the directory `dir` (created if missing): its manifest, its lock, its
    /// log's segment files and (unless [`FasterKvBuilder::checkpoint_dir`] says otherwise) its
    /// checkpoints. Opening a directory that holds a store recovers it. Default: an in-memory
    /// device (see [`FasterKvBuilder::in_memory`]).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.storage = Storage::Dir(dir.into());
        self
    }

    /// Keep the whole log in memory: pages beyond the memory budget go to an in-memory
    /// device, so nothing is lost, but nothing survives the process. This is the default.
    pub fn in_memory(mut self) -> Self {
        self.storage = Storage::Memory;
        self
    }

    /// Use `device` for the log's pages. The store's manifest, lock and checkpoints then live
    /// in [`FasterKvBuilder::checkpoint_dir`] (without one, nothing is persisted).
    pub fn device(mut self, device: Arc<dyn Device>) -> Self {
        self.storage = Storage::Device(device);
        self
    }

    /// Bytes of log pages kept in memory, rounded down to a power-of-two number of pages (at
    /// least 4). Default: 256 MiB, or what the store was last opened with.
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_bytes = Some(bytes);
        self
    }

    /// Log page size as a power of two; it also bounds the largest record. Fixed when the
    /// store is created. Default: 22 (4 MiB). Valid: 12..=30.
    pub fn page_size_bits(mut self, bits: u32) -> Self {
        self.page_size_bits = Some(bits);
        self
    }

    /// Fraction of the in-memory pages whose records are updated in place. Default: 0.9, or
    /// what the store was last opened with.
    pub fn mutable_fraction(mut self, fraction: f64) -> Self {
        self.mutable_fraction = Some(fraction);
        self
    }

    /// Number of 64-byte index buckets of a new table (a power of two), seven keys each
    /// before overflow; a recovered table keeps the size of its snapshot. Default: 2^20, or
    /// what the store was last opened with.
    pub fn index_buckets(mut self, buckets: u64) -> Self {
        self.index_buckets = Some(buckets);
        self
    }

    /// Ask for transparent huge pages for the index table and the log's page frames.
    /// Default: true.
    pub fn huge_pages(mut self, on: bool) -> Self {
        self.huge_pages = on;
        self
    }

    /// Size of the log's segment files, a power of two of at least a page. Fixed when the
    /// store is created. Default: 1 GiB.
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = Some(bytes);
        self
    }

    /// Most sessions (threads) live at once: the next [`FasterKv::session`](crate::FasterKv::session)
    /// fails with [`SessionError::TooMany`](crate::SessionError::TooMany). Default: 128. At
    /// least 1.
    pub fn max_sessions(mut self, sessions: usize) -> Self {
        self.max_sessions = sessions;
        self
    }

    /// Where checkpoints go. Default: `<dir>/checkpoints` for a store opened with
    /// [`FasterKvBuilder::dir`], or the directory last used. For a store on a device of
    /// yours or in memory, this directory also holds the store's manifest and lock; without
    /// it such a store takes no checkpoints.
    pub fn checkpoint_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint_dir = Some(dir.into());
        self
    }

    /// How many complete log checkpoints are kept; older ones are removed once a new one
    /// completes (with the index snapshots and snapshot chains the kept ones need).
    /// Default: 2, or what the store was last opened with. At least 1.
    pub fn checkpoint_retention(mut self, checkpoints: usize) -> Self {
        self.checkpoint_retention = Some(checkpoints);
        self
    }

    /// Bytes a snapshot checkpoint may copy ahead of its file writes. Until a page is copied,
    /// an update of a record on it appends a copy (rule R12), so the more the checkpoint
    /// copies at memory speed the fewer copies it causes; the buffers exist only while the
    /// snapshot is written. Default: half the memory budget. At least one page is used.
    pub fn snapshot_buffer(mut self, bytes: u64) -> Self {
        self.snapshot_buffer = Some(bytes);
        self
    }

    /// Whether reopening compares the names of the key and value types with those the store
    /// recorded. The name (`std::any::type_name`) is part of a codec's identity, so a type
    /// renamed or moved to another module — or a name the compiler spells differently — makes
    /// the store refuse to open with [`OpenError::TypeMismatch`](crate::OpenError::TypeMismatch).
    /// With `false`, a type whose kind, size and alignment match is accepted under its new
    /// name, which the manifest then records; use it once, after a rename you know is only
    /// a rename. Default: true.
    pub fn check_type_names(mut self, on: bool) -> Self {
        self.check_type_names = on;
        self
    }

    /// Take a checkpoint in the background every `interval` (measured from the end of the
    /// previous one), so that no thread of yours needs a timer. Checkpoints use
    /// [`FasterKvBuilder::checkpoint_options`]. Default: none.
    pub fn checkpoint_every(mut self, interval: Duration) -> Self {
        self.policy.every = Some(interval);
        self
    }

    /// Take a checkpoint in the background once `bytes` of log have been written since the
    /// last one (checked every 10 ms). May be combined with
    /// [`FasterKvBuilder::checkpoint_every`]: whichever comes first. Default: none.
    pub fn checkpoint_every_bytes(mut self, bytes: u64) -> Self {
        self.policy.after_bytes = Some(bytes);
        self
    }

    /// Take a final checkpoint when the store is closed ([`FasterKv::close`](crate::FasterKv::close),
    /// or when its last handle is dropped). Default: false.
    pub fn checkpoint_on_close(mut self, on: bool) -> Self {
        self.policy.on_close = on;
        self
    }

    /// What background and closing checkpoints write. Default: [`CheckpointOptions::default`].
    pub fn checkpoint_options(mut self, options: CheckpointOptions) -> Self {
        self.policy.options = options;
        self
    }

    /// The directory that holds the store's manifest and lock: the store's directory, or the
    /// checkpoint directory of a store on another device. `None`: nothing is persisted.
    pub(crate) fn home(&self) -> Option<PathBuf> {
        match (&self.storage, &self.checkpoint_dir) {
            (Storage::Dir(dir), _) => Some(dir.clone()),
            (_, Some(checkpoints)) => Some(checkpoints.clone()),
            (_, None) => None,
        }
    }

    /// Puts the builder's settings, the manifest's (of a store that exists) and the defaults
    /// together, refusing a shaping setting that contradicts the manifest.
    pub(crate) fn resolve(
        &self,
        home: Option<&Path>,
        manifest: Option<&Manifest>,
    ) -> Result<Settings, OpenError> {
        fn fixed<T: PartialEq + std::fmt::Display + Copy>(
            setting: &'static str,
            requested: Option<T>,
            stored: Option<T>,
            default: T,
        ) -> Result<T, OpenError> {
            match (requested, stored) {
                (Some(r), Some(s)) if r != s => Err(OpenError::SettingMismatch {
                    setting,
                    stored: s.to_string(),
                    requested: r.to_string(),
                }),
                (r, s) => Ok(r.or(s).unwrap_or(default)),
            }
        }
        let remembered = manifest.map(|m| &m.remembered);
        let settings = Settings {
            page_size_bits: fixed(
                "page_size_bits",
                self.page_size_bits,
                manifest.map(|m| m.page_size_bits),
                DEFAULT_PAGE_SIZE_BITS,
            )?,
            segment_size: fixed(
                "segment_size",
                self.segment_size,
                manifest.map(|m| m.segment_size),
                DEFAULT_SEGMENT_SIZE,
            )?,
            memory_bytes: self
                .memory_bytes
                .or(remembered.map(|r| r.memory_bytes))
                .unwrap_or(DEFAULT_MEMORY_BYTES),
            mutable_fraction: self
                .mutable_fraction
                .or(remembered.map(|r| r.mutable_fraction))
                .unwrap_or(DEFAULT_MUTABLE_FRACTION),
            index_buckets: self
                .index_buckets
                .or(remembered.map(|r| r.index_buckets))
                .unwrap_or(DEFAULT_INDEX_BUCKETS),
            checkpoint_retention: self
                .checkpoint_retention
                .or(remembered.map(|r| usize::try_from(r.checkpoint_retention).unwrap_or(1)))
                .unwrap_or(DEFAULT_RETENTION),
            checkpoint_dir: self.checkpoint_dir.clone().or_else(|| {
                let home = home?;
                Some(
                    remembered
                        .and_then(|r| crate::manifest::remembered_checkpoint_dir(home, r))
                        .unwrap_or_else(|| home.join("checkpoints")),
                )
            }),
            huge_pages: self.huge_pages,
            max_sessions: self.max_sessions,
            snapshot_buffer: self.snapshot_buffer,
            policy: self.policy,
        };
        settings.check()?;
        Ok(settings)
    }
}

/// The settings a store runs with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) page_size_bits: u32,
    pub(crate) segment_size: u64,
    pub(crate) memory_bytes: u64,
    pub(crate) mutable_fraction: f64,
    pub(crate) index_buckets: u64,
    pub(crate) checkpoint_retention: usize,
    pub(crate) checkpoint_dir: Option<PathBuf>,
    pub(crate) huge_pages: bool,
    pub(crate) max_sessions: usize,
    pub(crate) snapshot_buffer: Option<u64>,
    pub(crate) policy: CheckpointPolicy,
}

fn invalid(setting: &'static str, reason: String) -> OpenError {
    OpenError::InvalidSetting { setting, reason }
}

impl Settings {
    fn check(&self) -> Result<(), OpenError> {
        if !(12..=30).contains(&self.page_size_bits) {
            return Err(invalid(
                "page_size_bits",
                format!("{} is outside 12..=30", self.page_size_bits),
            ));
        }
        if !self.segment_size.is_power_of_two() || self.segment_size < self.page_size() {
            return Err(invalid(
                "segment_size",
                format!(
                    "{} is not a power of two of at least a page ({} bytes)",
                    self.segment_size,
                    self.page_size()
                ),
            ));
        }
        if !(self.mutable_fraction > 0.0 && self.mutable_fraction <= 1.0) {
            return Err(invalid(
                "mutable_fraction",
                format!("{} is outside (0, 1]", self.mutable_fraction),
            ));
        }
        if !self.index_buckets.is_power_of_two() {
            return Err(invalid(
                "index_buckets",
                format!("{} is not a power of two", self.index_buckets),
            ));
        }
        if self.max_sessions == 0 {
            return Err(invalid("max_sessions", "must be at least 1".into()));
        }
        if self.checkpoint_retention == 0 {
            return Err(invalid("checkpoint_retention", "must be at least 1".into()));
        }
        if self.policy.every.is_some_and(|d| d.is_zero()) {
            return Err(invalid("checkpoint_every", "must be longer than 0".into()));
        }
        if self.policy.after_bytes == Some(0) {
            return Err(invalid(
                "checkpoint_every_bytes",
                "must be at least 1".into(),
            ));
        }
        self.log_config().map(|_| ())
    }

    pub(crate) fn page_size(&self) -> u64 {
        1 << self.page_size_bits
    }

    pub(crate) fn log_config(&self) -> Result<LogConfig, OpenError> {
        let page_size = self.page_size();
        let pages = self.memory_bytes / page_size;
        if pages < faster_hlog::MIN_MEMORY_PAGES {
            return Err(invalid(
                "memory_budget",
                format!(
                    "{} bytes hold fewer than {} pages of {page_size} bytes",
                    self.memory_bytes,
                    faster_hlog::MIN_MEMORY_PAGES
                ),
            ));
        }
        let pages = 1u64 << (63 - pages.leading_zeros());
        Ok(LogConfig::new()
            .page_size_bits(self.page_size_bits)
            .memory_pages(pages)
            .mutable_fraction(self.mutable_fraction)
            .huge_pages(self.huge_pages))
    }

    pub(crate) fn index_config(&self) -> IndexConfig {
        IndexConfig::new()
            .buckets(self.index_buckets)
            .huge_pages(self.huge_pages)
    }

    /// The settings a manifest remembers, relative to the store's directory `home`.
    pub(crate) fn remembered(&self, home: &Path) -> Remembered {
        let default_root = home.join("checkpoints");
        Remembered {
            memory_bytes: self.memory_bytes,
            mutable_fraction: self.mutable_fraction,
            index_buckets: self.index_buckets,
            checkpoint_dir: self
                .checkpoint_dir
                .as_ref()
                .filter(|d| **d != default_root && d.as_path() != home)
                .and_then(|d| std::path::absolute(d).ok())
                .and_then(|d| d.to_str().map(str::to_owned)),
            checkpoint_retention: self.checkpoint_retention as u64,
        }
    }
}
