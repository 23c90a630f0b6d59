//! [`MemDevice`]: a sparse in-memory device. Segments are allocated on their first write;
//! completions run inline on the submitting thread.
//!
//! Locking: a read-write lock over the segment table is taken briefly (shared) to find a
//! segment; the bytes of each segment sit behind their own read-write lock, so requests on
//! different segments never contend and reads of one segment run in parallel.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::aligned_buf::AlignedBuf;
use crate::device::{Completion, Device};
use crate::error::DeviceError;
use crate::geometry::Geometry;
use crate::split;
use crate::sync::ignore_poison;

/// Default sector size of a [`MemDevice`].
pub const MEM_DEFAULT_SECTOR_SIZE: usize = 512;
/// Default segment size of a [`MemDevice`]: 16 MiB, small enough that the first write to a
/// segment (which allocates and zeroes it) stays cheap.
pub const MEM_DEFAULT_SEGMENT_SIZE: u64 = 16 << 20;

/// A sparse in-memory [`Device`] for tests and stores that need no persistence.
///
/// Unwritten bytes read as zeros; `flush` does nothing (memory is as durable as it gets);
/// every completion runs inline before the submit call returns (rule D2).
pub struct MemDevice {
    geometry: Geometry,
    segments: RwLock<BTreeMap<u64, Arc<MemSegment>>>,
    begin: AtomicU64,
    closed: AtomicBool,
    identity: u128,
}

struct MemSegment {
    bytes: RwLock<AlignedBuf>,
}

/// Settings for a [`MemDevice`]; start from [`MemDevice::builder`].
#[derive(Debug, Clone)]
pub struct MemDeviceBuilder {
    sector_size: usize,
    segment_size: u64,
    capacity: Option<u64>,
}

impl Default for MemDeviceBuilder {
    fn default() -> Self {
        Self {
            sector_size: MEM_DEFAULT_SECTOR_SIZE,
            segment_size: MEM_DEFAULT_SEGMENT_SIZE,
            capacity: None,
        }
    }
}

impl MemDeviceBuilder {
    /// Alignment of offsets, lengths and buffers; a power of two.
    /// Default: 512 ([`MEM_DEFAULT_SECTOR_SIZE`]).
    #[must_use]
    pub fn sector_size(mut self, bytes: usize) -> Self {
        self.sector_size = bytes;
        self
    }

    /// Bytes per segment; a power of two, at least the sector size.
    /// Default: 16 MiB ([`MEM_DEFAULT_SEGMENT_SIZE`]).
    #[must_use]
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
        self
    }

    /// Largest offset + length a request may reach (rule D7); a multiple of the sector size.
    /// Default: `None` (unbounded but for memory).
    #[must_use]
    pub fn capacity(mut self, bytes: Option<u64>) -> Self {
        self.capacity = bytes;
        self
    }

    /// Builds the device.
    ///
    /// # Errors
    /// [`DeviceError::InvalidConfig`] for a setting out of range (see [`Geometry::new`]).
    pub fn build(self) -> Result<MemDevice, DeviceError> {
        Ok(MemDevice {
            geometry: Geometry::new(self.sector_size, self.segment_size, self.capacity)?,
            segments: RwLock::new(BTreeMap::new()),
            begin: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            identity: crate::identity::fresh_identity(),
        })
    }
}

impl Default for MemDevice {
    fn default() -> Self {
        Self::new()
    }
}

impl MemDevice {
    /// A device with default settings (512-byte sectors, 16 MiB segments, no capacity limit).
    pub fn new() -> Self {
        MemDeviceBuilder::default()
            .build()
            .expect("invariant: the default settings are valid")
    }

    /// Settings for a device.
    pub fn builder() -> MemDeviceBuilder {
        MemDeviceBuilder::default()
    }

    /// How many segments currently hold memory.
    pub fn allocated_segments(&self) -> usize {
        ignore_poison(self.segments.read()).len()
    }

    fn segment(&self, index: u64) -> Option<Arc<MemSegment>> {
        ignore_poison(self.segments.read()).get(&index).cloned()
    }

    fn segment_or_create(&self, index: u64) -> Result<Arc<MemSegment>, DeviceError> {
        if let Some(segment) = self.segment(index) {
            return Ok(segment);
        }
        // Allocate outside the table lock; a racing creator may win, and its segment is used.
        let bytes = AlignedBuf::options()
            .alignment(self.geometry.sector_size)
            .zeroed(self.geometry.segment_size as usize)?;
        let mut table = ignore_poison(self.segments.write());
        // Checked under the table lock, which `truncate_until` takes after raising `begin`,
        // so a truncated segment is never created again.
        let begin = self.begin.load(Ordering::Acquire);
        let offset = self.geometry.segment_start(index);
        if offset < begin {
            return Err(DeviceError::Truncated { offset, begin });
        }
        let segment = table.entry(index).or_insert_with(|| {
            Arc::new(MemSegment {
                bytes: RwLock::new(bytes),
            })
        });
        Ok(Arc::clone(segment))
    }

    fn admit(&self, offset: u64, len: usize, addr: usize) -> Result<(), DeviceError> {
        self.geometry.check(offset, len, addr)?;
        if self.closed.load(Ordering::Acquire) {
            return Err(DeviceError::Closed);
        }
        let begin = self.begin.load(Ordering::Acquire);
        if offset < begin {
            return Err(DeviceError::Truncated { offset, begin });
        }
        Ok(())
    }
}

impl Device for MemDevice {
    fn geometry(&self) -> Geometry {
        self.geometry
    }

    unsafe fn write_raw(
        &self,
        offset: u64,
        src: *const u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        self.admit(offset, len, src as usize)?;
        // Acquire every segment first, so a failed allocation leaves nothing written.
        let chunks = split::chunks(&self.geometry, offset, len);
        let mut pieces = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            pieces.push((chunk, self.segment_or_create(chunk.segment)?));
        }
        for (chunk, segment) in pieces {
            let mut bytes = ignore_poison(segment.bytes.write());
            let at = chunk.segment_offset as usize;
            // SAFETY: rules D4, D9 — the caller guarantees `src..src + len` is readable until
            // `done` runs, and `buf_offset + len <= len` (chunks partition the request); the
            // segment slice is exclusively borrowed through its write lock.
            let from = unsafe { std::slice::from_raw_parts(src.add(chunk.buf_offset), chunk.len) };
            bytes[at..at + chunk.len].copy_from_slice(from);
        }
        done(Ok(()));
        Ok(())
    }

    unsafe fn read_raw(
        &self,
        offset: u64,
        dst: *mut u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        self.admit(offset, len, dst as usize)?;
        for chunk in split::chunks(&self.geometry, offset, len) {
            // SAFETY: rules D4, D9 — the caller guarantees `dst..dst + len` is writable and
            // accessed by nobody else until `done` runs; chunks partition the request, so this
            // piece is in bounds and no other piece aliases it.
            let to =
                unsafe { std::slice::from_raw_parts_mut(dst.add(chunk.buf_offset), chunk.len) };
            match self.segment(chunk.segment) {
                Some(segment) => {
                    let bytes = ignore_poison(segment.bytes.read());
                    let at = chunk.segment_offset as usize;
                    to.copy_from_slice(&bytes[at..at + chunk.len]);
                }
                None => to.fill(0),
            }
        }
        done(Ok(()));
        Ok(())
    }

    fn flush(&self) -> Result<(), DeviceError> {
        Ok(())
    }

    fn truncate_until(&self, offset: u64) -> Result<(), DeviceError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(DeviceError::Closed);
        }
        let first_kept = offset / self.geometry.segment_size;
        self.begin
            .fetch_max(self.geometry.segment_start(first_kept), Ordering::AcqRel);
        let mut table = ignore_poison(self.segments.write());
        let kept = table.split_off(&first_kept);
        *table = kept;
        Ok(())
    }

    fn begin_offset(&self) -> u64 {
        self.begin.load(Ordering::Acquire)
    }

    /// A random identity, drawn when the device was built (rule D8).
    fn identity(&self) -> Option<u128> {
        Some(self.identity)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}
