//! The snapshot format of the index and [`HashIndex::write_snapshot`] (rule S1). Reading it
//! back is in `restore.rs`.
//!
//! A snapshot is a fuzzy copy: entries may change while it is written, and the store's
//! recovery repairs that by replaying the log from the point the snapshot started. All
//! integers are little-endian. `docs/formats.md` in the repository holds the same diagram.
//!
//! ```text
//! offset  size  field
//! ------  ----  -----------------------------------------------------------------
//!      0     8  magic: the bytes "FRSIDX\r\n"
//!      8     4  format version: u32, 1
//!     12     4  sector size of the writer: u32, a power of two from 1 to 1 MiB
//!     16     4  table size bits k: u32, the table has 2^k buckets, k <= 32
//!     20     4  reserved: u32, 0
//!     24     8  overflow bucket count n: u64
//!     32     8  data offset: u64, = 64 rounded up to the sector size
//!     40     8  data length: u64, = (2^k + n) * 64
//!     48     8  data checksum: u64, xxh3-64 (seed 0) of the data length bytes of data
//!     56     8  header checksum: u64, xxh3-64 (seed 0) of bytes 0..56
//!     64     …  zero bytes up to the data offset
//! data offset:  2^k table buckets, then overflow buckets 1..=n, 64 bytes each:
//!               7 entries then the overflow word, each a u64
//!         …     zero bytes up to the next multiple of the sector size
//! ```
//!
//! An entry word is laid out as in rule I1; an overflow word holds the number (1..=n) of the
//! next bucket of the chain, whose data is at `data offset + (2^k + number - 1) * 64`, or 0.

use std::hash::Hasher as _;

use faster_address::Address;
use faster_device::{AlignedBuf, Device, DeviceExt};
use faster_epoch::Guard;
use twox_hash::XxHash3_64;

use crate::bucket::{BUCKET_BYTES, Bucket, ENTRIES_PER_BUCKET};
use crate::config::MAX_TABLE_SIZE_BITS;
use crate::entry::Entry;
use crate::error::{IndexError, SnapshotError, SnapshotPart};
use crate::index::{HashIndex, View};
use crate::overflow::MAX_OVERFLOW_BUCKETS;
use crate::sync::Ordering;

/// The first eight bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"FRSIDX\r\n";

/// The format version this build writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// Bytes of the header proper (it is followed by zeros up to the data offset).
pub const SNAPSHOT_HEADER_BYTES: usize = 64;

/// The largest sector size a snapshot may declare.
const MAX_SECTOR_SIZE: u32 = 1 << 20;

// Field offsets, chained so that each follows the previous one.
const MAGIC_AT: usize = 0;
const VERSION_AT: usize = MAGIC_AT + 8;
const SECTOR_AT: usize = VERSION_AT + 4;
const SIZE_BITS_AT: usize = SECTOR_AT + 4;
const RESERVED_AT: usize = SIZE_BITS_AT + 4;
const OVERFLOW_AT: usize = RESERVED_AT + 4;
const DATA_OFFSET_AT: usize = OVERFLOW_AT + 8;
const DATA_LENGTH_AT: usize = DATA_OFFSET_AT + 8;
const DATA_CHECKSUM_AT: usize = DATA_LENGTH_AT + 8;
const HEADER_CHECKSUM_AT: usize = DATA_CHECKSUM_AT + 8;
const _: () = assert!(HEADER_CHECKSUM_AT + 8 == SNAPSHOT_HEADER_BYTES);

/// Bytes moved per device request while writing or reading a snapshot.
pub(crate) const IO_CHUNK_BYTES: usize = 1 << 20;

/// The fields of a snapshot header, checked by [`parse_snapshot_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotHeader {
    /// The writer's sector size: the data offset and the padded data end are multiples of it.
    pub sector_size: u32,
    /// The table has `2^table_size_bits` buckets.
    pub table_size_bits: u32,
    /// Number of overflow buckets after the table buckets.
    pub overflow_buckets: u64,
    /// Where the buckets start, from the start of the snapshot.
    pub data_offset: u64,
    /// Bytes of buckets: `(2^table_size_bits + overflow_buckets) * 64`.
    pub data_length: u64,
    /// xxh3-64 of the buckets.
    pub data_checksum: u64,
}

impl SnapshotHeader {
    /// Number of table buckets.
    pub fn table_buckets(&self) -> u64 {
        1 << self.table_size_bits
    }

    /// The data length rounded up to the writer's sector size.
    pub fn padded_data_length(&self) -> u64 {
        self.data_length
            .next_multiple_of(u64::from(self.sector_size))
    }

    /// Total bytes of the snapshot: header, padding, data, padding.
    pub fn total_length(&self) -> u64 {
        self.data_offset + self.padded_data_length()
    }

    /// The 64 header bytes for these fields, checksum included.
    pub(crate) fn encode(&self) -> [u8; SNAPSHOT_HEADER_BYTES] {
        let mut b = [0u8; SNAPSHOT_HEADER_BYTES];
        b[MAGIC_AT..VERSION_AT].copy_from_slice(&SNAPSHOT_MAGIC);
        b[VERSION_AT..SECTOR_AT].copy_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
        b[SECTOR_AT..SIZE_BITS_AT].copy_from_slice(&self.sector_size.to_le_bytes());
        b[SIZE_BITS_AT..RESERVED_AT].copy_from_slice(&self.table_size_bits.to_le_bytes());
        b[OVERFLOW_AT..DATA_OFFSET_AT].copy_from_slice(&self.overflow_buckets.to_le_bytes());
        b[DATA_OFFSET_AT..DATA_LENGTH_AT].copy_from_slice(&self.data_offset.to_le_bytes());
        b[DATA_LENGTH_AT..DATA_CHECKSUM_AT].copy_from_slice(&self.data_length.to_le_bytes());
        b[DATA_CHECKSUM_AT..HEADER_CHECKSUM_AT].copy_from_slice(&self.data_checksum.to_le_bytes());
        let checksum = XxHash3_64::oneshot(&b[..HEADER_CHECKSUM_AT]);
        b[HEADER_CHECKSUM_AT..].copy_from_slice(&checksum.to_le_bytes());
        b
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The data offset for a writer with sector size `sector_size`.
fn data_offset_for(sector_size: u64) -> u64 {
    (SNAPSHOT_HEADER_BYTES as u64).next_multiple_of(sector_size)
}

/// Parses and checks the first [`SNAPSHOT_HEADER_BYTES`] bytes of a snapshot: magic, version,
/// header checksum, then the consistency of the fields. Never panics, whatever the bytes.
///
/// # Errors
/// [`SnapshotError::Truncated`] for fewer than 64 bytes, [`SnapshotError::BadMagic`],
/// [`SnapshotError::UnsupportedVersion`], [`SnapshotError::ChecksumMismatch`] (header), or
/// [`SnapshotError::Corrupt`] naming the inconsistent field.
pub fn parse_snapshot_header(bytes: &[u8]) -> Result<SnapshotHeader, SnapshotError> {
    let Some(b) = bytes.get(..SNAPSHOT_HEADER_BYTES) else {
        return Err(SnapshotError::Truncated {
            needed: SNAPSHOT_HEADER_BYTES as u64,
            available: bytes.len() as u64,
        });
    };
    let mut magic = [0u8; 8];
    magic.copy_from_slice(&b[MAGIC_AT..VERSION_AT]);
    if magic != SNAPSHOT_MAGIC {
        return Err(SnapshotError::BadMagic { found: magic });
    }
    let version = read_u32(b, VERSION_AT);
    if version != SNAPSHOT_FORMAT_VERSION {
        return Err(SnapshotError::UnsupportedVersion {
            found: version,
            supported: SNAPSHOT_FORMAT_VERSION,
        });
    }
    let stored = read_u64(b, HEADER_CHECKSUM_AT);
    let computed = XxHash3_64::oneshot(&b[..HEADER_CHECKSUM_AT]);
    if stored != computed {
        return Err(SnapshotError::ChecksumMismatch {
            part: SnapshotPart::Header,
            stored,
            computed,
        });
    }
    let header = SnapshotHeader {
        sector_size: read_u32(b, SECTOR_AT),
        table_size_bits: read_u32(b, SIZE_BITS_AT),
        overflow_buckets: read_u64(b, OVERFLOW_AT),
        data_offset: read_u64(b, DATA_OFFSET_AT),
        data_length: read_u64(b, DATA_LENGTH_AT),
        data_checksum: read_u64(b, DATA_CHECKSUM_AT),
    };
    if !header.sector_size.is_power_of_two() || header.sector_size > MAX_SECTOR_SIZE {
        return Err(SnapshotError::corrupt(format!(
            "sector size {} is not a power of two of at most 1 MiB",
            header.sector_size
        )));
    }
    if read_u32(b, RESERVED_AT) != 0 {
        return Err(SnapshotError::corrupt("reserved header field is not zero"));
    }
    if header.table_size_bits > MAX_TABLE_SIZE_BITS {
        return Err(SnapshotError::corrupt(format!(
            "table of 2^{} buckets exceeds the limit of 2^{MAX_TABLE_SIZE_BITS}",
            header.table_size_bits
        )));
    }
    if header.overflow_buckets > MAX_OVERFLOW_BUCKETS {
        return Err(SnapshotError::corrupt(format!(
            "{} overflow buckets exceed the limit of {MAX_OVERFLOW_BUCKETS}",
            header.overflow_buckets
        )));
    }
    if header.data_offset != data_offset_for(u64::from(header.sector_size)) {
        return Err(SnapshotError::corrupt(format!(
            "data offset {} is not 64 rounded up to the sector size {}",
            header.data_offset, header.sector_size
        )));
    }
    let expected_length = (header.table_buckets() + header.overflow_buckets) * BUCKET_BYTES as u64;
    if header.data_length != expected_length {
        return Err(SnapshotError::corrupt(format!(
            "data length {} is not (table + overflow buckets) * 64 = {expected_length}",
            header.data_length
        )));
    }
    Ok(header)
}

/// What [`HashIndex::write_snapshot`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotInfo {
    /// Bytes written from the snapshot's offset, padding included.
    pub bytes: u64,
    /// Table buckets written.
    pub buckets: u64,
    /// Overflow buckets written.
    pub overflow_buckets: u64,
    /// The data checksum stored in the header.
    pub data_checksum: u64,
}

/// Streams bucket words to the device through one aligned buffer, hashing them on the way.
struct ChunkWriter<'d> {
    device: &'d dyn Device,
    /// Where the next full buffer goes.
    offset: u64,
    sector_size: usize,
    buf: AlignedBuf,
    filled: usize,
    hasher: XxHash3_64,
}

impl ChunkWriter<'_> {
    fn push_bucket(&mut self, words: &[u64; 8]) -> Result<(), IndexError> {
        let mut bytes = [0u8; BUCKET_BYTES];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        self.hasher.write(&bytes);
        self.buf[self.filled..self.filled + BUCKET_BYTES].copy_from_slice(&bytes);
        self.filled += BUCKET_BYTES;
        if self.filled == self.buf.len() {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes what the buffer holds, zero-padded to the sector size.
    fn flush(&mut self) -> Result<(), IndexError> {
        if self.filled == 0 {
            return Ok(());
        }
        let len = self.filled.next_multiple_of(self.sector_size);
        self.buf[self.filled..len].fill(0);
        self.device.write_blocking(self.offset, &self.buf[..len])?;
        self.offset += len as u64;
        self.filled = 0;
        Ok(())
    }
}

impl HashIndex {
    /// Writes a fuzzy copy of the table and its overflow buckets to `device` at `offset`
    /// (format in the module docs and `docs/formats.md`; rule S1). Operations may continue while it
    /// runs; entries they change may be copied before or after the change.
    ///
    /// `offset` must be a multiple of the device's sector size. The data goes first and the
    /// header last, so a snapshot cut short has no valid header. Nothing is flushed: call
    /// [`Device::flush`] before relying on it. `guard` is held for the whole copy.
    ///
    /// # Errors
    /// [`IndexError::GrowInProgress`] while a growth is preparing or in progress,
    /// [`IndexError::Device`] when a write fails or is misaligned, [`IndexError::OutOfMemory`]
    /// for the I/O buffer.
    ///
    /// # Panics
    /// If `guard` is not a guard of this index's epoch.
    pub fn write_snapshot(
        &self,
        device: &dyn Device,
        offset: u64,
        guard: &Guard<'_>,
    ) -> Result<SnapshotInfo, IndexError> {
        self.write_snapshot_mapped(device, offset, guard, &|address| address)
    }

    /// [`HashIndex::write_snapshot`], with the address of every final entry replaced by
    /// `map(address)` in the copy (the table itself is not changed): for a store whose entries
    /// may hold addresses that must not outlive the process, such as those of a read cache.
    /// `map` runs under `guard`; an entry it maps to [`Address::INVALID`] is left out.
    ///
    /// # Errors
    /// As [`HashIndex::write_snapshot`].
    ///
    /// # Panics
    /// If `guard` is not a guard of this index's epoch.
    pub fn write_snapshot_mapped(
        &self,
        device: &dyn Device,
        offset: u64,
        guard: &Guard<'_>,
        map: &dyn Fn(Address) -> Address,
    ) -> Result<SnapshotInfo, IndexError> {
        let table = match self.view(guard) {
            View::Rest(table) => table,
            View::Preparing(_) | View::InProgress(_) => return Err(IndexError::GrowInProgress),
        };
        let sector_size = device.geometry().sector_size;
        if sector_size > MAX_SECTOR_SIZE as usize {
            return Err(IndexError::UnsupportedSectorSize { sector_size });
        }
        let data_offset = data_offset_for(sector_size as u64);
        let chunk_bytes = IO_CHUNK_BYTES.max(sector_size);
        let buf = AlignedBuf::options()
            .alignment(sector_size.max(4096))
            .zeroed(chunk_bytes)
            .map_err(|_| IndexError::OutOfMemory {
                bytes: chunk_bytes as u64,
            })?;
        let mut writer = ChunkWriter {
            device,
            offset: offset + data_offset,
            sector_size,
            buf,
            filled: 0,
            hasher: XxHash3_64::with_seed(0),
        };
        for index in 0..table.len() {
            let mut words = table
                .bucket(index)
                .map_or([0; 8], |b| b.load_words(Ordering::Acquire));
            map_entries(&mut words, map);
            writer.push_bucket(&words)?;
        }
        // Read after the table: every link copied above is at most this (rule S1).
        let overflow_buckets = table.overflow.high_water();
        for n in 1..=overflow_buckets {
            let mut words = table
                .overflow
                .get(n)
                .map_or([0; 8], |b: &Bucket| b.load_words(Ordering::Acquire));
            if words[ENTRIES_PER_BUCKET] > overflow_buckets {
                // Linked after the count was read: only entries created after the snapshot
                // started live there, and the log replay restores them (rule S1).
                words[ENTRIES_PER_BUCKET] = 0;
            }
            map_entries(&mut words, map);
            writer.push_bucket(&words)?;
        }
        writer.flush()?;
        let header = SnapshotHeader {
            sector_size: sector_size as u32,
            table_size_bits: table.size_bits(),
            overflow_buckets,
            data_offset,
            data_length: (table.len() as u64 + overflow_buckets) * BUCKET_BYTES as u64,
            data_checksum: writer.hasher.finish(),
        };
        let mut head = AlignedBuf::options()
            .alignment(sector_size.max(4096))
            .zeroed(data_offset as usize)
            .map_err(|_| IndexError::OutOfMemory { bytes: data_offset })?;
        head[..SNAPSHOT_HEADER_BYTES].copy_from_slice(&header.encode());
        device.write_blocking(offset, &head)?;
        Ok(SnapshotInfo {
            bytes: header.total_length(),
            buckets: table.len() as u64,
            overflow_buckets,
            data_checksum: header.data_checksum,
        })
    }
}

/// Replaces the address of every final entry of a bucket's words by `map(address)`.
fn map_entries(words: &mut [u64; 8], map: &dyn Fn(Address) -> Address) {
    for word in &mut words[..ENTRIES_PER_BUCKET] {
        let entry = Entry::from_raw(*word);
        if !entry.is_empty() && !entry.is_tentative() {
            let address = map(entry.address());
            *word = if address.is_invalid() {
                0
            } else {
                Entry::new(address, entry.tag()).raw()
            };
        }
    }
}
