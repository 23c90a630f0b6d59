//! [`DumpWriter`]: writes a dump — the header, blocks of records, the trailer.

use std::io::Write;

use super::error::DumpError;
use super::format::{
    BLOCK_TARGET_BYTES, DUMP_MAGIC, MAX_BLOCK_BYTES, RECORD_LENGTHS, block_checksum, encode_header,
};
use crate::manifest::StoredCodec;

/// Writes a dump to `W`: records are gathered into blocks of about [`BLOCK_TARGET_BYTES`],
/// and [`DumpWriter::finish`] writes the last block and the trailer. A dump without its
/// trailer is refused by the reader, so a writer dropped without `finish` leaves a file that
/// cannot be loaded.
#[derive(Debug)]
pub struct DumpWriter<W: Write> {
    out: W,
    seed: u64,
    block: Vec<u8>,
    count: u32,
    blocks: u64,
    records: u64,
    written: u64,
}

impl<W: Write> DumpWriter<W> {
    /// Writes the header naming the store's `key` and `value` codecs.
    ///
    /// # Errors
    /// [`DumpError::Io`], or [`DumpError::DescriptorTooLong`] for a name longer than
    /// 65,535 bytes.
    pub fn new(mut out: W, key: &StoredCodec, value: &StoredCodec) -> Result<Self, DumpError> {
        let header = encode_header(key, value)?;
        let seed = twox_hash::XxHash3_64::oneshot(&header);
        out.write_all(&DUMP_MAGIC)?;
        out.write_all(&header)?;
        out.write_all(&seed.to_le_bytes())?;
        Ok(Self {
            out,
            seed,
            block: Vec::new(),
            count: 0,
            blocks: 0,
            records: 0,
            written: (DUMP_MAGIC.len() + header.len() + 8) as u64,
        })
    }

    /// Adds one record: a key's and a value's encoded bytes.
    ///
    /// # Errors
    /// [`DumpError::Io`] writing a full block, [`DumpError::RecordTooLarge`] for a record
    /// over [`MAX_BLOCK_BYTES`].
    pub fn write_record(&mut self, key: &[u8], value: &[u8]) -> Result<(), DumpError> {
        let size = RECORD_LENGTHS as u64 + key.len() as u64 + value.len() as u64;
        if size > u64::from(MAX_BLOCK_BYTES) {
            return Err(DumpError::RecordTooLarge { bytes: size });
        }
        if self.block.len() as u64 + size > u64::from(MAX_BLOCK_BYTES) {
            self.write_block()?;
        }
        // Both lengths are below MAX_BLOCK_BYTES, checked above.
        self.block
            .extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.block
            .extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.block.extend_from_slice(key);
        self.block.extend_from_slice(value);
        self.count += 1;
        self.records += 1;
        if self.block.len() >= BLOCK_TARGET_BYTES {
            self.write_block()?;
        }
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes written to `W` so far (records still gathered into the open block are not
    /// counted until it is written).
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Writes the open block and the trailer, flushes `W` and hands it back with the
    /// dump's size in bytes.
    ///
    /// # Errors
    /// [`DumpError::Io`].
    pub fn finish(mut self) -> Result<(W, u64), DumpError> {
        if self.count > 0 {
            self.write_block()?;
        }
        let mut trailer = Vec::with_capacity(16);
        trailer.extend_from_slice(&self.records.to_le_bytes());
        trailer.extend_from_slice(&self.blocks.to_le_bytes());
        self.emit(0, &trailer)?;
        self.out.flush()?;
        Ok((self.out, self.written))
    }

    fn write_block(&mut self) -> Result<(), DumpError> {
        let block = std::mem::take(&mut self.block);
        let result = self.emit(self.count, &block);
        self.block = block;
        self.block.clear();
        self.count = 0;
        self.blocks += 1;
        result
    }

    /// Writes a block of `count` records (0: the trailer) whose payload is `payload`.
    fn emit(&mut self, count: u32, payload: &[u8]) -> Result<(), DumpError> {
        let checksum = block_checksum(self.seed, self.blocks, count, payload);
        let mut head = [0u8; 16];
        head[..4].copy_from_slice(&count.to_le_bytes());
        // At most MAX_BLOCK_BYTES: records are added only while they fit.
        head[4..8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        head[8..].copy_from_slice(&checksum.to_le_bytes());
        self.out.write_all(&head)?;
        self.out.write_all(payload)?;
        self.written += (head.len() + payload.len()) as u64;
        Ok(())
    }
}
