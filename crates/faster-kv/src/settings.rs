//! [`Settings`]: the values a store runs with once the builder's choices, the manifest of a
//! store that exists and the defaults are put together and checked.

use crate::compact::CompactionPolicy;
use std::path::{Path, PathBuf};

use faster_hlog::LogConfig;
use faster_index::IndexConfig;

use crate::config::{
    CheckpointPolicy, DEFAULT_INDEX_BUCKETS, DEFAULT_MEMORY_BYTES, DEFAULT_MUTABLE_FRACTION,
    DEFAULT_PAGE_SIZE_BITS, DEFAULT_RETENTION, DEFAULT_SEGMENT_SIZE, FasterKvBuilder,
};
use crate::error::OpenError;
use crate::manifest::{Manifest, Remembered, StoredCodec};

impl FasterKvBuilder {
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
            direct_io: self.direct_io,
            max_sessions: self.max_sessions,
            snapshot_buffer: self.snapshot_buffer,
            policy: self.policy,
            compaction: self.compaction,
            auto_grow_index: self.auto_grow_index,
            read_cache: self.read_cache,
            codecs: manifest
                .map(|m| (m.key.clone(), m.value.clone()))
                .or_else(|| self.record_codecs.clone()),
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
    /// The log's segment files are opened with `O_DIRECT`.
    pub(crate) direct_io: bool,
    pub(crate) max_sessions: usize,
    pub(crate) snapshot_buffer: Option<u64>,
    pub(crate) policy: CheckpointPolicy,
    pub(crate) compaction: Option<CompactionPolicy>,
    pub(crate) auto_grow_index: bool,
    /// Bytes of read cache; `None`: no read cache.
    pub(crate) read_cache: Option<u64>,
    /// The key and value codecs the store records (its manifest's, or those given to
    /// [`FasterKvBuilder::record_codecs`]); `None`: the codecs it is opened with.
    pub(crate) codecs: Option<(StoredCodec, StoredCodec)>,
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
        if self
            .read_cache
            .is_some_and(|bytes| bytes < crate::read_cache::MIN_CACHE_BYTES)
        {
            return Err(invalid(
                "read_cache",
                format!(
                    "at least {} bytes (four pages of 64 KiB)",
                    crate::read_cache::MIN_CACHE_BYTES
                ),
            ));
        }
        if let Some(problem) = self.compaction.as_ref().and_then(CompactionPolicy::problem) {
            return Err(invalid("compaction", problem));
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
