//! Rebuilding an index from a snapshot: [`HashIndex::read_snapshot`] from a device and
//! [`HashIndex::from_snapshot_bytes`] from memory (rule S2). Every byte is checked before the
//! index is handed out: header, padding, data checksum, overflow links. A bad snapshot is an
//! error, never a panic.

use std::hash::Hasher as _;

use faster_device::{AlignedBuf, Device, DeviceExt};
use faster_epoch::Epoch;
use twox_hash::XxHash3_64;

use crate::bucket::{BUCKET_BYTES, ENTRIES_PER_BUCKET};
use crate::entry::Entry;
use crate::error::{IndexError, SnapshotError, SnapshotPart};
use crate::index::HashIndex;
use crate::snapshot::{
    IO_CHUNK_BYTES, SNAPSHOT_HEADER_BYTES, SnapshotHeader, parse_snapshot_header,
};
use crate::sync::{Arc, Ordering};
use crate::table::Table;

/// Where snapshot bytes come from: positions are relative to the snapshot's start.
trait Source {
    /// Bytes available, when known.
    fn len(&self) -> Option<u64>;
    /// Fills `out` with the bytes at `pos..pos + out.len()`.
    fn read_at(&mut self, pos: u64, out: &mut [u8]) -> Result<(), IndexError>;
}

/// A snapshot held in memory.
struct SliceSource<'a>(&'a [u8]);

impl Source for SliceSource<'_> {
    fn len(&self) -> Option<u64> {
        Some(self.0.len() as u64)
    }

    fn read_at(&mut self, pos: u64, out: &mut [u8]) -> Result<(), IndexError> {
        let available = self.0.len() as u64;
        let end = pos.saturating_add(out.len() as u64);
        let bytes = usize::try_from(pos)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(start, end)| self.0.get(start..end))
            .ok_or(SnapshotError::Truncated {
                needed: end,
                available,
            })?;
        out.copy_from_slice(bytes);
        Ok(())
    }
}

/// A snapshot on a device, read with sector-aligned requests through one buffer.
struct DeviceSource<'d> {
    device: &'d dyn Device,
    base: u64,
    sector_size: u64,
    buf: AlignedBuf,
}

impl Source for DeviceSource<'_> {
    fn len(&self) -> Option<u64> {
        self.device
            .geometry()
            .capacity
            .map(|capacity| capacity.saturating_sub(self.base))
    }

    fn read_at(&mut self, pos: u64, out: &mut [u8]) -> Result<(), IndexError> {
        let mut done = 0usize;
        while done < out.len() {
            let at = self.base + pos + done as u64;
            let aligned = at - at % self.sector_size;
            let skip = (at - aligned) as usize;
            let want = (out.len() - done + skip).next_multiple_of(self.sector_size as usize);
            let len = want.min(self.buf.len());
            self.device.read_blocking(aligned, &mut self.buf[..len])?;
            let take = (len - skip).min(out.len() - done);
            out[done..done + take].copy_from_slice(&self.buf[skip..skip + take]);
            done += take;
        }
        Ok(())
    }
}

impl HashIndex {
    /// Rebuilds an index from the snapshot written at `offset` on `device` by
    /// [`write_snapshot`](Self::write_snapshot), protected by `epoch`. Tentative entries are
    /// dropped, and of two final entries with one tag in a chain (a fuzzy copy can catch a
    /// delete and a re-insert) the first is kept. Large tables get huge pages.
    ///
    /// `offset` must be a multiple of the device's sector size.
    ///
    /// # Errors
    /// [`IndexError::Snapshot`] naming what is wrong with the bytes (bad magic, unsupported
    /// version, checksum mismatch, truncation, a broken rule of the format),
    /// [`IndexError::Device`] when a read fails, [`IndexError::OutOfMemory`].
    pub fn read_snapshot(
        device: &dyn Device,
        offset: u64,
        epoch: Arc<Epoch>,
    ) -> Result<HashIndex, IndexError> {
        let sector_size = device.geometry().sector_size;
        let buf = AlignedBuf::options()
            .alignment(sector_size.max(4096))
            .zeroed(IO_CHUNK_BYTES.max(sector_size))
            .map_err(|_| IndexError::OutOfMemory {
                bytes: IO_CHUNK_BYTES as u64,
            })?;
        let mut source = DeviceSource {
            device,
            base: offset,
            sector_size: sector_size as u64,
            buf,
        };
        let table = decode(&mut source, true)?;
        Ok(HashIndex::from_table(table, epoch, true))
    }

    /// Rebuilds an index from a snapshot held in memory, as
    /// [`read_snapshot`](Self::read_snapshot) does from a device. Bytes after the snapshot's
    /// end are ignored.
    ///
    /// # Errors
    /// As [`read_snapshot`](Self::read_snapshot).
    pub fn from_snapshot_bytes(bytes: &[u8], epoch: Arc<Epoch>) -> Result<HashIndex, IndexError> {
        let table = decode(&mut SliceSource(bytes), true)?;
        Ok(HashIndex::from_table(table, epoch, true))
    }
}

/// Reads and checks a whole snapshot; returns its table (rule S2).
fn decode(source: &mut dyn Source, huge_pages: bool) -> Result<Table, IndexError> {
    let mut head = [0u8; SNAPSHOT_HEADER_BYTES];
    source.read_at(0, &mut head)?;
    let header = parse_snapshot_header(&head)?;
    if let Some(available) = source.len()
        && available < header.total_length()
    {
        return Err(SnapshotError::Truncated {
            needed: header.total_length(),
            available,
        }
        .into());
    }
    expect_zeros(
        source,
        SNAPSHOT_HEADER_BYTES as u64,
        header.data_offset,
        "header",
    )?;
    let table = Table::new(header.table_size_bits, huge_pages)?;
    for _ in 0..header.overflow_buckets {
        table.overflow.allocate();
    }
    let mut loader = Loader::new(&table, &header);
    let mut chunk = vec![0u8; IO_CHUNK_BYTES];
    let mut hasher = XxHash3_64::with_seed(0);
    let mut pos = 0u64;
    while pos < header.data_length {
        let len = (header.data_length - pos).min(IO_CHUNK_BYTES as u64) as usize;
        let bytes = &mut chunk[..len];
        source.read_at(header.data_offset + pos, bytes)?;
        hasher.write(bytes);
        for bucket in bytes.chunks_exact(BUCKET_BYTES) {
            loader.load(bucket)?;
        }
        pos += len as u64;
    }
    let computed = hasher.finish();
    if computed != header.data_checksum {
        return Err(SnapshotError::ChecksumMismatch {
            part: SnapshotPart::Data,
            stored: header.data_checksum,
            computed,
        }
        .into());
    }
    let data_end = header.data_offset + header.data_length;
    expect_zeros(source, data_end, header.total_length(), "data")?;
    drop_duplicate_tags(&table);
    Ok(table)
}

/// Checks that `start..end` holds only zero bytes (the padding of the format).
fn expect_zeros(
    source: &mut dyn Source,
    start: u64,
    end: u64,
    after: &str,
) -> Result<(), IndexError> {
    let mut buf = [0u8; 4096];
    let mut pos = start;
    while pos < end {
        let len = (end - pos).min(buf.len() as u64) as usize;
        source.read_at(pos, &mut buf[..len])?;
        if buf[..len].iter().any(|&b| b != 0) {
            return Err(
                SnapshotError::corrupt(format!("non-zero padding after the {after}")).into(),
            );
        }
        pos += len as u64;
    }
    Ok(())
}

/// Stores decoded buckets into a table, checking each word (rule S2).
struct Loader<'t> {
    table: &'t Table,
    table_buckets: u64,
    overflow_buckets: u64,
    /// The next bucket number: table buckets first, then overflow buckets.
    next: u64,
    /// One bit per overflow bucket: already the target of a link.
    linked: Vec<u64>,
}

impl<'t> Loader<'t> {
    fn new(table: &'t Table, header: &SnapshotHeader) -> Self {
        Self {
            table,
            table_buckets: header.table_buckets(),
            overflow_buckets: header.overflow_buckets,
            next: 0,
            linked: vec![0; header.overflow_buckets.div_ceil(64) as usize],
        }
    }

    fn load(&mut self, bytes: &[u8]) -> Result<(), IndexError> {
        let number = self.next;
        self.next += 1;
        let bucket = if number < self.table_buckets {
            self.table.bucket(number as usize)
        } else {
            self.table.overflow.get(number - self.table_buckets + 1)
        };
        let Some(bucket) = bucket else {
            return Err(SnapshotError::corrupt("more buckets than the header declares").into());
        };
        let mut words = [0u64; 8];
        for (word, raw) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(raw);
            *word = u64::from_le_bytes(le);
        }
        for (slot, &raw) in bucket.entries.iter().zip(&words[..ENTRIES_PER_BUCKET]) {
            let entry = Entry::from_raw(raw);
            if entry.has_reserved_bit() {
                return Err(SnapshotError::corrupt(format!(
                    "bucket {number} holds an entry with the reserved bit: {raw:#018x}"
                ))
                .into());
            }
            // A tentative entry is an insertion caught half-way: never a final entry.
            let kept = if entry.is_tentative() { 0 } else { raw };
            slot.store(kept, Ordering::Relaxed);
        }
        let link = words[ENTRIES_PER_BUCKET];
        if link != 0 {
            if link > self.overflow_buckets {
                return Err(SnapshotError::corrupt(format!(
                    "bucket {number} links to overflow bucket {link} of {}",
                    self.overflow_buckets
                ))
                .into());
            }
            let (word, bit) = (((link - 1) / 64) as usize, (link - 1) % 64);
            if self.linked[word] & (1 << bit) != 0 {
                return Err(SnapshotError::corrupt(format!(
                    "overflow bucket {link} is linked twice"
                ))
                .into());
            }
            self.linked[word] |= 1 << bit;
        }
        bucket.overflow.store(link, Ordering::Relaxed);
        Ok(())
    }
}

/// Keeps the first final entry of each tag in every chain and empties the others (rule S2).
/// Chains are finite: [`Loader`] rejected any overflow bucket linked twice, and a chain that
/// came back to a bucket would link it twice (table buckets are never link targets).
fn drop_duplicate_tags(table: &Table) {
    let mut seen: Vec<u16> = Vec::new();
    for index in 0..table.len() {
        seen.clear();
        for (entry, slot) in table.chain_entries(index) {
            if entry.is_empty() {
                continue;
            }
            if seen.contains(&entry.tag()) {
                slot.store(0, Ordering::Relaxed);
            } else {
                seen.push(entry.tag());
            }
        }
    }
}
