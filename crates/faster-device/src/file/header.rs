//! The header block at the start of every segment file (rule D8): the log's identity, the
//! segment's index and the segment size, in an envelope; byte diagram in `docs/formats.md`.
//!
//! The block is [`SEGMENT_HEADER_BYTES`] long, one file sector, so data stays sector aligned
//! for `O_DIRECT`: data of segment offset `o` lives at file offset
//! [`data_file_offset`]`(o)`, the one place both engines compute it.

use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::Arc;

use super::FILE_SECTOR_SIZE;
use super::sys;
use crate::aligned_buf::AlignedBuf;
use crate::envelope::{self, ENVELOPE_HEADER, EnvelopeError};
use crate::error::{DeviceError, IoOp};

/// Bytes of the header block at the start of every segment file; segment data follows it.
pub const SEGMENT_HEADER_BYTES: u64 = 4096;
/// Magic of a segment file header.
pub const SEGMENT_MAGIC: [u8; 8] = *b"FRSSEGM\n";
/// Format version of segment file headers this build writes and reads.
pub const SEGMENT_FORMAT_VERSION: u32 = 1;

/// Bytes of the header's payload: identity (16), index (8), segment size (8).
const PAYLOAD_BYTES: usize = 32;

const _: () = assert!(SEGMENT_HEADER_BYTES.is_multiple_of(FILE_SECTOR_SIZE as u64));
const _: () = assert!(ENVELOPE_HEADER + PAYLOAD_BYTES <= SEGMENT_HEADER_BYTES as usize);

/// Where the byte at `segment_offset` of a segment lives in its file (rule D8).
#[inline]
pub(crate) fn data_file_offset(segment_offset: u64) -> u64 {
    SEGMENT_HEADER_BYTES + segment_offset
}

/// What a segment file's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The identity of the log the segment belongs to.
    pub identity: u128,
    /// The segment's index (its file name holds the same number).
    pub index: u64,
    /// The segment size of the device that wrote it, in bytes.
    pub segment_size: u64,
}

/// What is wrong with a header block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentHeaderError {
    /// Fewer bytes than a header block.
    #[error("the header block is {got} bytes long, not {SEGMENT_HEADER_BYTES}")]
    Short {
        /// Bytes present.
        got: usize,
    },
    /// The header block is all zeros: the file's creation was cut short (or it was zeroed).
    #[error("the header block is all zeros")]
    Zeroed,
    /// The envelope around the payload is damaged or of another format.
    #[error("header envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The envelope's payload is not the expected length.
    #[error("header payload is {got} bytes long, not {PAYLOAD_BYTES}")]
    PayloadLength {
        /// The length in the envelope.
        got: usize,
    },
    /// A byte after the payload is not zero.
    #[error("non-zero byte at offset {offset} of the header block")]
    NonZeroPadding {
        /// Offset of the first such byte in the block.
        offset: usize,
    },
}

impl SegmentHeader {
    /// The header block: the envelope, then zeros up to [`SEGMENT_HEADER_BYTES`].
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = [0u8; PAYLOAD_BYTES];
        payload[0..16].copy_from_slice(&self.identity.to_le_bytes());
        payload[16..24].copy_from_slice(&self.index.to_le_bytes());
        payload[24..32].copy_from_slice(&self.segment_size.to_le_bytes());
        let mut block = envelope::seal(SEGMENT_MAGIC, SEGMENT_FORMAT_VERSION, &payload);
        block.resize(SEGMENT_HEADER_BYTES as usize, 0);
        block
    }

    /// Parses a header block (the first [`SEGMENT_HEADER_BYTES`] of `block` are looked at,
    /// the rest ignored). Checks the length, the envelope (magic, version, checksum), the
    /// payload length and that every byte after the payload is zero.
    ///
    /// # Errors
    /// [`SegmentHeaderError`] naming the first problem found.
    pub fn decode(block: &[u8]) -> Result<Self, SegmentHeaderError> {
        let block = block
            .get(..SEGMENT_HEADER_BYTES as usize)
            .ok_or(SegmentHeaderError::Short { got: block.len() })?;
        if block.iter().all(|&b| b == 0) {
            return Err(SegmentHeaderError::Zeroed);
        }
        let payload = envelope::open(SEGMENT_MAGIC, SEGMENT_FORMAT_VERSION, block)?;
        if payload.len() != PAYLOAD_BYTES {
            return Err(SegmentHeaderError::PayloadLength { got: payload.len() });
        }
        let end = ENVELOPE_HEADER + PAYLOAD_BYTES;
        if let Some(at) = block[end..].iter().position(|&b| b != 0) {
            return Err(SegmentHeaderError::NonZeroPadding { offset: end + at });
        }
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&payload[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        let mut identity = [0u8; 16];
        identity.copy_from_slice(&payload[0..16]);
        Ok(Self {
            identity: u128::from_le_bytes(identity),
            index: word(16),
            segment_size: word(24),
        })
    }
}

/// Reads and parses the header of the segment file at `path`, without opening a device and
/// without comparing the header with the file name: for inspection tools.
///
/// # Errors
/// [`DeviceError::BadSegment`] naming the file when the header is short, all zeros or
/// damaged; [`DeviceError::Io`] (whose message names the file) when the file cannot be
/// opened or read.
pub fn read_segment_header(path: &Path) -> Result<SegmentHeader, DeviceError> {
    // The error names the file; its kind is kept.
    let io_error = |op, e: std::io::Error| DeviceError::Io {
        op,
        offset: 0,
        source: Arc::new(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        )),
    };
    let file = std::fs::File::open(path).map_err(|e| io_error(IoOp::Open, e))?;
    let mut block = vec![0u8; SEGMENT_HEADER_BYTES as usize];
    let got = sys::pread_some(std::os::fd::AsFd::as_fd(&file), &mut block, 0)
        .map_err(|e| io_error(IoOp::Read, e))?;
    block.truncate(got);
    SegmentHeader::decode(&block).map_err(|e| DeviceError::BadSegment {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Reads a segment file's header block through `fd` (which may be `O_DIRECT`) into an aligned
/// buffer; returns the buffer and how many bytes the file held (fewer than a block when the
/// file is shorter).
pub(crate) fn read_block(fd: BorrowedFd<'_>) -> std::io::Result<(AlignedBuf, usize)> {
    let mut block = AlignedBuf::options()
        .alignment(FILE_SECTOR_SIZE)
        .zeroed(SEGMENT_HEADER_BYTES as usize)
        .map_err(std::io::Error::other)?;
    let got = sys::pread_some(fd, &mut block, 0)?;
    Ok((block, got))
}

/// Writes `header`'s block at the start of the file behind `fd` (which may be `O_DIRECT`) and
/// syncs it with `fdatasync` (rule D8: before the file is used for data).
pub(crate) fn write_block(fd: BorrowedFd<'_>, header: &SegmentHeader) -> std::io::Result<()> {
    let mut block = AlignedBuf::options()
        .alignment(FILE_SECTOR_SIZE)
        .zeroed(SEGMENT_HEADER_BYTES as usize)
        .map_err(std::io::Error::other)?;
    block.copy_from_slice(&header.encode());
    sys::pwrite_all(fd, &block, 0)?;
    sys::retry_intr(|| rustix::fs::fdatasync(fd)).map_err(std::io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> SegmentHeader {
        SegmentHeader {
            identity: 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
            index: 7,
            segment_size: 1 << 20,
        }
    }

    #[test]
    fn a_header_round_trips_and_is_one_block_of_zeros_after_the_payload() {
        let block = header().encode();
        assert_eq!(block.len(), SEGMENT_HEADER_BYTES as usize);
        assert_eq!(&block[..8], b"FRSSEGM\n");
        assert_eq!(&block[8..12], &1u32.to_le_bytes());
        assert_eq!(&block[12..16], &32u32.to_le_bytes());
        assert_eq!(&block[24..40], &header().identity.to_le_bytes());
        assert_eq!(&block[40..48], &7u64.to_le_bytes());
        assert_eq!(&block[48..56], &(1u64 << 20).to_le_bytes());
        assert!(block[56..].iter().all(|&b| b == 0));
        assert_eq!(SegmentHeader::decode(&block), Ok(header()));
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_refused() {
        let block = header().encode();
        for at in 0..block.len() {
            let mut bad = block.clone();
            bad[at] ^= 0x20;
            let err = SegmentHeader::decode(&bad).unwrap_err();
            if at >= 56 {
                assert_eq!(err, SegmentHeaderError::NonZeroPadding { offset: at });
            }
        }
        for len in [0, 1, 55, 56, 4095] {
            assert_eq!(
                SegmentHeader::decode(&block[..len]),
                Err(SegmentHeaderError::Short { got: len })
            );
        }
        assert_eq!(
            SegmentHeader::decode(&vec![0; 4096]),
            Err(SegmentHeaderError::Zeroed)
        );
    }

    #[test]
    fn a_payload_of_another_length_is_refused() {
        let mut block = envelope::seal(SEGMENT_MAGIC, SEGMENT_FORMAT_VERSION, &[1; 40]);
        block.resize(4096, 0);
        assert_eq!(
            SegmentHeader::decode(&block),
            Err(SegmentHeaderError::PayloadLength { got: 40 })
        );
    }
}
