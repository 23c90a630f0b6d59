//! The snapshot file of snapshot and incremental checkpoints: log bytes copied from memory,
//! in chunks of at most a page, each with its address and checksum.
//!
//! ```text
//! header (32 bytes):  magic "FRSSNAP\n" | version u32 | chunk count u32 | token u64 |
//!                     checksum u64 = xxh3(version, count, token)
//! chunk header (24):  address u64 | length u32 | reserved u32 (0) |
//!                     checksum u64 = xxh3(address, length, data)
//! chunk data:         `length` bytes of the log at `address`
//! ```

use std::io::Read;

use faster_cpr::{CheckpointToken, FormatError};
use faster_hlog::Address;

use super::direct::DirectWriter;

/// Magic of a snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"FRSSNAP\n";
/// Format version of snapshot files.
pub const SNAPSHOT_VERSION: u32 = 1;
const HEADER: usize = 32;
const CHUNK_HEADER: usize = 24;

fn hash(parts: &[&[u8]]) -> u64 {
    use std::hash::Hasher;
    let mut h = twox_hash::XxHash3_64::new();
    for part in parts {
        h.write(part);
    }
    h.finish()
}

/// Writes a snapshot file: call [`SnapshotWriter::chunk`] for each chunk, then
/// [`SnapshotWriter::finish`] (which fixes the count in the header and syncs).
pub(crate) struct SnapshotWriter {
    file: DirectWriter,
    token: CheckpointToken,
    count: u32,
}

impl SnapshotWriter {
    pub(crate) fn create(path: &std::path::Path, token: CheckpointToken) -> std::io::Result<Self> {
        let mut file = DirectWriter::create(path)?;
        file.write_all(&[0u8; HEADER])?;
        Ok(Self {
            file,
            token,
            count: 0,
        })
    }

    pub(crate) fn chunk(&mut self, address: u64, data: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(data.len())
            .map_err(|_| std::io::Error::other("snapshot chunk larger than 4 GiB"))?;
        let sum = hash(&[&address.to_le_bytes(), &len.to_le_bytes(), data]);
        let mut head = [0u8; CHUNK_HEADER];
        head[..8].copy_from_slice(&address.to_le_bytes());
        head[8..12].copy_from_slice(&len.to_le_bytes());
        head[16..24].copy_from_slice(&sum.to_le_bytes());
        self.file.write_all(&head)?;
        self.file.write_all(data)?;
        self.count += 1;
        Ok(())
    }

    /// Writes the header and makes the file durable.
    pub(crate) fn finish(self) -> std::io::Result<()> {
        let mut head = [0u8; HEADER];
        head[..8].copy_from_slice(&SNAPSHOT_MAGIC);
        head[8..12].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        head[12..16].copy_from_slice(&self.count.to_le_bytes());
        head[16..24].copy_from_slice(&self.token.get().to_le_bytes());
        let sum = hash(&[&head[8..24]]);
        head[24..32].copy_from_slice(&sum.to_le_bytes());
        self.file.finish(&head)
    }
}

/// One chunk of a snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotChunk {
    /// The log address of the first byte.
    pub address: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Why a snapshot file could not be read: its bytes are wrong (damage), or reading them failed
/// (which proves nothing about them).
#[derive(Debug)]
pub(crate) enum ReadError {
    Format(FormatError),
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Format(e) => e.fmt(f),
            Self::Io(e) => e.fmt(f),
        }
    }
}

impl From<FormatError> for ReadError {
    fn from(e: FormatError) -> Self {
        Self::Format(e)
    }
}

/// Reads a snapshot file chunk by chunk, checking every checksum (rule R6).
pub(crate) struct SnapshotReader<R> {
    input: R,
    remaining: u32,
    /// The chunk size limit (a page): a larger length is corruption, not an allocation.
    max_chunk: usize,
}

impl<R: Read> SnapshotReader<R> {
    pub(crate) fn open(
        mut input: R,
        token: CheckpointToken,
        max_chunk: usize,
    ) -> Result<Self, ReadError> {
        let mut head = [0u8; HEADER];
        read_exact(&mut input, &mut head)?;
        if head[..8] != SNAPSHOT_MAGIC {
            return Err(FormatError::BadMagic.into());
        }
        let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if version != SNAPSHOT_VERSION {
            return Err(FormatError::UnsupportedVersion {
                found: version,
                supported: SNAPSHOT_VERSION,
            }
            .into());
        }
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&head[24..32]);
        if hash(&[&head[8..24]]) != u64::from_le_bytes(sum) {
            return Err(FormatError::ChecksumMismatch.into());
        }
        let mut token_bytes = [0u8; 8];
        token_bytes.copy_from_slice(&head[16..24]);
        if u64::from_le_bytes(token_bytes) != token.get() {
            return Err(FormatError::Inconsistent("snapshot file of another checkpoint").into());
        }
        Ok(Self {
            input,
            remaining: u32::from_le_bytes([head[12], head[13], head[14], head[15]]),
            max_chunk,
        })
    }

    /// The next chunk, checked; `None` after the last.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<SnapshotChunk>, ReadError> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let mut head = [0u8; CHUNK_HEADER];
        read_exact(&mut self.input, &mut head)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(&head[..8]);
        let address = u64::from_le_bytes(word);
        let len = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if len as usize > self.max_chunk || head[12..16] != [0; 4] {
            return Err(FormatError::Inconsistent("snapshot chunk length out of range").into());
        }
        if address >= Address::LIMIT {
            return Err(FormatError::Inconsistent("snapshot chunk address beyond 48 bits").into());
        }
        let mut data = vec![0u8; len as usize];
        read_exact(&mut self.input, &mut data)?;
        word.copy_from_slice(&head[16..24]);
        if hash(&[&address.to_le_bytes(), &len.to_le_bytes(), &data]) != u64::from_le_bytes(word) {
            return Err(FormatError::ChecksumMismatch.into());
        }
        self.remaining -= 1;
        Ok(Some(SnapshotChunk { address, data }))
    }
}

/// Fills `buf`: a file that ends first is truncated (damage); any other failure is an I/O
/// error.
fn read_exact(input: &mut impl Read, buf: &mut [u8]) -> Result<(), ReadError> {
    input.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ReadError::Format(FormatError::Truncated {
            needed: buf.len(),
            got: 0,
        }),
        _ => ReadError::Io(e),
    })
}

/// Parses a whole snapshot file held in memory (for tools and fuzzing): every chunk, or the
/// first error.
///
/// # Errors
/// [`FormatError`] naming what is wrong.
pub fn parse_snapshot(
    bytes: &[u8],
    token: CheckpointToken,
    max_chunk: usize,
) -> Result<Vec<SnapshotChunk>, FormatError> {
    // Reading a slice fails only by running out of bytes: truncation.
    let format = |e: ReadError| match e {
        ReadError::Format(f) => f,
        ReadError::Io(_) => FormatError::Truncated { needed: 1, got: 0 },
    };
    let mut reader = SnapshotReader::open(bytes, token, max_chunk).map_err(format)?;
    let mut chunks = Vec::new();
    while let Some(chunk) = reader.next_chunk().map_err(format)? {
        chunks.push(chunk);
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_and_every_flipped_byte_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let (token, other) = (CheckpointToken::new(9), CheckpointToken::new(10));
        let mut w = SnapshotWriter::create(&path, token).unwrap();
        w.chunk(4096, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        w.chunk(8192, &[9; 40]).unwrap();
        w.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let chunks = parse_snapshot(&bytes, token, 4096).unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[1],
            SnapshotChunk {
                address: 8192,
                data: vec![9; 40]
            }
        );
        assert!(
            parse_snapshot(&bytes, other, 4096).is_err(),
            "another token"
        );
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(
                parse_snapshot(&bad, token, 4096).is_err(),
                "flip at {i} went unnoticed"
            );
        }
        for len in 0..bytes.len() {
            assert!(
                parse_snapshot(&bytes[..len], token, 4096).is_err(),
                "truncated to {len}"
            );
        }
    }
}
