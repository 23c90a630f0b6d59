//! [`F2Config`]: an [`F2Builder`]'s settings as a serde struct, read from a TOML file with
//! `FASTER_*` environment variables over it (the `faster-config` crate describes the file,
//! its units and the variables). The builder checks the values, with its own errors.

use std::path::Path;

use faster_config::{Bytes, ConfigError, Span};
use serde::{Deserialize, Serialize};

use crate::store::{F2Builder, F2Kv};

/// Every setting of an [`F2Builder`] that a file can give; each is optional, and one not
/// given keeps the builder's default.
///
/// ```toml
/// hot_memory = "256 MiB"
/// read_cache = "128 MiB"
/// cold_index_chunk_bits = 20
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct F2Config {
    /// [`F2Builder::hot_memory`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hot_memory: Option<Bytes>,
    /// [`F2Builder::hot_log_budget`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hot_log_budget: Option<Bytes>,
    /// [`F2Builder::read_cache`]; 0: no read cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_cache: Option<Bytes>,
    /// [`F2Builder::page_size_bits`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size_bits: Option<u32>,
    /// [`F2Builder::cold_index_chunk_bits`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_index_chunk_bits: Option<u32>,
    /// [`F2Builder::cold_index_memory`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_index_memory: Option<Bytes>,
    /// [`F2Builder::cold_log_budget`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_log_budget: Option<Bytes>,
    /// [`F2Builder::check_every`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_every: Option<Span>,
}

impl F2Config {
    /// The top-level keys, which `FASTER_<KEY>` variables may set.
    pub const KEYS: &[&str] = &[
        "hot_memory",
        "hot_log_budget",
        "read_cache",
        "page_size_bits",
        "cold_index_chunk_bits",
        "cold_index_memory",
        "cold_log_budget",
        "check_every",
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

    /// A builder for a store in `dir` with these settings.
    pub fn builder(&self, dir: impl AsRef<Path>) -> F2Builder {
        self.apply(F2Kv::builder(dir))
    }

    /// `builder` with these settings over its own.
    pub fn apply(&self, mut b: F2Builder) -> F2Builder {
        if let Some(Bytes(v)) = self.hot_memory {
            b = b.hot_memory(v);
        }
        if let Some(Bytes(v)) = self.hot_log_budget {
            b = b.hot_log_budget(v);
        }
        if let Some(Bytes(v)) = self.read_cache {
            b = b.read_cache((v > 0).then_some(v));
        }
        if let Some(v) = self.page_size_bits {
            b = b.page_size_bits(v);
        }
        if let Some(v) = self.cold_index_chunk_bits {
            b = b.cold_index_chunk_bits(v);
        }
        if let Some(Bytes(v)) = self.cold_index_memory {
            b = b.cold_index_memory(v);
        }
        if let Some(Bytes(v)) = self.cold_log_budget {
            b = b.cold_log_budget(v);
        }
        if let Some(Span(v)) = self.check_every {
            b = b.check_every(v);
        }
        b
    }
}
