//! [`DumpReader`]: reads a dump block by block, checking every length, checksum and count
//! before handing out a record.

use std::io::Read;

use super::error::DumpError;
use super::format::{
    BLOCK_HEADER, DUMP_MAGIC, DUMP_VERSION, DumpHeader, MAX_BLOCK_BYTES, MAX_CODEC_BYTES,
    RECORD_LENGTHS, TRAILER_BYTES, block_checksum, corrupt, decode_codecs,
};

/// Reads a dump from `R`. [`DumpReader::new`] reads and checks the header;
/// [`DumpReader::next_block`] reads and checks one block at a time, and at the end the
/// trailer and the end of the file.
#[derive(Debug)]
pub struct DumpReader<R: Read> {
    input: R,
    offset: u64,
    header: DumpHeader,
    seed: u64,
    block: Vec<u8>,
    blocks: u64,
    records: u64,
    done: bool,
}

/// The records of one block, in the order they were written.
#[derive(Debug)]
pub struct DumpRecords<'a> {
    bytes: &'a [u8],
    offset: u64,
    left: u32,
}

/// One record of a dump: its key's and value's encoded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpRecord<'a> {
    /// Offset of the record in the file.
    pub offset: u64,
    /// The key's bytes.
    pub key: &'a [u8],
    /// The value's bytes.
    pub value: &'a [u8],
}

impl<R: Read> DumpReader<R> {
    /// Reads and checks the header.
    ///
    /// # Errors
    /// [`DumpError::BadMagic`], [`DumpError::UnsupportedVersion`], [`DumpError::Truncated`],
    /// [`DumpError::Corrupt`] (a bad checksum or codec section), [`DumpError::Io`].
    pub fn new(input: R) -> Result<Self, DumpError> {
        let mut reader = Self {
            input,
            offset: 0,
            header: DumpHeader {
                version: DUMP_VERSION,
                key: crate::manifest::StoredCodec::of::<[u8]>(),
                value: crate::manifest::StoredCodec::of::<[u8]>(),
            },
            seed: 0,
            block: Vec::new(),
            blocks: 0,
            records: 0,
            done: false,
        };
        reader.read_header()?;
        Ok(reader)
    }

    fn read_header(&mut self) -> Result<(), DumpError> {
        let mut magic = [0u8; 8];
        let got = self.read_some(&mut magic)?;
        if magic[..got] != DUMP_MAGIC[..got] {
            return Err(DumpError::BadMagic);
        }
        if got < magic.len() {
            return Err(DumpError::Truncated {
                offset: self.offset,
            });
        }
        let mut fixed = [0u8; 8];
        self.read_exact(&mut fixed)?;
        let [v0, v1, r0, r1, l0, l1, l2, l3] = fixed;
        let version = u16::from_le_bytes([v0, v1]);
        if version != DUMP_VERSION {
            return Err(DumpError::UnsupportedVersion { found: version });
        }
        if [r0, r1] != [0, 0] {
            return Err(corrupt(10, "reserved header bytes are not zero"));
        }
        let len = u32::from_le_bytes([l0, l1, l2, l3]);
        if len > MAX_CODEC_BYTES {
            return Err(corrupt(12, format!("a codec section of {len} bytes")));
        }
        let mut codecs = vec![0u8; len as usize];
        self.read_exact(&mut codecs)?;
        let mut stored = [0u8; 8];
        self.read_exact(&mut stored)?;
        let mut hashed = Vec::with_capacity(fixed.len() + codecs.len());
        hashed.extend_from_slice(&fixed);
        hashed.extend_from_slice(&codecs);
        let seed = twox_hash::XxHash3_64::oneshot(&hashed);
        if seed != u64::from_le_bytes(stored) {
            return Err(corrupt(0, "the header's checksum does not match"));
        }
        let (key, value) = decode_codecs(&codecs, 16)?;
        self.header = DumpHeader {
            version,
            key,
            value,
        };
        self.seed = seed;
        Ok(())
    }

    /// The header: format version and codecs.
    pub fn header(&self) -> &DumpHeader {
        &self.header
    }

    /// Records of the blocks read so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.offset
    }

    /// Reads and checks the next block; `None` once the trailer has been read and checked
    /// (its counts, and that the file ends there).
    ///
    /// # Errors
    /// [`DumpError::Truncated`], [`DumpError::Corrupt`], [`DumpError::Io`].
    pub fn next_block(&mut self) -> Result<Option<DumpRecords<'_>>, DumpError> {
        if self.done {
            return Ok(None);
        }
        let at = self.offset;
        let mut head = [0u8; BLOCK_HEADER];
        self.read_exact(&mut head)?;
        let [c0, c1, c2, c3, l0, l1, l2, l3, sum @ ..] = head;
        let count = u32::from_le_bytes([c0, c1, c2, c3]);
        let len = u32::from_le_bytes([l0, l1, l2, l3]);
        let fits = if count == 0 {
            len == TRAILER_BYTES
        } else {
            len <= MAX_BLOCK_BYTES && u64::from(count) * RECORD_LENGTHS as u64 <= u64::from(len)
        };
        if !fits {
            return Err(corrupt(
                at,
                format!("a block of {count} records in {len} bytes"),
            ));
        }
        self.block.clear();
        let got = (&mut self.input)
            .take(u64::from(len))
            .read_to_end(&mut self.block)?;
        self.offset += got as u64;
        if got < len as usize {
            return Err(DumpError::Truncated {
                offset: self.offset,
            });
        }
        if block_checksum(self.seed, self.blocks, count, &self.block) != u64::from_le_bytes(sum) {
            return Err(corrupt(at, "the block's checksum does not match"));
        }
        if count == 0 {
            return self.end(at).map(|()| None);
        }
        let offset = at + BLOCK_HEADER as u64;
        check_records(&self.block, count, offset)?;
        self.blocks += 1;
        self.records += u64::from(count);
        Ok(Some(DumpRecords {
            bytes: &self.block,
            offset,
            left: count,
        }))
    }

    /// Checks the trailer at `at` (in `self.block`) and the end of the file.
    fn end(&mut self, at: u64) -> Result<(), DumpError> {
        let word = |i: usize| {
            self.block
                .get(i..i + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(u64::MAX, u64::from_le_bytes)
        };
        let (records, blocks) = (word(0), word(8));
        if (records, blocks) != (self.records, self.blocks) {
            return Err(corrupt(
                at,
                format!(
                    "the trailer counts {records} records in {blocks} blocks, the file holds {} in {}",
                    self.records, self.blocks
                ),
            ));
        }
        let mut extra = [0u8; 1];
        if self.read_some(&mut extra)? != 0 {
            return Err(corrupt(self.offset - 1, "bytes after the trailer"));
        }
        self.done = true;
        Ok(())
    }

    /// Fills `buf`, or fails with [`DumpError::Truncated`] at the end of the file.
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), DumpError> {
        if self.read_some(buf)? < buf.len() {
            return Err(DumpError::Truncated {
                offset: self.offset,
            });
        }
        Ok(())
    }

    /// Reads until `buf` is full or the file ends; returns the bytes read.
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, DumpError> {
        let mut got = 0;
        while got < buf.len() {
            match self.input.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => {
                    got += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(got)
    }
}

/// Checks that `bytes` holds exactly `count` records.
fn check_records(bytes: &[u8], count: u32, offset: u64) -> Result<(), DumpError> {
    let mut records = DumpRecords {
        bytes,
        offset,
        left: count,
    };
    for _ in 0..count {
        if let Err(at) = records.split() {
            return Err(corrupt(at, "a record runs past its block"));
        }
    }
    if !records.bytes.is_empty() {
        return Err(corrupt(
            records.offset,
            "bytes after the block's last record",
        ));
    }
    Ok(())
}

impl<'a> DumpRecords<'a> {
    /// Records left in the block.
    pub fn len(&self) -> usize {
        self.left as usize
    }

    /// Whether every record of the block has been handed out.
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }

    /// The next record, or the offset of a record that runs past the bytes.
    fn split(&mut self) -> Result<DumpRecord<'a>, u64> {
        let offset = self.offset;
        let lengths = self.bytes.get(..RECORD_LENGTHS).ok_or(offset)?;
        let [k0, k1, k2, k3, v0, v1, v2, v3] = lengths.try_into().map_err(|_| offset)?;
        let key_len = u32::from_le_bytes([k0, k1, k2, k3]) as usize;
        let value_len = u32::from_le_bytes([v0, v1, v2, v3]) as usize;
        let rest = &self.bytes[RECORD_LENGTHS..];
        if rest.len() < key_len || rest.len() - key_len < value_len {
            return Err(offset);
        }
        let (key, rest) = rest.split_at(key_len);
        let (value, rest) = rest.split_at(value_len);
        let size = RECORD_LENGTHS + key_len + value_len;
        self.bytes = rest;
        self.offset += size as u64;
        self.left = self.left.saturating_sub(1);
        Ok(DumpRecord { offset, key, value })
    }
}

impl<'a> Iterator for DumpRecords<'a> {
    type Item = DumpRecord<'a>;

    fn next(&mut self) -> Option<DumpRecord<'a>> {
        if self.left == 0 {
            return None;
        }
        // The block was checked whole when it was read: every split succeeds.
        self.split().ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}
