//! [`FasterLogConfig`]: a [`FasterLogBuilder`]'s settings as a serde struct, read from a TOML
//! file with `FASTER_*` environment variables over it (the `faster-config` crate describes
//! the file, its units and the variables). The builder checks the values when the log
//! opens, with its own errors.

use std::path::Path;

use faster_config::{Bytes, ConfigError, Span};
use serde::{Deserialize, Serialize};

use crate::builder::FasterLogBuilder;
use crate::log::FasterLog;
use crate::policy::CommitPolicy;

/// Every setting of a [`FasterLogBuilder`] that a file can give; each is optional, and one
/// not given keeps the builder's default (or, for the shaping settings, what the log's
/// manifest records).
///
/// ```toml
/// page_size_bits = 20
/// memory_pages = 64
/// commit_policy = { every_interval = "5ms" }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FasterLogConfig {
    /// [`FasterLogBuilder::page_size_bits`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size_bits: Option<u32>,
    /// [`FasterLogBuilder::memory_pages`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_pages: Option<u64>,
    /// [`FasterLogBuilder::huge_pages`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub huge_pages: Option<bool>,
    /// [`FasterLogBuilder::commit_policy`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_policy: Option<CommitPolicyConfig>,
    /// [`FasterLogBuilder::fast_commit`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fast_commit: Option<bool>,
    /// [`FasterLogBuilder::metadata_interval_bytes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_interval_bytes: Option<Bytes>,
    /// [`FasterLogBuilder::commit_slot_size`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_slot_size: Option<Bytes>,
    /// [`FasterLogBuilder::max_threads`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_threads: Option<usize>,
    /// [`FasterLogBuilder::segment_size`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment_size: Option<Bytes>,
    /// [`FasterLogBuilder::direct_io`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_io: Option<bool>,
    /// [`FasterLogBuilder::preallocate`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preallocate: Option<bool>,
}

/// A [`CommitPolicy`] in a file: `"explicit"`, `{ every_bytes = "1 MiB" }` or
/// `{ every_interval = "5ms" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CommitPolicyConfig {
    /// [`CommitPolicy::Explicit`].
    Explicit,
    /// [`CommitPolicy::EveryBytes`].
    EveryBytes(Bytes),
    /// [`CommitPolicy::EveryInterval`].
    EveryInterval(Span),
}

impl From<CommitPolicyConfig> for CommitPolicy {
    fn from(c: CommitPolicyConfig) -> Self {
        match c {
            CommitPolicyConfig::Explicit => Self::Explicit,
            CommitPolicyConfig::EveryBytes(Bytes(b)) => Self::EveryBytes(b),
            CommitPolicyConfig::EveryInterval(Span(d)) => Self::EveryInterval(d),
        }
    }
}

impl FasterLogConfig {
    /// The top-level keys, which `FASTER_<KEY>` variables may set.
    pub const KEYS: &[&str] = &[
        "page_size_bits",
        "memory_pages",
        "huge_pages",
        "commit_policy",
        "fast_commit",
        "metadata_interval_bytes",
        "commit_slot_size",
        "max_threads",
        "segment_size",
        "direct_io",
        "preallocate",
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

    /// A builder for a log in `dir` with these settings.
    pub fn builder_in_dir(&self, dir: impl AsRef<Path>) -> FasterLogBuilder {
        self.apply(FasterLog::builder_in_dir(dir))
    }

    /// `builder` with these settings over its own.
    pub fn apply(&self, mut b: FasterLogBuilder) -> FasterLogBuilder {
        if let Some(v) = self.page_size_bits {
            b = b.page_size_bits(v);
        }
        if let Some(v) = self.memory_pages {
            b = b.memory_pages(v);
        }
        if let Some(v) = self.huge_pages {
            b = b.huge_pages(v);
        }
        if let Some(v) = self.commit_policy {
            b = b.commit_policy(v.into());
        }
        if let Some(v) = self.fast_commit {
            b = b.fast_commit(v);
        }
        if let Some(Bytes(v)) = self.metadata_interval_bytes {
            b = b.metadata_interval_bytes(v);
        }
        if let Some(Bytes(v)) = self.commit_slot_size {
            b = b.commit_slot_size(v);
        }
        if let Some(v) = self.max_threads {
            b = b.max_threads(v);
        }
        if let Some(Bytes(v)) = self.segment_size {
            b = b.segment_size(v);
        }
        if let Some(v) = self.direct_io {
            b = b.direct_io(v);
        }
        if let Some(v) = self.preallocate {
            b = b.preallocate(v);
        }
        b
    }
}
