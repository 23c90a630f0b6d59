//! [`FasterKvConfig`]: a [`FasterKvBuilder`]'s settings as a serde struct, read from a TOML
//! file with `FASTER_*` environment variables over it (the `faster-config` crate describes
//! the file, its units and the variables). The builder checks the values: a file with a bad
//! value fails with the error the builder gives for it.

use std::path::{Path, PathBuf};

use faster_config::{Bytes, ConfigError, Span};
use serde::{Deserialize, Serialize};

use crate::compact::{CompactionKind, CompactionPolicy};
use crate::config::FasterKvBuilder;
use crate::error::OpenError;

/// Every setting of a [`FasterKvBuilder`] that a file can give; each is optional, and one
/// not given keeps the builder's default (or the value a reopened store remembers).
///
/// ```toml
/// dir = "/var/lib/counters"
/// memory_budget = "1 GiB"
/// checkpoint_every = "30s"
/// read_cache = "256 MiB"
///
/// [compaction]
/// log_budget = "8 GiB"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FasterKvConfig {
    /// [`FasterKvBuilder::dir`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// [`FasterKvBuilder::in_memory`] when true (refused with `dir`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_memory: Option<bool>,
    /// [`FasterKvBuilder::memory_budget`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_budget: Option<Bytes>,
    /// [`FasterKvBuilder::page_size_bits`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size_bits: Option<u32>,
    /// [`FasterKvBuilder::mutable_fraction`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutable_fraction: Option<f64>,
    /// [`FasterKvBuilder::index_buckets`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_buckets: Option<u64>,
    /// [`FasterKvBuilder::huge_pages`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub huge_pages: Option<bool>,
    /// [`FasterKvBuilder::direct_io`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_io: Option<bool>,
    /// [`FasterKvBuilder::segment_size`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_size: Option<Bytes>,
    /// [`FasterKvBuilder::max_sessions`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<usize>,
    /// [`FasterKvBuilder::checkpoint_dir`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_dir: Option<PathBuf>,
    /// [`FasterKvBuilder::checkpoint_retention`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_retention: Option<usize>,
    /// [`FasterKvBuilder::snapshot_buffer`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_buffer: Option<Bytes>,
    /// [`FasterKvBuilder::check_type_names`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_type_names: Option<bool>,
    /// [`FasterKvBuilder::checkpoint_every`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<Span>,
    /// [`FasterKvBuilder::checkpoint_every_bytes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_every_bytes: Option<Bytes>,
    /// [`FasterKvBuilder::checkpoint_on_close`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_on_close: Option<bool>,
    /// [`FasterKvBuilder::read_cache`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_cache: Option<Bytes>,
    /// [`FasterKvBuilder::auto_grow_index`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_grow_index: Option<bool>,
    /// [`FasterKvBuilder::compaction`]: a `[compaction]` table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compaction: Option<CompactionConfig>,
}

/// A [`CompactionPolicy`] in a file: `log_budget` is required, the rest default as in
/// [`CompactionPolicy::with_budget`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompactionConfig {
    /// [`CompactionPolicy::log_budget`].
    pub log_budget: Bytes,
    /// [`CompactionPolicy::trigger`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<f64>,
    /// [`CompactionPolicy::fraction`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    /// [`CompactionPolicy::max_bytes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<Bytes>,
    /// [`CompactionPolicy::kind`]: `"scan"` or `"lookup"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<CompactionKindConfig>,
    /// [`CompactionPolicy::threads`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// [`CompactionPolicy::check_every`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_every: Option<Span>,
    /// [`CompactionPolicy::checkpoint_after`] (bytes); absent: the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_after: Option<Bytes>,
}

/// [`CompactionKind`] by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompactionKindConfig {
    /// [`CompactionKind::Scan`].
    Scan,
    /// [`CompactionKind::Lookup`].
    Lookup,
}

impl FasterKvConfig {
    /// The top-level keys, which `FASTER_<KEY>` variables may set.
    pub const KEYS: &[&str] = &[
        "dir",
        "in_memory",
        "memory_budget",
        "page_size_bits",
        "mutable_fraction",
        "index_buckets",
        "huge_pages",
        "direct_io",
        "segment_size",
        "max_sessions",
        "checkpoint_dir",
        "checkpoint_retention",
        "snapshot_buffer",
        "check_type_names",
        "checkpoint_every",
        "checkpoint_every_bytes",
        "checkpoint_on_close",
        "read_cache",
        "auto_grow_index",
        "compaction",
    ];

    /// Reads `path` (TOML) with the process's `FASTER_*` variables over it.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file or variable and the key.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        faster_config::load(path, Self::KEYS)
    }

    /// Reads TOML text (no environment variables).
    ///
    /// # Errors
    /// [`ConfigError`] naming the key.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        faster_config::from_toml(text)
    }

    /// A new builder with these settings.
    pub fn builder(&self) -> FasterKvBuilder {
        self.apply(FasterKvBuilder::default())
    }

    /// `builder` with these settings over its own.
    pub fn apply(&self, mut b: FasterKvBuilder) -> FasterKvBuilder {
        if let Some(dir) = &self.dir {
            b = b.dir(dir);
        }
        if self.in_memory == Some(true) {
            b = b.in_memory();
        }
        if let Some(Bytes(v)) = self.memory_budget {
            b = b.memory_budget(v);
        }
        if let Some(v) = self.page_size_bits {
            b = b.page_size_bits(v);
        }
        if let Some(v) = self.mutable_fraction {
            b = b.mutable_fraction(v);
        }
        if let Some(v) = self.index_buckets {
            b = b.index_buckets(v);
        }
        if let Some(v) = self.huge_pages {
            b = b.huge_pages(v);
        }
        if let Some(v) = self.direct_io {
            b = b.direct_io(v);
        }
        if let Some(Bytes(v)) = self.segment_size {
            b = b.segment_size(v);
        }
        if let Some(v) = self.max_sessions {
            b = b.max_sessions(v);
        }
        if let Some(dir) = &self.checkpoint_dir {
            b = b.checkpoint_dir(dir);
        }
        if let Some(v) = self.checkpoint_retention {
            b = b.checkpoint_retention(v);
        }
        if let Some(Bytes(v)) = self.snapshot_buffer {
            b = b.snapshot_buffer(v);
        }
        if let Some(v) = self.check_type_names {
            b = b.check_type_names(v);
        }
        if let Some(Span(v)) = self.checkpoint_every {
            b = b.checkpoint_every(v);
        }
        if let Some(Bytes(v)) = self.checkpoint_every_bytes {
            b = b.checkpoint_every_bytes(v);
        }
        if let Some(v) = self.checkpoint_on_close {
            b = b.checkpoint_on_close(v);
        }
        if let Some(Bytes(v)) = self.read_cache {
            b = b.read_cache(v);
        }
        if let Some(v) = self.auto_grow_index {
            b = b.auto_grow_index(v);
        }
        if let Some(c) = &self.compaction {
            b = b.compaction(c.policy());
        }
        b
    }

    /// Checks the settings as opening a new store with them would, with the builder's errors.
    ///
    /// # Errors
    /// [`OpenError::InvalidSetting`] for a value the builder refuses.
    pub fn check(&self) -> Result<(), OpenError> {
        if self.dir.is_some() && self.in_memory == Some(true) {
            return Err(OpenError::InvalidSetting {
                setting: "in_memory",
                reason: "a store is in a directory or in memory, not both".into(),
            });
        }
        self.builder().check()
    }
}

impl CompactionConfig {
    /// The policy these settings give.
    pub fn policy(&self) -> CompactionPolicy {
        let mut p = CompactionPolicy::with_budget(self.log_budget.0);
        if let Some(v) = self.trigger {
            p.trigger = v;
        }
        if let Some(v) = self.fraction {
            p.fraction = v;
        }
        if let Some(Bytes(v)) = self.max_bytes {
            p.max_bytes = v;
        }
        if let Some(kind) = self.kind {
            p.kind = match kind {
                CompactionKindConfig::Scan => CompactionKind::Scan,
                CompactionKindConfig::Lookup => CompactionKind::Lookup,
            };
        }
        if let Some(v) = self.threads {
            p.threads = v;
        }
        if let Some(Span(v)) = self.check_every {
            p.check_every = v;
        }
        if let Some(Bytes(v)) = self.checkpoint_after {
            p.checkpoint_after = Some(v);
        }
        p
    }
}

impl FasterKvBuilder {
    /// Checks the settings as opening a new store with them would, without opening one: the
    /// same checks and errors as [`FasterKvBuilder::open`].
    ///
    /// # Errors
    /// [`OpenError::InvalidSetting`] for a value out of range.
    pub fn check(&self) -> Result<(), OpenError> {
        self.resolve(self.home().as_deref(), None).map(|_| ())
    }
}
