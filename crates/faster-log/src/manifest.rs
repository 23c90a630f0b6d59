//! The manifest of a log in a directory: its identity and the settings that shape its bytes,
//! recorded once when the log is created and checked at every open (`docs/formats.md`,
//! "FasterLog manifest").
//!
//! `<dir>/MANIFEST` is an envelope (magic `FRSLOGM\n`, format version, length, xxh3 checksum)
//! around 36 bytes of fixed little-endian fields. It is written once, atomically (temporary
//! file, fsync, rename, fsync of the directory), before any other file of the log, so a
//! directory holding segment files always holds the manifest that names them. A log on
//! devices of the caller's ([`FasterLog::builder`](crate::FasterLog::builder)) has none.

use std::path::Path;

use faster_device::envelope::{self, ENVELOPE_HEADER, EnvelopeError};
use faster_hlog::Address;

use crate::commit_record::MAX_COMMIT_RECORD_SIZE;
use crate::error::LogOpenError;

/// Name of the manifest file in a log's directory.
pub const MANIFEST_FILE: &str = "MANIFEST";
/// Magic of the manifest.
pub const MANIFEST_MAGIC: [u8; 8] = *b"FRSLOGM\n";
/// Format version of the manifest this build writes and reads.
pub const MANIFEST_VERSION: u32 = 1;
/// Bytes of the payload: identity (16), segment size (8), commit slot size (8), page size
/// bits (4).
pub const MANIFEST_PAYLOAD_BYTES: usize = 36;

// Offsets of the fields in the payload.
const IDENTITY_AT: usize = 0;
const SEGMENT_SIZE_AT: usize = IDENTITY_AT + 16;
const COMMIT_SLOT_SIZE_AT: usize = SEGMENT_SIZE_AT + 8;
const PAGE_SIZE_BITS_AT: usize = COMMIT_SLOT_SIZE_AT + 8;
const _: () = assert!(PAGE_SIZE_BITS_AT + 4 == MANIFEST_PAYLOAD_BYTES);

/// Sector size of the segment files: slot and segment sizes are multiples of it.
const FILE_SECTOR: u64 = faster_device::FILE_SECTOR_SIZE as u64;
/// The largest segment size: the log's whole address space.
const MAX_SEGMENT_SIZE: u64 = Address::LIMIT;

/// What a log's manifest records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogManifest {
    /// The log's identity, chosen at random when it was created. The segment files of its
    /// log device and of its commit device carry it in their headers.
    pub identity: u128,
    /// Page size as a power of two (12..=30).
    pub page_size_bits: u32,
    /// Bytes per log segment file: a power of two from 4096 to 2^48.
    pub segment_size: u64,
    /// Bytes of each of the two metadata slots: a multiple of 4096, at most 16 MiB.
    pub commit_slot_size: u64,
}

/// Why bytes are not a valid manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The envelope is damaged, truncated, of another file kind or another version.
    #[error("manifest envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The envelope's payload does not have the length of this version's fields.
    #[error("the manifest payload is {got} bytes long, not {MANIFEST_PAYLOAD_BYTES}")]
    PayloadLength {
        /// The length the envelope gives.
        got: usize,
    },
    /// Bytes follow the envelope.
    #[error("{extra} bytes follow the manifest")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// A recorded setting is out of its range.
    #[error("{setting} {reason}")]
    OutOfRange {
        /// The builder setting.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl LogManifest {
    /// The manifest's bytes: the envelope around the fields.
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(MANIFEST_PAYLOAD_BYTES);
        payload.extend_from_slice(&self.identity.to_le_bytes());
        payload.extend_from_slice(&self.segment_size.to_le_bytes());
        payload.extend_from_slice(&self.commit_slot_size.to_le_bytes());
        payload.extend_from_slice(&self.page_size_bits.to_le_bytes());
        debug_assert_eq!(payload.len(), MANIFEST_PAYLOAD_BYTES);
        envelope::seal(MANIFEST_MAGIC, MANIFEST_VERSION, &payload)
    }

    /// Checks manifest bytes — the envelope, the payload's length, nothing after it, every
    /// setting in its range — and returns what they record.
    ///
    /// # Errors
    /// [`ManifestError`] naming the first check that failed.
    pub fn decode(bytes: &[u8]) -> Result<Self, ManifestError> {
        let payload = envelope::open(MANIFEST_MAGIC, MANIFEST_VERSION, bytes)?;
        let Ok(fields) = <&[u8; MANIFEST_PAYLOAD_BYTES]>::try_from(payload) else {
            return Err(ManifestError::PayloadLength { got: payload.len() });
        };
        let extra = bytes.len() - ENVELOPE_HEADER - MANIFEST_PAYLOAD_BYTES;
        if extra != 0 {
            return Err(ManifestError::TrailingBytes { extra });
        }
        let manifest = Self {
            identity: u128::from_le_bytes(field(fields, IDENTITY_AT)),
            page_size_bits: u32::from_le_bytes(field(fields, PAGE_SIZE_BITS_AT)),
            segment_size: u64::from_le_bytes(field(fields, SEGMENT_SIZE_AT)),
            commit_slot_size: u64::from_le_bytes(field(fields, COMMIT_SLOT_SIZE_AT)),
        };
        manifest.check()?;
        Ok(manifest)
    }

    /// Checks that every setting is in its range: what a builder may ask for in a directory,
    /// and what a manifest may record.
    ///
    /// # Errors
    /// [`ManifestError::OutOfRange`] naming the setting.
    pub fn check(&self) -> Result<(), ManifestError> {
        let out_of_range =
            |setting, reason: String| Err(ManifestError::OutOfRange { setting, reason });
        let bits = self.page_size_bits;
        if !(faster_hlog::MIN_PAGE_SIZE_BITS..=faster_hlog::MAX_PAGE_SIZE_BITS).contains(&bits) {
            return out_of_range(
                "page_size_bits",
                format!(
                    "{bits} is outside {}..={}",
                    faster_hlog::MIN_PAGE_SIZE_BITS,
                    faster_hlog::MAX_PAGE_SIZE_BITS
                ),
            );
        }
        let segment = self.segment_size;
        if !segment.is_power_of_two() || !(FILE_SECTOR..=MAX_SEGMENT_SIZE).contains(&segment) {
            return out_of_range(
                "segment_size",
                format!("{segment} is not a power of two from {FILE_SECTOR} to 2^48"),
            );
        }
        let slot = self.commit_slot_size;
        let max_slot = MAX_COMMIT_RECORD_SIZE as u64;
        if !slot.is_multiple_of(FILE_SECTOR) || !(FILE_SECTOR..=max_slot).contains(&slot) {
            return out_of_range(
                "commit_slot_size",
                format!(
                    "{slot} is not a multiple of {FILE_SECTOR} from {FILE_SECTOR} to {max_slot} \
                     (the largest commit record)"
                ),
            );
        }
        Ok(())
    }

    /// Reads the manifest of the log in `dir`: `Ok(None)` when there is none.
    ///
    /// # Errors
    /// [`LogOpenError::Io`] when it cannot be read, [`LogOpenError::Manifest`] when it is damaged.
    pub(crate) fn read(dir: &Path) -> Result<Option<Self>, LogOpenError> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LogOpenError::io(path, e)),
        };
        Self::decode(&bytes)
            .map(Some)
            .map_err(|reason| LogOpenError::Manifest { path, reason })
    }

    /// Writes the manifest of the log in `dir`, atomically and durably.
    ///
    /// # Errors
    /// [`LogOpenError::Io`] naming the file or directory that failed.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), LogOpenError> {
        faster_device::write_file_durably(&dir.join(MANIFEST_FILE), &self.encode())
            .map_err(LogOpenError::from)
    }
}

/// The `N` bytes of `payload` at `at` (a constant offset of the layout above).
fn field<const N: usize>(payload: &[u8; MANIFEST_PAYLOAD_BYTES], at: usize) -> [u8; N] {
    let mut bytes = [0; N];
    bytes.copy_from_slice(&payload[at..at + N]);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LogManifest {
        LogManifest {
            identity: 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
            page_size_bits: 16,
            segment_size: 1 << 20,
            commit_slot_size: 64 << 10,
        }
    }

    #[test]
    fn a_manifest_round_trips_with_the_documented_layout() {
        let m = sample();
        let bytes = m.encode();
        assert_eq!(bytes.len(), ENVELOPE_HEADER + MANIFEST_PAYLOAD_BYTES);
        assert_eq!(&bytes[..8], b"FRSLOGM\n");
        assert_eq!(&bytes[8..12], &1u32.to_le_bytes());
        assert_eq!(&bytes[12..16], &36u32.to_le_bytes());
        assert_eq!(&bytes[24..40], &m.identity.to_le_bytes());
        assert_eq!(&bytes[40..48], &(1u64 << 20).to_le_bytes());
        assert_eq!(&bytes[48..56], &(64u64 << 10).to_le_bytes());
        assert_eq!(&bytes[56..60], &16u32.to_le_bytes());
        assert_eq!(LogManifest::decode(&bytes), Ok(m));
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_refused() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            for mask in [0x01, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[i] ^= mask;
                assert!(
                    LogManifest::decode(&bad).is_err(),
                    "flip {mask:#x} at byte {i} went unnoticed"
                );
            }
        }
        for len in 0..bytes.len() {
            assert!(LogManifest::decode(&bytes[..len]).is_err(), "cut at {len}");
        }
        let mut longer = bytes;
        longer.push(0);
        assert_eq!(
            LogManifest::decode(&longer),
            Err(ManifestError::TrailingBytes { extra: 1 })
        );
    }

    #[test]
    fn settings_out_of_range_are_named() {
        let cases = [
            (
                LogManifest {
                    page_size_bits: 11,
                    ..sample()
                },
                "page_size_bits",
            ),
            (
                LogManifest {
                    page_size_bits: 31,
                    ..sample()
                },
                "page_size_bits",
            ),
            (
                LogManifest {
                    segment_size: 3 << 20,
                    ..sample()
                },
                "segment_size",
            ),
            (
                LogManifest {
                    segment_size: 2048,
                    ..sample()
                },
                "segment_size",
            ),
            (
                LogManifest {
                    segment_size: 1 << 49,
                    ..sample()
                },
                "segment_size",
            ),
            (
                LogManifest {
                    commit_slot_size: 0,
                    ..sample()
                },
                "commit_slot_size",
            ),
            (
                LogManifest {
                    commit_slot_size: 5000,
                    ..sample()
                },
                "commit_slot_size",
            ),
            (
                LogManifest {
                    commit_slot_size: 32 << 20,
                    ..sample()
                },
                "commit_slot_size",
            ),
        ];
        for (manifest, name) in cases {
            // A sealed manifest with a checksum that matches: only the range check refuses it.
            match LogManifest::decode(&manifest.encode()) {
                Err(ManifestError::OutOfRange { setting, .. }) => assert_eq!(setting, name),
                other => panic!("{manifest:?}: {other:?}"),
            }
        }
        let mut short = envelope::seal(MANIFEST_MAGIC, MANIFEST_VERSION, &[0; 35]);
        assert_eq!(
            LogManifest::decode(&short),
            Err(ManifestError::PayloadLength { got: 35 })
        );
        short = envelope::seal(MANIFEST_MAGIC, 2, &sample().encode()[ENVELOPE_HEADER..]);
        assert!(matches!(
            LogManifest::decode(&short),
            Err(ManifestError::Envelope(EnvelopeError::UnsupportedVersion {
                found: 2,
                ..
            }))
        ));
    }
}
