//! The dump's bytes (`docs/formats.md`, "Dump file"): the header and its codecs, block
//! checksums, and the limits every length read from a file is checked against.

use std::hash::Hasher;

use twox_hash::XxHash3_64;

use super::error::DumpError;
use crate::manifest::StoredCodec;

/// Magic at the start of every dump.
pub const DUMP_MAGIC: [u8; 8] = *b"FRSDUMP\n";
/// Format version this build writes and reads; any other is refused.
pub const DUMP_VERSION: u16 = 1;
/// Largest payload of a block: every record of a store fits (a record fits in a page, and
/// pages are at most 2^30 bytes).
pub const MAX_BLOCK_BYTES: u32 = 1 << 30;
/// The writer closes a block once its payload reaches this size.
pub const BLOCK_TARGET_BYTES: usize = 1 << 20;
/// Largest codec section of a header.
pub(crate) const MAX_CODEC_BYTES: u32 = 1 << 20;
/// Bytes of a block's header: record count, payload length, checksum.
pub(crate) const BLOCK_HEADER: usize = 16;
/// Bytes of a record's two lengths.
pub(crate) const RECORD_LENGTHS: usize = 8;
/// Payload bytes of the trailer: total records and record blocks.
pub(crate) const TRAILER_BYTES: u32 = 16;

/// What a dump's header says: its format version and the codecs of the store it was written
/// from (as its manifest records them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpHeader {
    /// The format version ([`DUMP_VERSION`]).
    pub version: u16,
    /// The key codec.
    pub key: StoredCodec,
    /// The value codec.
    pub value: StoredCodec,
}

/// The checksum of a block: xxh3-64 seeded with the header's checksum (a block of another
/// dump does not check out), of its index, its record count, its length (`payload`'s, at most
/// [`MAX_BLOCK_BYTES`]) and its payload.
pub(crate) fn block_checksum(seed: u64, index: u64, count: u32, payload: &[u8]) -> u64 {
    let mut h = XxHash3_64::with_seed(seed);
    h.write(&index.to_le_bytes());
    h.write(&count.to_le_bytes());
    h.write(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    h.write(payload);
    h.finish()
}

/// The header's bytes after the magic and before the checksum: version, reserved, codec
/// section length, codec section.
pub(crate) fn encode_header(key: &StoredCodec, value: &StoredCodec) -> Result<Vec<u8>, DumpError> {
    let mut codecs = Vec::new();
    for codec in [key, value] {
        put_str(&mut codecs, "kind", &codec.kind)?;
        put_str(&mut codecs, "type name", &codec.type_name)?;
        codecs.push(u8::from(codec.fixed_size.is_some()));
        codecs.extend_from_slice(&codec.fixed_size.unwrap_or(0).to_le_bytes());
        codecs.extend_from_slice(&codec.align.to_le_bytes());
    }
    let mut out = Vec::with_capacity(8 + codecs.len());
    out.extend_from_slice(&DUMP_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(codecs.len() as u32).to_le_bytes());
    out.extend_from_slice(&codecs);
    Ok(out)
}

fn put_str(out: &mut Vec<u8>, what: &'static str, s: &str) -> Result<(), DumpError> {
    let len = u16::try_from(s.len()).map_err(|_| DumpError::DescriptorTooLong {
        what,
        bytes: s.len(),
    })?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Parses the codec section of a header (at file offset `offset`), which must hold exactly
/// the key codec and the value codec.
pub(crate) fn decode_codecs(
    bytes: &[u8],
    offset: u64,
) -> Result<(StoredCodec, StoredCodec), DumpError> {
    let mut cursor = Cursor { bytes, at: 0 };
    let key = cursor.codec().map_err(|r| corrupt(offset, r))?;
    let value = cursor.codec().map_err(|r| corrupt(offset, r))?;
    if cursor.at != bytes.len() {
        return Err(corrupt(offset, "bytes after the value codec"));
    }
    Ok((key, value))
}

pub(crate) fn corrupt(offset: u64, reason: impl Into<String>) -> DumpError {
    DumpError::Corrupt {
        offset,
        reason: reason.into(),
    }
}

/// Reads fields from a byte slice, every length checked against what is left.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.at.checked_add(n).ok_or("a length overflows")?;
        let slice = self
            .bytes
            .get(self.at..end)
            .ok_or("a codec runs past the codec section")?;
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        self.take(N)?
            .try_into()
            .map_err(|_| "a codec runs past the codec section")
    }

    fn string(&mut self) -> Result<String, &'static str> {
        let len = u16::from_le_bytes(self.array()?) as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a codec name is not UTF-8")
    }

    fn codec(&mut self) -> Result<StoredCodec, &'static str> {
        let kind = self.string()?;
        let type_name = self.string()?;
        let [fixed] = self.array()?;
        let size = u64::from_le_bytes(self.array()?);
        let align = u64::from_le_bytes(self.array()?);
        let fixed_size = match (fixed, size) {
            (0, 0) => None,
            (1, n) => Some(n),
            (0, _) => return Err("a codec of variable size has a size"),
            _ => return Err("a codec's fixed-size flag is neither 0 nor 1"),
        };
        if !align.is_power_of_two() {
            return Err("a codec's alignment is not a power of two");
        }
        Ok(StoredCodec {
            kind,
            type_name,
            fixed_size,
            align,
        })
    }
}
