//! Recovery's forward scan (rules L5, L6): from the `until` of the newest metadata record,
//! walk the entries on the device, verifying each one's checksum and generation, and accept
//! the fast commit records found on the way while they chain and their claims can be
//! verified. The scan stops at the first entry that is not valid; nothing at or after that
//! point, and nothing after the last accepted commit, is ever returned.

use faster_device::{AlignedBuf, Device, DeviceError, DeviceExt};
use faster_hlog::Address;

use crate::commit_record::CommitRecord;
use crate::entry::{EntryKind, parse_entry};
use crate::error::LogOpenError;

/// Why recovery's forward scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScanStop {
    /// A page that should begin with an entry begins with zeros: the written log ends.
    EndOfLog,
    /// Bytes that are not a valid entry: torn, lost, or corrupt.
    InvalidEntry,
    /// A valid entry of another generation: left over from an earlier life of the log.
    OtherGeneration,
    /// A commit record that does not continue the chain of accepted commits, or whose range
    /// crossed an unverifiable page end.
    RejectedRecord,
    /// The end of the device's capacity.
    DeviceEnd,
}

/// What recovery found when the log was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// Whether the devices held no log (a new log was created).
    pub created: bool,
    /// The sequence number of the commit the log resumed from.
    pub commit_sequence: u64,
    /// Every entry below it was committed; appends continue there.
    pub committed_until: Address,
    /// The recovered begin address.
    pub begin: Address,
    /// Fast commit records replayed by the forward scan, beyond the metadata slot's commit.
    pub fast_commits_replayed: u64,
    /// Where the forward scan stopped.
    pub scan_stopped_at: Address,
    /// Why it stopped.
    pub scan_stop: ScanStop,
}

/// The result of the forward scan.
pub(crate) struct ScanOutcome {
    /// The newest accepted commit record (the metadata record if none was found).
    pub(crate) record: CommitRecord,
    /// Every entry below this is committed.
    pub(crate) until: u64,
    pub(crate) fast_commits: u64,
    pub(crate) stopped_at: u64,
    pub(crate) stop: ScanStop,
}

/// Pages of the device, read one at a time.
struct Pages<'d> {
    device: &'d dyn Device,
    page_bits: u32,
    sector: u64,
    capacity: Option<u64>,
    /// `(page, device offset of buf[0])` of the page in `buf`.
    loaded: Option<(u64, u64)>,
    buf: AlignedBuf,
}

impl Pages<'_> {
    /// The bytes from `pos` to the end of its page, or `None` past the device's capacity.
    fn from(&mut self, pos: u64) -> Result<Option<&[u8]>, DeviceError> {
        let page = pos >> self.page_bits;
        let page_end = (page + 1) << self.page_bits;
        let reload = match self.loaded {
            Some((p, start)) => p != page || pos < start,
            None => true,
        };
        if reload {
            let start = pos & !(self.sector - 1);
            let end = self.capacity.map_or(page_end, |c| page_end.min(c));
            if start >= end {
                return Ok(None);
            }
            let len = usize::try_from(end - start).map_err(|_| DeviceError::InvalidConfig {
                reason: "page too large for memory".into(),
            })?;
            if self.buf.len() != len {
                self.buf = AlignedBuf::options()
                    .alignment(4096.max(self.sector as usize))
                    .zeroed(len)?;
            }
            self.device.read_blocking(start, &mut self.buf)?;
            self.loaded = Some((page, start));
        }
        let Some((_, start)) = self.loaded else {
            return Ok(None);
        };
        Ok(self.buf.get((pos - start) as usize..))
    }
}

/// Walks forward from `meta.until` (see the module docs and rule L5).
pub(crate) fn scan_forward(
    device: &dyn Device,
    page_bits: u32,
    meta: &CommitRecord,
) -> Result<ScanOutcome, LogOpenError> {
    let geometry = device.geometry();
    let mut pages = Pages {
        device,
        page_bits,
        sector: geometry.sector_size as u64,
        capacity: geometry.capacity,
        loaded: None,
        buf: AlignedBuf::zeroed(0),
    };
    let generation = meta.generation as u32;
    let mut best = meta.clone();
    let mut committed = meta.until;
    let mut fast_commits = 0;
    // The first page end skipped since `committed`: a fast record may not claim past it.
    let mut first_skip: Option<u64> = None;
    let mut pos = meta.until;
    let stop = loop {
        let page_start = (pos >> page_bits) << page_bits;
        let page_end = page_start + (1 << page_bits);
        let Some(bytes) = pages.from(pos)? else {
            break ScanStop::DeviceEnd;
        };
        let entry = match parse_entry(pos, bytes) {
            Ok(Some(entry)) => entry,
            Ok(None) if pos == page_start => break ScanStop::EndOfLog,
            Ok(None) => {
                first_skip.get_or_insert(pos);
                pos = page_end;
                continue;
            }
            Err(_) => break ScanStop::InvalidEntry,
        };
        if entry.generation != generation {
            break ScanStop::OtherGeneration;
        }
        let size = entry.size as u64;
        if entry.kind == EntryKind::Commit {
            let Ok(record) = CommitRecord::decode(entry.payload) else {
                break ScanStop::InvalidEntry;
            };
            let acceptable = record.fast
                && record.sequence == best.sequence + 1
                && record.generation == meta.generation
                && u32::from(record.page_size_bits) == page_bits
                && record.prev_until == committed
                && record.until <= pos
                && first_skip.is_none_or(|skip| skip >= record.until);
            if !acceptable {
                break ScanStop::RejectedRecord;
            }
            committed = if record.until == pos {
                pos + size
            } else {
                record.until
            };
            first_skip = first_skip.filter(|&skip| skip >= committed);
            best = record;
            fast_commits += 1;
        }
        pos += size;
    };
    Ok(ScanOutcome {
        record: best,
        until: committed,
        fast_commits,
        stopped_at: pos,
        stop,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use faster_device::MemDevice;

    use super::*;
    use crate::entry::{encode_entry, entry_size};

    const BITS: u32 = 12;

    fn meta(until: u64, generation: u64) -> CommitRecord {
        CommitRecord {
            sequence: 5,
            generation,
            begin: 64,
            until,
            prev_until: until,
            page_size_bits: BITS as u8,
            fast: false,
            iterators: Vec::new(),
        }
    }

    /// A device image built entry by entry.
    struct Image {
        bytes: Vec<u8>,
        pos: u64,
    }

    impl Image {
        fn new(start: u64) -> Self {
            Self {
                bytes: vec![0; 4 << BITS],
                pos: start,
            }
        }

        fn put(&mut self, kind: EntryKind, generation: u32, payload: &[u8]) -> u64 {
            let at = self.pos;
            let size = entry_size(payload.len());
            encode_entry(
                &mut self.bytes[at as usize..at as usize + size],
                at,
                kind,
                generation,
                payload,
            );
            self.pos += size as u64;
            at
        }

        fn fast_commit(&mut self, sequence: u64, prev: u64, until: u64) -> u64 {
            let mut record = meta(until, 7);
            record.sequence = sequence;
            record.prev_until = prev;
            record.fast = true;
            self.put(EntryKind::Commit, 7, &record.encode())
        }

        fn device(&self) -> Arc<MemDevice> {
            let device = Arc::new(MemDevice::new());
            device.write_blocking(0, &self.bytes).unwrap();
            device
        }
    }

    #[test]
    fn fast_commits_chain_and_the_scan_stops_at_a_torn_entry() {
        let mut image = Image::new(64);
        image.put(EntryKind::Data, 7, b"one");
        let until = image.pos;
        let record_size = entry_size(meta(0, 7).encode().len()) as u64;
        let r1 = image.fast_commit(6, 64, until);
        image.put(EntryKind::Data, 7, b"two");
        let until2 = image.pos;
        image.fast_commit(7, r1 + record_size, until2);
        image.put(EntryKind::Data, 7, b"uncommitted");
        let torn = image.pos;
        image.put(EntryKind::Data, 7, b"torn");
        image.bytes[torn as usize + 17] ^= 1;
        let outcome = scan_forward(image.device().as_ref(), BITS, &meta(64, 7)).unwrap();
        assert_eq!(outcome.fast_commits, 2);
        assert_eq!(outcome.record.sequence, 7);
        assert_eq!(outcome.until, until2 + record_size);
        assert_eq!(outcome.stop, ScanStop::InvalidEntry);
        assert_eq!(outcome.stopped_at, torn);
    }

    #[test]
    fn entries_of_another_generation_end_the_scan() {
        let mut image = Image::new(64);
        image.put(EntryKind::Data, 6, b"stale");
        let outcome = scan_forward(image.device().as_ref(), BITS, &meta(64, 7)).unwrap();
        assert_eq!(outcome.stop, ScanStop::OtherGeneration);
        assert_eq!(outcome.until, 64);
    }

    #[test]
    fn a_record_claiming_across_a_skipped_page_end_is_rejected() {
        let mut image = Image::new(4000);
        image.put(EntryKind::Data, 7, b"x");
        // Page 0 ends at 4096; a lost write left zeros from 4024 on.
        image.pos = 4096;
        image.put(EntryKind::Data, 7, b"y");
        let until = image.pos;
        image.fast_commit(6, 4000, until);
        let outcome = scan_forward(image.device().as_ref(), BITS, &meta(4000, 7)).unwrap();
        assert_eq!(outcome.stop, ScanStop::RejectedRecord);
        assert_eq!(outcome.until, 4000);
    }

    #[test]
    fn a_zero_page_start_is_the_end_of_the_log() {
        let image = Image::new(64);
        let outcome = scan_forward(image.device().as_ref(), BITS, &meta(4096, 7)).unwrap();
        assert_eq!(outcome.stop, ScanStop::EndOfLog);
        assert_eq!(outcome.until, 4096);
    }
}
