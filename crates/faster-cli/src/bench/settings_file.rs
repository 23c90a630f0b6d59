//! `faster bench --config FILE`: faster-kv's settings from a settings file, read as
//! `faster load --config` reads it (a TOML file of `FasterKvConfig` keys with `FASTER_*`
//! environment variables over it, checked as the builder checks them).
//!
//! The keys the benchmark has options for stand in for those options, the file winning:
//! `memory_budget`, `page_size_bits` and `index_buckets` (which then reach F2 and the peers as
//! the options would), `read_cache` and `direct_io`; `dir` and `in_memory` say where the store
//! lives when `--dir` and `--memory` do not. Every other key goes to faster-kv's builder alone.

use faster_kv::{FasterKvBuilder, FasterKvConfig};
use serde::Serialize;

use super::BenchArgs;

/// The file as the header and the JSON report echo it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SettingsFile {
    pub(crate) path: String,
    /// The keys the file (or the environment) set, with their values.
    pub(crate) keys: serde_json::Map<String, serde_json::Value>,
}

/// `args` with the file of `--config` read into it (unchanged without `--config`).
pub(crate) fn fold(args: &BenchArgs) -> Result<BenchArgs, String> {
    let Some(path) = &args.config else {
        return Ok(args.clone());
    };
    let config = crate::load::config_file(Some(path))?;
    let mut args = args.clone();
    if let Some(bytes) = config.memory_budget {
        args.memory_budget = Some(bytes.0);
    }
    if let Some(bits) = config.page_size_bits {
        args.page_size_bits = bits;
    }
    if let Some(buckets) = config.index_buckets {
        args.index_buckets = Some(buckets);
    }
    if let Some(bytes) = config.read_cache {
        args.read_cache = Some(bytes.0);
    }
    if let Some(direct) = config.direct_io {
        args.direct_io = direct;
    }
    if config.in_memory == Some(true) && args.dir.is_none() {
        args.memory = true;
    }
    if args.dir.is_none() && !args.memory {
        args.dir.clone_from(&config.dir);
    }
    args.kv_config = Some(config);
    Ok(args)
}

/// The builder with the file's other keys set; where the store lives and the keys folded into
/// the options are the benchmark's to set after.
pub(crate) fn apply(args: &BenchArgs, builder: FasterKvBuilder) -> FasterKvBuilder {
    let Some(config) = &args.kv_config else {
        return builder;
    };
    let rest = FasterKvConfig {
        dir: None,
        in_memory: None,
        ..config.clone()
    };
    rest.apply(builder)
}

/// What the header and the report say of the file.
pub(crate) fn echo(args: &BenchArgs) -> Option<SettingsFile> {
    let path = args.config.as_ref()?;
    let keys = match args.kv_config.as_ref().map(serde_json::to_value) {
        Some(Ok(serde_json::Value::Object(map))) => without_nulls(map),
        _ => serde_json::Map::new(),
    };
    Some(SettingsFile {
        path: path.display().to_string(),
        keys,
    })
}

/// The keys of `map` that have a value, tables likewise.
fn without_nulls(
    map: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    map.into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            serde_json::Value::Object(inner) => {
                (k, serde_json::Value::Object(without_nulls(inner)))
            }
            other => (k, other),
        })
        .collect()
}

impl SettingsFile {
    /// `PATH: key = value, …`, or `PATH: no keys`.
    pub(crate) fn describe(&self) -> String {
        if self.keys.is_empty() {
            return format!("{}: no keys (faster-kv's defaults)", self.path);
        }
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|(key, value)| format!("{key} = {value}"))
            .collect();
        format!("{}: {}", self.path, keys.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_keys_stand_in_for_the_options_and_the_rest_is_echoed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("kv.toml");
        std::fs::write(
            &path,
            "memory_budget = \"32 MiB\"\npage_size_bits = 16\nmutable_fraction = 0.5\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let path_arg = path.display().to_string();
        let args = super::super::test_args(&["--page-size-bits", "20", "--config", &path_arg]);
        let folded = fold(&args).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(folded.memory_budget, Some(32 << 20));
        assert_eq!(folded.page_size_bits, 16);
        let described = echo(&folded).map(|e| e.describe()).unwrap_or_default();
        assert!(
            described.starts_with(&format!("{path_arg}: ")),
            "{described}"
        );
        for key in [
            "memory_budget = 33554432",
            "page_size_bits = 16",
            "mutable_fraction = 0.5",
        ] {
            assert!(described.contains(key), "{key} missing from {described}");
        }
        assert!(!described.contains("null"), "{described}");
        // Without --config, nothing changes.
        let plain = super::super::test_args(&["--page-size-bits", "20"]);
        assert_eq!(fold(&plain).map(|a| a.page_size_bits), Ok(20));
        assert!(echo_none(&plain));
    }

    fn echo_none(args: &BenchArgs) -> bool {
        echo(args).is_none()
    }
}
