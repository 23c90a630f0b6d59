//! The store's manifest: what shapes its bytes on disk, recorded once when the store is
//! created and checked at every open (`docs/formats.md`, "Store manifest").
//!
//! A store's directory holds one `MANIFEST` file: the store's identity, the identity of its
//! current log (the incarnation that the segment files and every checkpoint carry), the record
//! format, the page and segment sizes, the key and value codecs, and the settings a reopen
//! should not have to repeat. It is an envelope (magic, format version, checksum) around a
//! postcard payload, replaced atomically (temporary file, fsync, rename, fsync of the
//! directory), so a crash leaves the old manifest or the new one.
//!
//! Reopening compares: a shaping setting the builder sets to another value, or a codec whose
//! descriptor differs, is refused with an error naming both values. Settings the builder
//! leaves unset are taken from the manifest.

use std::path::{Path, PathBuf};

use faster_cpr::FormatError;
use faster_cpr::envelope;
use serde::{Deserialize, Serialize};

use crate::codec::{Codec, CodecDescriptor, CodecKind};
use crate::error::{CodecRole, OpenError};

/// Name of the manifest file in a store's directory.
pub const MANIFEST_FILE: &str = "MANIFEST";
/// Magic of the manifest.
pub const MANIFEST_MAGIC: [u8; 8] = *b"FRSKVMF\n";
/// Format version of the manifest this build writes and reads.
pub const MANIFEST_VERSION: u32 = 1;
/// Version of the record layout (`docs/formats.md`, "Records"): header bits, length word,
/// padding. A store written with another layout is refused.
pub const RECORD_FORMAT: u32 = 1;

/// A codec as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCodec {
    /// [`CodecKind::as_str`](crate::CodecKind::as_str) of the codec.
    pub kind: String,
    /// The stored type's name ([`CodecDescriptor::type_name`]).
    pub type_name: String,
    /// Bytes of every encoded value, when fixed.
    pub fixed_size: Option<u64>,
    /// Alignment of the stored type.
    pub align: u64,
}

impl StoredCodec {
    /// The record of codec `C`.
    pub fn of<C: Codec + ?Sized>() -> Self {
        Self::from(&C::descriptor())
    }
}

impl From<&CodecDescriptor> for StoredCodec {
    fn from(d: &CodecDescriptor) -> Self {
        Self {
            kind: d.kind.as_str().to_owned(),
            type_name: d.type_name.to_owned(),
            fixed_size: d.fixed_size.map(|n| n as u64),
            align: d.align as u64,
        }
    }
}

impl std::fmt::Display for StoredCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, ", self.type_name, self.kind)?;
        match self.fixed_size {
            Some(n) => write!(f, "{n} bytes")?,
            None => f.write_str("variable size")?,
        }
        write!(f, ", align {})", self.align)
    }
}

/// Settings a reopen takes from the manifest when the builder does not set them: they do not
/// shape the bytes on disk, so a builder may change them (and the manifest then records the
/// new values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    /// The log's memory budget in bytes.
    pub memory_bytes: u64,
    /// Fraction of the in-memory pages updated in place.
    pub mutable_fraction: f64,
    /// Index buckets of a new table (a recovered table keeps its snapshot's size).
    pub index_buckets: u64,
    /// Where checkpoints go, when not in the store's directory (UTF-8 paths only).
    pub checkpoint_dir: Option<String>,
    /// Complete checkpoints kept.
    pub checkpoint_retention: u64,
}

/// Everything the manifest records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The store's identity, chosen at random when it was created; every checkpoint of the
    /// store carries it.
    pub store_id: u128,
    /// The identity of the store's current log, chosen at random when the log was started:
    /// every segment file's header and every checkpoint carry it, so a checkpoint is never
    /// recovered over log bytes of another incarnation.
    pub log_id: u128,
    /// [`RECORD_FORMAT`] of the records.
    pub record_format: u32,
    /// Log page size as a power of two.
    pub page_size_bits: u32,
    /// Bytes per log segment file.
    pub segment_size: u64,
    /// The key codec.
    pub key: StoredCodec,
    /// The value codec.
    pub value: StoredCodec,
    /// Milliseconds since the Unix epoch when the store was created.
    pub created_unix_ms: u64,
    /// Settings remembered from the last open.
    pub remembered: Remembered,
}

impl Manifest {
    /// Encodes the manifest in its envelope.
    ///
    /// # Errors
    /// [`FormatError::Decode`] if postcard cannot encode it (it always can for this type).
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        envelope::seal_postcard(MANIFEST_MAGIC, MANIFEST_VERSION, self)
    }

    /// Decodes and checks manifest bytes.
    ///
    /// # Errors
    /// [`FormatError`] for a bad envelope, bytes that do not decode, or impossible values.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let manifest: Self = envelope::open_postcard(MANIFEST_MAGIC, MANIFEST_VERSION, bytes)?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), FormatError> {
        if !(12..=30).contains(&self.page_size_bits) {
            return Err(FormatError::Inconsistent("page size out of range"));
        }
        if !self.segment_size.is_power_of_two() || self.segment_size < 1 << self.page_size_bits {
            return Err(FormatError::Inconsistent(
                "segment size is not a power of two of at least a page",
            ));
        }
        let r = &self.remembered;
        let fraction_ok = r.mutable_fraction > 0.0 && r.mutable_fraction <= 1.0;
        if !fraction_ok || !r.index_buckets.is_power_of_two() || r.checkpoint_retention == 0 {
            return Err(FormatError::Inconsistent(
                "remembered settings out of range",
            ));
        }
        Ok(())
    }

    /// Reads the manifest of the store in `dir`: `Ok(None)` when there is none.
    ///
    /// # Errors
    /// [`OpenError::Io`] when it cannot be read, [`OpenError::Manifest`] when it is damaged,
    /// [`OpenError::NotAStore`] when it is not a store's manifest at all.
    pub fn read(dir: &Path) -> Result<Option<Self>, OpenError> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(OpenError::Io { path, source }),
        };
        Self::decode(&bytes)
            .map(Some)
            .map_err(|source| match source {
                // Another program's manifest (a FasterLog directory, say), not a damaged one.
                FormatError::BadMagic => OpenError::NotAStore {
                    dir: dir.to_path_buf(),
                    reason: format!("its {MANIFEST_FILE} is not a faster-kv manifest"),
                },
                source => OpenError::Manifest { path, source },
            })
    }

    /// Replaces the manifest of the store in `dir`, atomically and durably.
    ///
    /// # Errors
    /// [`OpenError::Io`].
    pub(crate) fn write(&self, dir: &Path) -> Result<(), OpenError> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = self.encode().map_err(|source| OpenError::Manifest {
            path: path.clone(),
            source,
        })?;
        faster_device::write_file_durably(&path, &bytes).map_err(OpenError::from)
    }

    /// Checks the codecs `K` and `V` against the recorded ones; with `names` false, a type
    /// that differs only in its name is accepted (and the new name recorded). Returns whether
    /// a name was updated, so that the caller writes the manifest back.
    ///
    /// # Errors
    /// [`OpenError::TypeMismatch`] naming the stored and the requested codec.
    pub(crate) fn check_codecs<K: Codec + ?Sized, V: Codec + ?Sized>(
        &mut self,
        names: bool,
    ) -> Result<bool, OpenError> {
        let mut renamed = false;
        for (role, stored, requested) in [
            (CodecRole::Key, &mut self.key, StoredCodec::of::<K>()),
            (CodecRole::Value, &mut self.value, StoredCodec::of::<V>()),
        ] {
            if *stored == requested {
                continue;
            }
            let same_shape = StoredCodec {
                type_name: requested.type_name.clone(),
                ..stored.clone()
            } == requested;
            if names || !same_shape {
                return Err(OpenError::TypeMismatch {
                    role,
                    stored: stored.to_string(),
                    requested: requested.to_string(),
                });
            }
            *stored = requested;
            renamed = true;
        }
        Ok(renamed)
    }

    /// Checks the codecs `K` and `V` of a store opened with
    /// [`byte_codecs`](crate::FasterKvBuilder::byte_codecs): each must be the recorded codec
    /// or the byte codec of its shape ([`fits_as_bytes`]). The manifest is left as it is.
    ///
    /// # Errors
    /// [`OpenError::TypeMismatch`] naming the stored codec and the byte codec it needs.
    pub(crate) fn check_byte_codecs<K: Codec + ?Sized, V: Codec + ?Sized>(
        &self,
    ) -> Result<(), OpenError> {
        for (role, stored, requested) in [
            (CodecRole::Key, &self.key, StoredCodec::of::<K>()),
            (CodecRole::Value, &self.value, StoredCodec::of::<V>()),
        ] {
            if *stored != requested && !fits_as_bytes(stored, &requested) {
                return Err(OpenError::TypeMismatch {
                    role,
                    stored: stored.to_string(),
                    requested: format!("{requested} (as bytes it opens as {})", as_bytes(stored)),
                });
            }
        }
        Ok(())
    }
}

/// The byte codec a codec of `stored`'s shape is read as: `[u8]` for a variable size,
/// `[u8; N]` for a fixed size `N`.
pub(crate) fn as_bytes(stored: &StoredCodec) -> String {
    match stored.fixed_size {
        Some(n) => format!("[u8; {n}]"),
        None => "[u8]".to_string(),
    }
}

/// Whether `requested` is the byte codec that reads records of codec `stored` byte for byte,
/// with the same record layout and the same hashes: `[u8]` for a codec of variable size,
/// `[u8; N]` for plain-old-data of `N` bytes (8-byte plain-old-data hashes with
/// [`mix64`](crate::mix64), as `[u8; 8]` does; every other codec hashes its encoded bytes
/// with xxh3).
pub fn fits_as_bytes(stored: &StoredCodec, requested: &StoredCodec) -> bool {
    let known = stored.kind.parse::<CodecKind>().is_ok();
    match (stored.fixed_size, requested.fixed_size) {
        (None, None) => known && *requested == StoredCodec::of::<[u8]>(),
        (Some(n), Some(m)) => {
            n == m
                && (stored.kind == CodecKind::Pod.as_str()
                    // An expiring value of fixed size, except one of 8 bytes: an 8-byte
                    // `[u8; 8]` hashes as a word would, and it would not.
                    || (stored.kind == CodecKind::Expiring.as_str() && n != 8))
                && requested.kind == CodecKind::Pod.as_str()
                && requested.align == 1
                && requested.type_name == format!("[u8; {n}]")
        }
        _ => false,
    }
}

/// Checks codecs to be recorded in the manifest of a store created with `K` and `V`
/// ([`record_codecs`](crate::FasterKvBuilder::record_codecs)): known kinds, and `K` and `V`
/// each the recorded codec or the byte codec of its shape.
///
/// # Errors
/// [`OpenError::TypeMismatch`] naming the codec to record and the one opened with.
pub(crate) fn check_recorded<K: Codec + ?Sized, V: Codec + ?Sized>(
    (key, value): &(StoredCodec, StoredCodec),
) -> Result<(), OpenError> {
    for (role, recorded, requested) in [
        (CodecRole::Key, key, StoredCodec::of::<K>()),
        (CodecRole::Value, value, StoredCodec::of::<V>()),
    ] {
        if *recorded != requested && !fits_as_bytes(recorded, &requested) {
            return Err(OpenError::TypeMismatch {
                role,
                stored: format!("{recorded} (to be recorded)"),
                requested: format!("{requested}, which does not read it as bytes"),
            });
        }
    }
    Ok(())
}

/// The checkpoint directory a manifest names, relative paths taken from the store's directory.
pub(crate) fn remembered_checkpoint_dir(home: &Path, r: &Remembered) -> Option<PathBuf> {
    r.checkpoint_dir.as_ref().map(|d| home.join(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            store_id: 7,
            log_id: 9,
            record_format: RECORD_FORMAT,
            page_size_bits: 22,
            segment_size: 1 << 30,
            key: StoredCodec::of::<u64>(),
            value: StoredCodec::of::<str>(),
            created_unix_ms: 1,
            remembered: Remembered {
                memory_bytes: 1 << 28,
                mutable_fraction: 0.9,
                index_buckets: 1 << 20,
                checkpoint_dir: None,
                checkpoint_retention: 2,
            },
        }
    }

    #[test]
    fn a_manifest_round_trips_and_every_flipped_byte_is_caught() {
        let m = sample();
        let bytes = m.encode().unwrap();
        assert_eq!(Manifest::decode(&bytes).unwrap(), m);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x21;
            assert!(
                Manifest::decode(&bad).is_err(),
                "flip at {i} went unnoticed"
            );
        }
        for len in 0..bytes.len() {
            assert!(Manifest::decode(&bytes[..len]).is_err(), "cut at {len}");
        }
    }

    #[test]
    fn codecs_that_differ_are_named_in_the_error() {
        let mut m = sample();
        assert!(!m.check_codecs::<u64, str>(true).unwrap());
        let err = m.check_codecs::<u32, str>(true).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("u64") && text.contains("u32"), "{text}");
        assert!(matches!(
            err,
            OpenError::TypeMismatch {
                role: CodecRole::Key,
                ..
            }
        ));
        assert!(matches!(
            m.check_codecs::<u64, [u8]>(true).unwrap_err(),
            OpenError::TypeMismatch {
                role: CodecRole::Value,
                ..
            }
        ));
    }

    #[test]
    fn byte_codecs_of_the_same_shape_are_accepted_and_the_manifest_kept() {
        let m = sample();
        assert_eq!(StoredCodec::of::<[u8; 8]>().type_name, "[u8; 8]");
        m.check_byte_codecs::<[u8; 8], [u8]>().unwrap();
        m.check_byte_codecs::<u64, str>().unwrap();
        m.check_byte_codecs::<u64, [u8]>().unwrap();
        assert_eq!(m, sample(), "nothing recorded");
        for err in [
            m.check_byte_codecs::<[u8; 4], [u8]>().unwrap_err(),
            m.check_byte_codecs::<[u8], [u8]>().unwrap_err(),
            m.check_byte_codecs::<i64, [u8]>().unwrap_err(),
        ] {
            let text = err.to_string();
            assert!(text.contains("[u8; 8]") && text.contains("u64"), "{text}");
        }
        assert!(m.check_byte_codecs::<[u8; 8], [u8; 3]>().is_err());
    }

    #[test]
    fn a_renamed_type_of_the_same_shape_is_accepted_only_when_names_are_not_checked() {
        let mut m = sample();
        // i64 has u64's kind, size and alignment: only the name differs.
        assert!(m.check_codecs::<i64, str>(true).is_err());
        assert!(
            m.check_codecs::<i64, str>(false).unwrap(),
            "the name is updated"
        );
        assert_eq!(m.key, StoredCodec::of::<i64>());
        // Another shape is refused either way.
        assert!(m.check_codecs::<u32, str>(false).is_err());
        assert!(m.check_codecs::<i64, [u8]>(false).is_err());
    }
}
