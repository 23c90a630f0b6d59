//! [`FasterKvBuilder`]: every setting of a store, with its default, validated once.

use std::path::PathBuf;
use std::sync::Arc;

use faster_device::{Device, FileDevice, MemDevice};
use faster_hlog::LogConfig;
use faster_index::IndexConfig;

use crate::error::OpenError;

/// Where a store keeps the log's pages that do not fit in memory.
#[derive(Clone)]
pub(crate) enum Storage {
    /// Segment files in a directory ([`FileDevice`], io_uring when available).
    Dir(PathBuf),
    /// An in-memory device: nothing survives the process, but data beyond the memory budget
    /// still spills to it rather than being lost.
    Memory,
    /// A device the caller built.
    Device(Arc<dyn Device>),
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
#[derive(Debug, Clone)]
pub struct FasterKvBuilder {
    pub(crate) storage: Storage,
    pub(crate) memory_bytes: u64,
    pub(crate) page_size_bits: u32,
    pub(crate) mutable_fraction: f64,
    pub(crate) index_buckets: u64,
    pub(crate) huge_pages: bool,
    pub(crate) segment_size: u64,
    pub(crate) max_sessions: usize,
    pub(crate) checkpoint_dir: Option<PathBuf>,
    pub(crate) checkpoint_retention: usize,
    pub(crate) snapshot_buffer: Option<u64>,
}

/// Default memory budget for the log's pages: 256 MiB.
pub const DEFAULT_MEMORY_BYTES: u64 = 256 << 20;
/// Default number of index buckets: 2^20 (64 MiB of table, about 7 million keys before
/// overflow buckets are needed).
pub const DEFAULT_INDEX_BUCKETS: u64 = 1 << 20;

impl Default for FasterKvBuilder {
    fn default() -> Self {
        Self {
            storage: Storage::Memory,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            page_size_bits: 22,
            mutable_fraction: 0.9,
            index_buckets: DEFAULT_INDEX_BUCKETS,
            huge_pages: true,
            segment_size: 1 << 30,
            max_sessions: 128,
            checkpoint_dir: None,
            checkpoint_retention: 2,
            snapshot_buffer: None,
        }
    }
}

impl FasterKvBuilder {
    /// Keep the log in segment files in `dir` (created if missing). Default: an in-memory
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

    /// Use `device` for the log's pages.
    pub fn device(mut self, device: Arc<dyn Device>) -> Self {
        self.storage = Storage::Device(device);
        self
    }

    /// Bytes of log pages kept in memory, rounded down to a power-of-two number of pages (at
    /// least 4). Default: 256 MiB.
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// Log page size as a power of two; it also bounds the largest record. Default: 22
    /// (4 MiB). Valid: 12..=30.
    pub fn page_size_bits(mut self, bits: u32) -> Self {
        self.page_size_bits = bits;
        self
    }

    /// Fraction of the in-memory pages whose records are updated in place. Default: 0.9.
    pub fn mutable_fraction(mut self, fraction: f64) -> Self {
        self.mutable_fraction = fraction;
        self
    }

    /// Number of 64-byte index buckets (a power of two), seven keys each before overflow.
    /// Default: 2^20.
    pub fn index_buckets(mut self, buckets: u64) -> Self {
        self.index_buckets = buckets;
        self
    }

    /// Ask for transparent huge pages for the index table and the log's page frames.
    /// Default: true.
    pub fn huge_pages(mut self, on: bool) -> Self {
        self.huge_pages = on;
        self
    }

    /// Size of the device's segment files, a power of two. Default: 1 GiB.
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
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
    /// [`FasterKvBuilder::dir`]; none for an in-memory store (then
    /// [`FasterKv::checkpoint`](crate::FasterKv::checkpoint) is an error).
    pub fn checkpoint_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint_dir = Some(dir.into());
        self
    }

    /// How many complete log checkpoints are kept; older ones are removed once a new one
    /// completes (with the index snapshots and snapshot chains the kept ones need).
    /// Default: 2. At least 1.
    pub fn checkpoint_retention(mut self, checkpoints: usize) -> Self {
        self.checkpoint_retention = checkpoints.max(1);
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

    pub(crate) fn checkpoint_root(&self) -> Option<PathBuf> {
        match (&self.checkpoint_dir, &self.storage) {
            (Some(dir), _) => Some(dir.clone()),
            (None, Storage::Dir(dir)) => Some(dir.join("checkpoints")),
            (None, _) => None,
        }
    }

    pub(crate) fn log_config(&self) -> Result<LogConfig, OpenError> {
        let page_size = 1u64
            .checked_shl(self.page_size_bits)
            .ok_or_else(|| OpenError::InvalidConfig("page_size_bits is too large".into()))?;
        let pages = self.memory_bytes / page_size;
        if pages < faster_hlog::MIN_MEMORY_PAGES {
            return Err(OpenError::InvalidConfig(format!(
                "a memory budget of {} bytes holds fewer than {} pages of {page_size} bytes",
                self.memory_bytes,
                faster_hlog::MIN_MEMORY_PAGES
            )));
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

    pub(crate) fn open_device(&self) -> Result<Arc<dyn Device>, OpenError> {
        Ok(match &self.storage {
            Storage::Device(device) => Arc::clone(device),
            Storage::Memory => Arc::new(
                MemDevice::builder()
                    .segment_size(self.segment_size)
                    .build()?,
            ),
            Storage::Dir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    OpenError::InvalidConfig(format!("cannot create {}: {e}", dir.display()))
                })?;
                FileDevice::builder(dir)
                    .prefix("log")
                    .segment_size(self.segment_size)
                    .open_auto()?
                    .0
            }
        })
    }
}
