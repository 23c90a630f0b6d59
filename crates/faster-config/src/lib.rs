//! Settings files for faster-rs's builders.
//!
//! Each store's builder has a configuration struct (`FasterKvConfig`, `FasterLogConfig`,
//! `F2Config`, behind their crates' `config` feature) that this crate fills from a TOML file,
//! with environment variables over it:
//!
//! - A variable `FASTER_<KEY>` sets the top-level key `<key>` (lowercased); `__` reaches into
//!   a table: `FASTER_COMPACTION__LOG_BUDGET` sets `log_budget` in `[compaction]`. Only the
//!   struct's own keys are taken, so unrelated `FASTER_*` variables are left alone.
//! - A variable's value is read as a TOML value (`true`, `42`, `0.5`) and otherwise as a
//!   string (`256MiB`, `/var/lib/store`).
//! - Sizes ([`Bytes`]) are integers of bytes or strings with a binary unit: `"64 MiB"`,
//!   `"1GiB"`, `"4096"`. Durations ([`Span`]) are strings with a unit: `"250ms"`, `"30s"`,
//!   `"5m"`, `"1h"`.
//! - Unknown keys are refused, naming the key, so a misspelt setting never passes unnoticed.
//!
//! The values are checked by the builder they configure, with the builder's own errors:
//! a file cannot set what the builder would refuse.
//!
//! ```
//! use faster_config::{Bytes, Span};
//!
//! #[derive(serde::Deserialize, Debug, Default)]
//! #[serde(deny_unknown_fields, default)]
//! struct Settings {
//!     memory_budget: Option<Bytes>,
//!     checkpoint_every: Option<Span>,
//! }
//!
//! let file = "memory_budget = \"64 MiB\"\ncheckpoint_every = \"30s\"\n";
//! let env = [("FASTER_MEMORY_BUDGET".to_string(), "128MiB".to_string())];
//! let s: Settings =
//!     faster_config::from_toml_with_env(file, env, &["memory_budget", "checkpoint_every"])?;
//! assert_eq!(s.memory_budget, Some(Bytes(128 << 20)));
//! assert_eq!(s.checkpoint_every, Some(Span(std::time::Duration::from_secs(30))));
//! # Ok::<(), faster_config::ConfigError>(())
//! ```

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The prefix of the environment variables that override a file's settings.
pub const ENV_PREFIX: &str = "FASTER_";

/// Why a configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("configuration file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The text is not TOML, or a value does not fit its setting.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file, or "configuration" for text given directly.
        origin: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// An environment variable's value does not fit its setting.
    #[error("environment variable {name}: {message}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads `path` as TOML, applies the process's `FASTER_*` variables for `keys` over it, and
/// deserializes the result.
///
/// # Errors
/// [`ConfigError`] naming the file or variable and the key.
pub fn load<T: DeserializeOwned>(path: &Path, keys: &[&str]) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, std::env::vars(), keys, &path.display().to_string())
}

/// Deserializes TOML text, without environment variables.
///
/// # Errors
/// [`ConfigError::Invalid`].
pub fn from_toml<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    parse(text, std::iter::empty(), &[], "configuration")
}

/// Deserializes TOML text with the `FASTER_*` variables among `vars` for `keys` over it.
///
/// # Errors
/// [`ConfigError`] naming the variable or key.
pub fn from_toml_with_env<T: DeserializeOwned>(
    text: &str,
    vars: impl IntoIterator<Item = (String, String)>,
    keys: &[&str],
) -> Result<T, ConfigError> {
    parse(text, vars, keys, "configuration")
}

fn parse<T: DeserializeOwned>(
    text: &str,
    vars: impl IntoIterator<Item = (String, String)>,
    keys: &[&str],
    origin: &str,
) -> Result<T, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        origin: origin.to_string(),
        message,
    };
    let mut table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let mut overrides: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    // The same result whatever order the environment lists its variables in.
    overrides.sort();
    for (name, raw) in overrides {
        let path: Vec<String> = name[ENV_PREFIX.len()..]
            .to_ascii_lowercase()
            .split("__")
            .map(str::to_string)
            .collect();
        if !path.first().is_some_and(|top| keys.contains(&top.as_str())) {
            continue;
        }
        let env = |message: String| ConfigError::Env {
            name: name.clone(),
            message,
        };
        let value = env_value(&raw);
        set(&mut table, &path, value).map_err(env)?;
    }
    T::deserialize(toml::Value::Table(table)).map_err(|e| invalid(e.to_string()))
}

/// A variable's value: a TOML value if it reads as one, else the string itself.
fn env_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("names no setting".into()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let inner = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match inner {
                toml::Value::Table(t) => set(t, rest, value),
                _ => Err(format!("`{first}` is not a table")),
            }
        }
    }
}

/// The leading decimal number of `text` and the unit after it (spaces trimmed); `None` when
/// `text` does not start with a number that fits in 64 bits.
fn number_and_unit(text: &str) -> Option<(u64, &str)> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    Some((number.parse().ok()?, unit.trim()))
}

/// A size in bytes: an integer, or a string with a binary unit (`B`, `KiB`, `MiB`, `GiB`,
/// `TiB`; spaces allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Bytes(pub u64);

impl Bytes {
    /// Parses `"64 MiB"`, `"4096"`, `"1GiB"`.
    ///
    /// # Errors
    /// What is wrong with the text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (number, unit) = number_and_unit(text).ok_or_else(|| {
            format!("`{text}` is not a size (a number of bytes, or e.g. \"64 MiB\")")
        })?;
        let shift = match unit {
            "" | "B" => 0,
            "KiB" => 10,
            "MiB" => 20,
            "GiB" => 30,
            "TiB" => 40,
            other => {
                return Err(format!(
                    "unit `{other}` of `{text}` is not one of B, KiB, MiB, GiB, TiB"
                ));
            }
        };
        number
            .checked_mul(1 << shift)
            .map(Self)
            .ok_or_else(|| format!("`{text}` does not fit in 64 bits"))
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => u64::try_from(n)
                .map(Self)
                .map_err(|_| serde::de::Error::custom(format!("size {n} is negative"))),
            Raw::Text(t) => Self::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// A duration: a string of a number and a unit (`ms`, `s`, `m`, `h`), e.g. `"250ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Span(pub Duration);

impl Span {
    /// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"`.
    ///
    /// # Errors
    /// What is wrong with the text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (number, unit) = number_and_unit(text)
            .ok_or_else(|| format!("`{text}` is not a duration (e.g. \"250ms\", \"30s\")"))?;
        let millis = match unit {
            "ms" => Some(number),
            "s" => number.checked_mul(1_000),
            "m" => number.checked_mul(60_000),
            "h" => number.checked_mul(3_600_000),
            "" => return Err(format!("`{text}` needs a unit: ms, s, m or h")),
            other => return Err(format!("unit `{other}` of `{text}` is not ms, s, m or h")),
        };
        millis
            .map(|ms| Self(Duration::from_millis(ms)))
            .ok_or_else(|| format!("`{text}` is too long"))
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", self.0.as_millis()))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Inner {
        log_budget: Option<Bytes>,
        trigger: Option<f64>,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Outer {
        memory: Option<Bytes>,
        every: Option<Span>,
        direct_io: Option<bool>,
        dir: Option<String>,
        compaction: Option<Inner>,
    }

    const KEYS: &[&str] = &["memory", "every", "direct_io", "dir", "compaction"];

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn sizes_and_durations_read_their_units_and_refuse_others() {
        assert_eq!(Bytes::parse("4096"), Ok(Bytes(4096)));
        assert_eq!(Bytes::parse("64 MiB"), Ok(Bytes(64 << 20)));
        assert_eq!(Bytes::parse("1GiB"), Ok(Bytes(1 << 30)));
        assert!(Bytes::parse("64 MB").is_err());
        assert!(Bytes::parse("lots").is_err());
        assert!(Bytes::parse("99999999999 TiB").is_err());
        assert_eq!(Span::parse("250ms"), Ok(Span(Duration::from_millis(250))));
        assert_eq!(Span::parse("2m"), Ok(Span(Duration::from_secs(120))));
        assert!(Span::parse("30").is_err());
        assert!(Span::parse("1d").is_err());
    }

    #[test]
    fn the_environment_overrides_the_file_and_unknown_keys_are_refused() {
        let file = "memory = \"16 MiB\"\nevery = \"1s\"\n[compaction]\ntrigger = 0.5\n";
        let env = vars(&[
            ("FASTER_MEMORY", "32MiB"),
            ("FASTER_DIRECT_IO", "true"),
            ("FASTER_DIR", "/tmp/x y"),
            ("FASTER_COMPACTION__LOG_BUDGET", "1048576"),
            ("FASTER_UNRELATED", "whatever"),
            ("OTHER_MEMORY", "1"),
        ]);
        let got: Outer = from_toml_with_env(file, env, KEYS).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got,
            Outer {
                memory: Some(Bytes(32 << 20)),
                every: Some(Span(Duration::from_secs(1))),
                direct_io: Some(true),
                dir: Some("/tmp/x y".into()),
                compaction: Some(Inner {
                    log_budget: Some(Bytes(1 << 20)),
                    trigger: Some(0.5),
                }),
            }
        );
        let err = from_toml::<Outer>("memroy = 5\n")
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("memroy")),
            "{err:?}"
        );
        let err = from_toml::<Outer>("memory = \"5 MB\"\n")
            .err()
            .map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| e.contains("MB")), "{err:?}");
        let err = from_toml_with_env::<Outer>("dir = 1\n", vars(&[("FASTER_DIR__X", "1")]), KEYS)
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("FASTER_DIR__X")),
            "{err:?}"
        );
    }
}
