//! The set of segment files behind [`FileDevice`](crate::FileDevice) and
//! `UringDevice`: naming, discovery on open, creation on first write,
//! removal on truncation (and the freeing of the blocks below the truncation point in the
//! segment that holds it), dirty tracking and flush batches.
//!
//! Segment `s` lives in `<dir>/<prefix>.<s as 8 or more decimal digits>`, after the file's
//! header block (rule D8; `header.rs`, checked on open by `scan.rs`). A file descriptor
//! is shared (`Arc<SegmentFile>`) with every request that uses it, so truncating a segment
//! while a request on it is in flight only unlinks the name; the request completes on the
//! still-open file.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use rustix::fs::{FallocateFlags, Mode, OFlags};

use super::flush_order::{FlushOrder, SyncResult, Ticket};
use super::header::{SEGMENT_HEADER_BYTES, SegmentHeader, data_file_offset};
use super::scan;
use super::sys::retry_intr;
use crate::device::Completion;
use crate::error::{DeviceError, IoOp};
use crate::geometry::Geometry;
use crate::sync::ignore_poison;

/// What [`SegmentFiles::open`] needs to know.
#[derive(Debug, Clone)]
pub(crate) struct SegmentConfig {
    pub(crate) dir: PathBuf,
    pub(crate) prefix: String,
    pub(crate) geometry: Geometry,
    pub(crate) direct_io: bool,
    pub(crate) preallocate: bool,
    /// The identity the builder asked for (rule D8).
    pub(crate) identity: Option<u128>,
}

/// One open segment file.
pub(crate) struct SegmentFile {
    fd: OwnedFd,
    /// Set after a write to this file completed, cleared when a flush takes it (rule D5).
    dirty: AtomicBool,
    /// Data bytes from the start of the segment whose blocks `truncate_until` has freed
    /// (punched) since the file was opened; 0 after a reopen, which only makes the next
    /// punch start again from the data start.
    punched: AtomicU64,
}

impl SegmentFile {
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Called after a write to this file completed and before its callback runs, so a flush
    /// that starts after the callback sees the mark (rule D5).
    pub(crate) fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }
}

struct Table {
    files: BTreeMap<u64, Arc<SegmentFile>>,
    /// Segments below this index were truncated.
    begin_segment: u64,
}

/// The files to sync for one flush.
pub(crate) struct FlushBatch {
    pub(crate) files: Vec<Arc<SegmentFile>>,
    /// Whether the directory must be synced (files were created or removed).
    pub(crate) dir: bool,
}

pub(crate) struct SegmentFiles {
    config: SegmentConfig,
    /// The identity in every segment file's header (rule D8).
    identity: u128,
    dir_fd: OwnedFd,
    table: RwLock<Table>,
    dir_dirty: AtomicBool,
    order: FlushOrder,
    poison: OnceLock<Arc<io::Error>>,
    closed: AtomicBool,
    /// Set when the file system refused to punch holes; truncation then frees whole
    /// segments only.
    punch_unsupported: AtomicBool,
}

/// Truncation frees blocks below its offset in whole units of this many bytes.
const PUNCH_GRANULE: u64 = 4096;

// Data starts on a granule, so a punch never reaches into the header block.
const _: () = assert!(SEGMENT_HEADER_BYTES.is_multiple_of(PUNCH_GRANULE));

fn os_error(op: IoOp, offset: u64, e: impl Into<io::Error>) -> DeviceError {
    DeviceError::Io {
        op,
        offset,
        source: Arc::new(e.into()),
    }
}

impl SegmentFiles {
    /// Opens (creating if needed) the directory and every existing segment file in it.
    pub(crate) fn open(config: SegmentConfig) -> Result<Self, DeviceError> {
        let prefix = &config.prefix;
        if prefix.is_empty() || prefix.contains(['/', '\0']) {
            return Err(DeviceError::config(format!(
                "segment file prefix {prefix:?} must be non-empty, without '/' or NUL"
            )));
        }
        std::fs::create_dir_all(&config.dir).map_err(|e| os_error(IoOp::Open, 0, e))?;
        let dir_fd = rustix::fs::open(
            &config.dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| os_error(IoOp::Open, 0, e))?;
        let scanned = scan::open_existing(&config)?;
        let files: BTreeMap<u64, Arc<SegmentFile>> = scanned
            .files
            .into_iter()
            .map(|(index, fd)| {
                let file = SegmentFile {
                    fd,
                    dirty: AtomicBool::new(false),
                    punched: AtomicU64::new(0),
                };
                (index, Arc::new(file))
            })
            .collect();
        let begin_segment = files.keys().next().copied().unwrap_or(0);
        Ok(Self {
            config,
            identity: scanned.identity,
            dir_fd,
            table: RwLock::new(Table {
                files,
                begin_segment,
            }),
            dir_dirty: AtomicBool::new(false),
            order: FlushOrder::default(),
            poison: OnceLock::new(),
            closed: AtomicBool::new(false),
            punch_unsupported: AtomicBool::new(false),
        })
    }

    pub(crate) fn geometry(&self) -> Geometry {
        self.config.geometry
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.config.dir
    }

    pub(crate) fn direct_io(&self) -> bool {
        self.config.direct_io
    }

    pub(crate) fn identity(&self) -> u128 {
        self.identity
    }

    /// Whether the files on disk hold `[from, to)` (rule D8); see [`scan::first_missing`].
    pub(crate) fn check_present(&self, from: u64, to: u64) -> Result<(), DeviceError> {
        scan::first_missing(&self.config, |s| self.segment_path(s), (from, to), false)
    }

    pub(crate) fn segment_path(&self, index: u64) -> PathBuf {
        scan::segment_path(&self.config.dir, &self.config.prefix, index)
    }

    pub(crate) fn begin_offset(&self) -> u64 {
        let begin = ignore_poison(self.table.read()).begin_segment;
        self.config.geometry.segment_start(begin)
    }

    /// Indices of the segment files that exist now.
    pub(crate) fn segment_indices(&self) -> Vec<u64> {
        let table = ignore_poison(self.table.read());
        table.files.keys().copied().collect()
    }

    /// Rules D1 and D7, closed state and truncation, for a read.
    pub(crate) fn admit_read(
        &self,
        offset: u64,
        len: usize,
        addr: usize,
    ) -> Result<(), DeviceError> {
        self.config.geometry.check(offset, len, addr)?;
        if self.closed.load(Ordering::Acquire) {
            return Err(DeviceError::Closed);
        }
        let begin = self.begin_offset();
        if offset < begin {
            return Err(DeviceError::Truncated { offset, begin });
        }
        Ok(())
    }

    /// [`SegmentFiles::admit_read`] without the alignment of rule D1, for reads through the
    /// page cache (never with `O_DIRECT`): the checks of capacity and truncation on the
    /// aligned span the bytes lie in (the begin offset is aligned, so the span starts below
    /// it exactly when the bytes do).
    pub(crate) fn admit_unaligned_read(&self, offset: u64, len: usize) -> Result<(), DeviceError> {
        let sector = self.config.geometry.sector_size as u64;
        let from = offset & !(sector - 1);
        let to = offset
            .checked_add(len as u64)
            .and_then(|end| end.checked_add(sector - 1))
            .map(|end| end & !(sector - 1))
            .ok_or(DeviceError::OutOfSpace {
                offset,
                len: len as u64,
                capacity: self.config.geometry.capacity,
            })?;
        self.admit_read(from, (to - from) as usize, 0)
    }

    /// As [`SegmentFiles::admit_read`], and refuses writes after a failed flush.
    pub(crate) fn admit_write(
        &self,
        offset: u64,
        len: usize,
        addr: usize,
    ) -> Result<(), DeviceError> {
        self.admit_read(offset, len, addr)?;
        self.check_poison()
    }

    fn check_poison(&self) -> Result<(), DeviceError> {
        match self.poison.get() {
            Some(cause) => Err(DeviceError::Poisoned {
                cause: Arc::clone(cause),
            }),
            None => Ok(()),
        }
    }

    /// The file of `segment` if it exists (a missing one reads as zeros).
    pub(crate) fn for_read(&self, segment: u64) -> Option<Arc<SegmentFile>> {
        let table = ignore_poison(self.table.read());
        table.files.get(&segment).cloned()
    }

    /// The file of `segment`, created (and preallocated, if configured) if missing.
    pub(crate) fn for_write(&self, segment: u64) -> Result<Arc<SegmentFile>, DeviceError> {
        if let Some(file) = self.for_read(segment) {
            return Ok(file);
        }
        let mut table = ignore_poison(self.table.write());
        let offset = self.config.geometry.segment_start(segment);
        if segment < table.begin_segment {
            return Err(DeviceError::Truncated {
                offset,
                begin: self.config.geometry.segment_start(table.begin_segment),
            });
        }
        if let Some(file) = table.files.get(&segment) {
            return Ok(Arc::clone(file));
        }
        let path = self.segment_path(segment);
        let fd = scan::open_file(&path, self.config.direct_io, true)
            .map_err(|e| os_error(IoOp::Open, offset, e))?;
        self.dir_dirty.store(true, Ordering::Release);
        let header = SegmentHeader {
            identity: self.identity,
            index: segment,
            segment_size: self.config.geometry.segment_size,
        };
        // Rule D8: the header is durable before the file is handed out for data.
        if let Err(e) = scan::initialise(fd.as_fd(), &header, self.config.preallocate, offset) {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        let file = Arc::new(SegmentFile {
            fd,
            dirty: AtomicBool::new(false),
            punched: AtomicU64::new(0),
        });
        table.files.insert(segment, Arc::clone(&file));
        Ok(file)
    }

    /// Removes every segment that lies entirely below `offset`, then frees the blocks of the
    /// segment holding `offset` below it (rule D6).
    pub(crate) fn truncate_until(&self, offset: u64) -> Result<(), DeviceError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(DeviceError::Closed);
        }
        let first_kept = offset / self.config.geometry.segment_size;
        let (removed, holding) = {
            let mut table = ignore_poison(self.table.write());
            table.begin_segment = table.begin_segment.max(first_kept);
            let kept = table.files.split_off(&first_kept);
            let removed = std::mem::replace(&mut table.files, kept);
            (removed, table.files.get(&first_kept).cloned())
        };
        if !removed.is_empty() {
            self.dir_dirty.store(true, Ordering::Release);
        }
        for index in removed.keys() {
            let path = self.segment_path(*index);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(os_error(
                        IoOp::Remove,
                        self.config.geometry.segment_start(*index),
                        e,
                    ));
                }
            }
        }
        match holding {
            Some(file) => self.punch_below(first_kept, &file, offset),
            None => Ok(()),
        }
    }

    /// Frees the data blocks of `segment` (whose file is `file`) below device offset
    /// `offset`, rounded down to [`PUNCH_GRANULE`], with `fallocate(PUNCH_HOLE | KEEP_SIZE)`:
    /// the file keeps its length and its header block, and the freed bytes read as zeros.
    /// Only the part not punched before is punched. A file system that cannot punch holes
    /// is remembered and left alone: its space comes back when the whole segment is removed.
    fn punch_below(
        &self,
        segment: u64,
        file: &SegmentFile,
        offset: u64,
    ) -> Result<(), DeviceError> {
        if self.punch_unsupported.load(Ordering::Relaxed) {
            return Ok(());
        }
        let start = self.config.geometry.segment_start(segment);
        let to = (offset - start) & !(PUNCH_GRANULE - 1);
        let from = file.punched.load(Ordering::Acquire);
        if to <= from {
            return Ok(());
        }
        let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
        let punched = retry_intr(|| {
            rustix::fs::fallocate(file.fd(), flags, data_file_offset(from), to - from)
        });
        match punched {
            Ok(()) => {
                file.punched.fetch_max(to, Ordering::AcqRel);
                Ok(())
            }
            Err(
                rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS | rustix::io::Errno::INVAL,
            ) => {
                if !self.punch_unsupported.swap(true, Ordering::Relaxed) {
                    tracing::debug!(
                        "{}: punching holes is not supported; truncation frees whole segments only",
                        self.config.dir.display()
                    );
                }
                Ok(())
            }
            Err(e) => Err(os_error(IoOp::Remove, start + from, e)),
        }
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Starts a flush: a ticket and the batch of files to sync (rule F1).
    pub(crate) fn begin_flush(&self) -> Result<(Ticket, FlushBatch), DeviceError> {
        self.check_poison()?;
        Ok(self.order.begin(|| {
            let table = ignore_poison(self.table.read());
            let files = table
                .files
                .values()
                .filter(|f| f.dirty.swap(false, Ordering::AcqRel))
                .cloned()
                .collect();
            FlushBatch {
                files,
                dir: self.dir_dirty.swap(false, Ordering::AcqRel),
            }
        }))
    }

    /// Ends a flush: poisons the device on failure, then releases completions in ticket
    /// order (rules F2 and F3).
    pub(crate) fn finish_flush(&self, ticket: Ticket, result: SyncResult, done: Completion) {
        if let Err(e) = &result {
            let _ = self.poison.set(Arc::clone(e));
        }
        self.order.finish(ticket, result, done);
    }

    /// The directory's descriptor, for syncing it.
    pub(crate) fn dir_fd(&self) -> BorrowedFd<'_> {
        self.dir_fd.as_fd()
    }

    /// Syncs a batch on the calling thread: `fdatasync` each file, then `fsync` the
    /// directory if needed. Stops at the first error.
    pub(crate) fn sync_batch(&self, batch: &FlushBatch) -> SyncResult {
        for file in &batch.files {
            retry_intr(|| rustix::fs::fdatasync(file.fd())).map_err(|e| Arc::new(e.into()))?;
        }
        if batch.dir {
            retry_intr(|| rustix::fs::fsync(self.dir_fd())).map_err(|e| Arc::new(e.into()))?;
        }
        Ok(())
    }
}
