//! The F2 manifest: the file `F2` at the top of an F2 directory, naming the directory an F2
//! store and recording the setting that shapes its cold index (`docs/formats.md`, "F2
//! manifest").
//!
//! ```text
//! offset size field
//!      0    8 magic: "FRSF2MF\n"
//!      8    4 format version: u32 LE, 2
//!     12    4 cold index chunk bits: u32 LE, 4..=32
//!     16    8 checksum: xxh3-64 (seed 0) of bytes 0..16, u64 LE
//! ```

use std::hash::Hasher as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use twox_hash::XxHash3_64;

use crate::error::F2Error;

const MAGIC: &[u8; 8] = b"FRSF2MF\n";
/// Version 2: cold index slots carry a tag (version 1's held bare addresses; such a
/// directory is refused, never misread).
const VERSION: u32 = 2;
const LEN: usize = 24;
/// The manifest's file name.
pub(crate) const FILE: &str = "F2";

/// What the manifest records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct F2Manifest {
    /// The cold index has 2^`chunk_bits` chunks.
    pub chunk_bits: u32,
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut h = XxHash3_64::with_seed(0);
    h.write(bytes);
    h.finish()
}

impl F2Manifest {
    /// The manifest's bytes.
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&self.chunk_bits.to_le_bytes());
        let sum = checksum(&out[..16]);
        out[16..24].copy_from_slice(&sum.to_le_bytes());
        out
    }

    /// Parses the manifest's bytes: every field checked (rule HC5).
    ///
    /// # Errors
    /// What is wrong with the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() != LEN {
            return Err(format!("{} bytes, not {LEN}", bytes.len()));
        }
        if &bytes[..8] != MAGIC {
            return Err("not an F2 manifest (wrong magic)".into());
        }
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&bytes[16..24]);
        if u64::from_le_bytes(sum) != checksum(&bytes[..16]) {
            return Err("checksum mismatch (damaged)".into());
        }
        let version = word(8);
        if version == 1 {
            return Err(format!(
                "format version 1, whose cold index slots hold no tags; this build reads \
                 version {VERSION} and cannot open it"
            ));
        }
        if version != VERSION {
            return Err(format!(
                "format version {version}; this build reads version {VERSION}"
            ));
        }
        let chunk_bits = word(12);
        if !(4..=32).contains(&chunk_bits) {
            return Err(format!("cold index chunk bits {chunk_bits} outside 4..=32"));
        }
        Ok(Self { chunk_bits })
    }

    /// Reads the manifest of `dir`, `None` if it has none.
    pub(crate) fn read(dir: &Path) -> Result<Option<Self>, F2Error> {
        let path = dir.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Self::decode(&bytes)
                .map(Some)
                .map_err(|reason| F2Error::Manifest { path, reason }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(F2Error::Io { path, source }),
        }
    }

    /// Writes the manifest of `dir` durably: a temporary file, synced, renamed over the
    /// manifest, and the directory synced.
    pub(crate) fn write(&self, dir: &Path) -> Result<(), F2Error> {
        let io = |path: PathBuf| move |source| F2Error::Io { path, source };
        let tmp = dir.join("F2.tmp");
        let mut file = std::fs::File::create(&tmp).map_err(io(tmp.clone()))?;
        file.write_all(&self.encode()).map_err(io(tmp.clone()))?;
        file.sync_all().map_err(io(tmp.clone()))?;
        std::fs::rename(&tmp, dir.join(FILE)).map_err(io(dir.join(FILE)))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir.to_path_buf()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_round_trips_and_every_damaged_byte_is_refused() {
        let m = F2Manifest { chunk_bits: 16 };
        let bytes = m.encode();
        assert_eq!(F2Manifest::decode(&bytes), Ok(m));
        for i in 0..LEN {
            let mut bad = bytes;
            bad[i] ^= 0x10;
            assert!(F2Manifest::decode(&bad).is_err(), "byte {i}");
        }
        assert!(F2Manifest::decode(&bytes[..LEN - 1]).is_err());
    }

    #[test]
    fn a_version_1_manifest_is_refused_by_name() {
        let mut bytes = F2Manifest { chunk_bits: 16 }.encode();
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        let sum = checksum(&bytes[..16]);
        bytes[16..24].copy_from_slice(&sum.to_le_bytes());
        let err = F2Manifest::decode(&bytes).err().unwrap_or_default();
        assert!(err.contains("format version 1"), "{err}");
    }
}
