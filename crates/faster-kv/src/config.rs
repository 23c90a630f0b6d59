//! [`FasterKvBuilder`]: every setting of a store, with its default. What a store runs with
//! once they are put together with the manifest and checked is [`crate::settings`].

use crate::compact::CompactionPolicy;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use faster_device::Device;

use crate::checkpoint::options::CheckpointOptions;
use crate::manifest::StoredCodec;

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
    pub(crate) direct_io: bool,
    pub(crate) segment_size: Option<u64>,
    pub(crate) max_sessions: usize,
    pub(crate) checkpoint_dir: Option<PathBuf>,
    pub(crate) checkpoint_retention: Option<usize>,
    pub(crate) snapshot_buffer: Option<u64>,
    pub(crate) policy: CheckpointPolicy,
    pub(crate) check_type_names: bool,
    pub(crate) compaction: Option<CompactionPolicy>,
    pub(crate) auto_grow_index: bool,
    pub(crate) read_cache: Option<u64>,
    pub(crate) byte_codecs: bool,
    pub(crate) record_codecs: Option<(StoredCodec, StoredCodec)>,
}

/// Default memory budget for the log's pages: 256 MiB.
pub const DEFAULT_MEMORY_BYTES: u64 = 256 << 20;
/// Default number of index buckets of a new store: 2^14 (1 MiB of table, about 80,000 keys
/// before the table doubles by itself; see [`FasterKvBuilder::auto_grow_index`]).
pub const DEFAULT_INDEX_BUCKETS: u64 = 1 << 14;
/// Default log page size: 2^22 bytes (4 MiB).
pub const DEFAULT_PAGE_SIZE_BITS: u32 = 22;
/// Default size of a log segment file: 1 GiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 1 << 30;
pub(crate) const DEFAULT_MUTABLE_FRACTION: f64 = 0.9;
pub(crate) const DEFAULT_RETENTION: usize = 2;

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
            direct_io: false,
            segment_size: None,
            max_sessions: 128,
            checkpoint_dir: None,
            checkpoint_retention: None,
            snapshot_buffer: None,
            check_type_names: true,
            compaction: None,
            auto_grow_index: true,
            read_cache: None,
            byte_codecs: false,
            record_codecs: None,
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
    /// least 4): the store keeps between half of `bytes` and all of it, and
    /// [`FasterKv::memory`](crate::FasterKv::memory) says how much. The hash index is not
    /// part of it (see [`FasterKvBuilder::index_buckets`]). Default: 256 MiB, or what the
    /// store was last opened with.
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

    /// Open the log's segment files in the store's directory with `O_DIRECT`: reads and writes
    /// bypass the operating system's page cache, so records that left the memory budget are
    /// read from the disk and the budget bounds the memory the store's data really takes (the
    /// page cache would otherwise keep the files too). Opening fails with
    /// [`OpenError::Segments`](crate::OpenError::Segments) on a file system that refuses
    /// `O_DIRECT`. A choice of each open, not of the store: the files are the same either way.
    /// Ignored for stores in memory or on a device of the caller's. Default: off.
    pub fn direct_io(mut self, on: bool) -> Self {
        self.direct_io = on;
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

    /// Compact the log in the background to keep it under `policy.log_budget` bytes (see
    /// [`CompactionPolicy`]; [`CompactionPolicy::with_budget`] gives FASTER's defaults).
    /// Not remembered: give it at every open. Default: none — the log grows until
    /// [`FasterKv::compact`](crate::FasterKv::compact) is called.
    pub fn compaction(mut self, policy: CompactionPolicy) -> Self {
        self.compaction = Some(policy);
        self
    }

    /// Keep copies of records read from the device in a read cache of `bytes` of memory
    /// (at least 256 KiB; outside the memory budget), so that a key read again is served from
    /// memory. A write of the key replaces its copy; the oldest copies make room for new ones,
    /// except those read while among the oldest, which are copied forward (a second chance).
    /// Copies are never written to the device or into a checkpoint.
    /// [`Stats::read_cache`](crate::Stats::read_cache) counts hits, misses and evictions.
    /// With a read cache the log's addresses stay below 2^47 (128 TiB written over the store's
    /// life). Not remembered: give it at every open. Default: none.
    pub fn read_cache(mut self, bytes: u64) -> Self {
        self.read_cache = Some(bytes);
        self
    }

    /// Double the hash index in the background whenever its overflow buckets pass an eighth
    /// of its buckets (about 70 % of its entries in use; checked every 100 ms), so that a
    /// store sized for few keys follows its data and its index snapshots stay proportional to
    /// its keys. Growth runs while sessions work, never during a checkpoint. Default: true.
    pub fn auto_grow_index(mut self, on: bool) -> Self {
        self.auto_grow_index = on;
        self
    }

    /// Open a store with byte codecs in place of the types it was created with: `[u8]` for a
    /// key or value of variable size, `[u8; N]` for one of fixed size `N` (a store of
    /// `u64 -> Serde<T>` opens as `[u8; 8] -> [u8]`). Reads, scans and writes then see the
    /// codecs' encoded bytes, for tools that cannot name the store's types (`faster dump`).
    /// The manifest's codecs are kept, not replaced: the program that owns the store still
    /// opens it with its own types. Sound because the record layout depends only on each
    /// side's fixed size and because the store's codecs hash their encoded bytes (xxh3, or
    /// [`mix64`](crate::mix64) for 8-byte plain-old-data, as `[u8; 8]` does) — true of every
    /// codec faster-kv provides, not necessarily of a [`Codec`](crate::Codec) implemented
    /// elsewhere with its own `hash64`. Default: false.
    pub fn byte_codecs(mut self, on: bool) -> Self {
        self.byte_codecs = on;
        self
    }

    /// Record `key` and `value` in the manifest of a store this open creates, in place of the
    /// descriptors of the codecs it is opened with, which must be byte codecs of the same
    /// shapes (see [`FasterKvBuilder::byte_codecs`]) or those very codecs: a tool that
    /// loads a dump creates the store with `[u8]` and `[u8; N]`, and the program that owns
    /// the data then opens it with its own types ([`StoredCodec::of`] and
    /// [`StoredCodec::from`] make descriptors). Reopening a store, it must equal the
    /// manifest's codecs ([`OpenError::TypeMismatch`](crate::OpenError::TypeMismatch)
    /// otherwise). Default: the descriptors of the codecs the store is opened with.
    pub fn record_codecs(mut self, key: StoredCodec, value: StoredCodec) -> Self {
        self.record_codecs = Some((key, value));
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
}
