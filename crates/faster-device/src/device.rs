//! The [`Device`] trait and the [`Completion`] callback type: the contract every device keeps
//! (the rules D1–D9 are in the crate docs).

use crate::error::DeviceError;
use crate::geometry::Geometry;

/// The callback that finishes one request. It is called exactly once for every submission
/// that returned `Ok` (rule D1), on any thread, possibly before the submit call returns
/// (rule D2).
pub type Completion = Box<dyn FnOnce(Result<(), DeviceError>) + Send + 'static>;

/// Positional, aligned, completion-based I/O on a logical byte space split into segments.
///
/// The trait is object safe; the layers above hold an `Arc<dyn Device>`. The safe methods of
/// [`DeviceExt`](crate::DeviceExt) work on any device, `dyn Device` included. The crate docs
/// list the rules (D1–D9) every implementation keeps and every caller may rely on.
pub trait Device: Send + Sync + 'static {
    /// The device's alignment, segment size and capacity. Constant for the device's life.
    fn geometry(&self) -> Geometry;

    /// Writes `len` bytes from `src` at `offset`, then calls `done`.
    ///
    /// # Errors
    /// Synchronous errors ([`DeviceError::Misaligned`], [`DeviceError::OutOfSpace`],
    /// [`DeviceError::Closed`], [`DeviceError::Truncated`], [`DeviceError::Poisoned`], or an
    /// [`DeviceError::Io`] while creating a segment file) mean nothing was written and `done`
    /// was dropped without being called.
    ///
    /// # Safety
    /// `src..src + len` must stay valid for reads and unmodified until `done` has run (or
    /// until this call returns `Err`).
    unsafe fn write_raw(
        &self,
        offset: u64,
        src: *const u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError>;

    /// Reads `len` bytes at `offset` into `dst`, then calls `done`.
    ///
    /// # Errors
    /// As for [`Device::write_raw`]; on a synchronous error `dst` was not touched.
    ///
    /// # Safety
    /// `dst..dst + len` must stay valid for writes, and be accessed by nobody else, until
    /// `done` has run (or until this call returns `Err`).
    unsafe fn read_raw(
        &self,
        offset: u64,
        dst: *mut u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError>;

    /// [`Device::read_raw`] as one read of a batch: the device may keep the request queued,
    /// unsent, until [`Device::submit_batch`] is called on any thread or another request
    /// sends it along, so that many reads reach the kernel with one system call (rule D12).
    /// The default is `read_raw`.
    ///
    /// # Errors
    /// As for [`Device::read_raw`].
    ///
    /// # Safety
    /// As for [`Device::read_raw`].
    unsafe fn read_raw_batched(
        &self,
        offset: u64,
        dst: *mut u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        // SAFETY: rules D1, D9 — the caller keeps `read_raw`'s contract, passed on whole.
        unsafe { self.read_raw(offset, dst, len, done) }
    }

    /// Sends every read that [`Device::read_raw_batched`] left queued (rule D12). The default
    /// does nothing: a device that does not batch leaves nothing queued.
    fn submit_batch(&self) {}

    /// Reads `buf.len()` bytes at `offset` into `buf` on the calling thread, when this device
    /// can do that without handing the request to another thread (a file's `pread`), and
    /// returns the result: `Some`. `None` when it cannot; the caller then uses
    /// [`Device::read_raw`] and waits for its completion. The rules of `read_raw` hold (D1
    /// alignment, D3 whole transfers and zeros, D4 segment crossing, truncation). A device
    /// that injects faults or counts requests answers `None`, so every read goes through the
    /// path it watches. Blocks the caller for the read.
    ///
    /// # Errors
    /// As for [`Device::read_raw`]'s synchronous errors and completion.
    fn read_now(&self, offset: u64, buf: &mut [u8]) -> Option<Result<(), DeviceError>> {
        let _ = (offset, buf);
        None
    }

    /// [`Device::read_now`], but only if the read would not wait for the disk (a file's bytes
    /// that the page cache holds): `Some(result)` when it read, `None` when it did not (then
    /// `buf` may hold part of the bytes; the caller reads another way). Never blocks on I/O.
    /// The default answers `None`.
    ///
    /// # Errors
    /// As [`Device::read_now`].
    fn read_cached(&self, offset: u64, buf: &mut [u8]) -> Option<Result<(), DeviceError>> {
        let _ = (offset, buf);
        None
    }

    /// Whether [`Device::read_now`] and [`Device::read_cached`] take any offset, length and
    /// buffer address (rule D1 waived for them): true for a file read through the page cache,
    /// where a read of a few bytes then copies a few bytes instead of a sector. When true,
    /// `read_now` answers `Some` for every read. The default is false.
    fn reads_unaligned(&self) -> bool {
        false
    }

    /// Makes durable every write whose completion ran before this call (rule D5). Blocks.
    ///
    /// # Errors
    /// The operating system's error, or [`DeviceError::Poisoned`] when an earlier flush failed.
    fn flush(&self) -> Result<(), DeviceError>;

    /// Like [`Device::flush`], but reports through `done`. The default runs `flush()` on the
    /// calling thread and then `done`.
    ///
    /// # Errors
    /// A synchronous error means `done` was dropped without being called.
    fn flush_async(&self, done: Completion) -> Result<(), DeviceError> {
        let result = self.flush();
        done(result);
        Ok(())
    }

    /// Removes every segment `s` with `(s + 1) * segment_size <= offset`: segments wholly
    /// below `offset` are removed; a file device also frees the data blocks of the segment
    /// holding `offset` below it (rounded down to 4096 bytes; they then read as zeros), rule
    /// D6. Callers read nothing below the offset they truncated to.
    ///
    /// # Errors
    /// [`DeviceError::Closed`], or the operating system's error while removing a file or
    /// freeing blocks (a file system that cannot free part of a file is not an error).
    fn truncate_until(&self, offset: u64) -> Result<(), DeviceError>;

    /// The lowest offset the device still holds: the start of its first segment that was not
    /// truncated (found again when a file device is reopened). The default is 0.
    fn begin_offset(&self) -> u64 {
        0
    }

    /// The identity of the log this device holds, when it has one (rule D8): file devices
    /// record it in every segment file and check it on open; a [`MemDevice`](crate::MemDevice)
    /// has a random one per instance; a [`FaultDevice`](crate::FaultDevice) reports its inner
    /// device's. A layer above can keep it in its own metadata and compare on open, so that
    /// a directory holding another log's segments is refused rather than misread. The default
    /// is `None`.
    fn identity(&self) -> Option<u128> {
        None
    }

    /// Checks that the device durably holds `[from, to)` as far as it can tell without
    /// reading it (rule D8): for file devices, every segment overlapping the range has a file,
    /// long enough to hold its part of the range rounded down to the sector size. The default
    /// (a device that cannot lose segments) says yes.
    ///
    /// # Errors
    /// [`DeviceError::MissingData`] naming the segment file and the first offset it lacks;
    /// [`DeviceError::Io`] when a file's metadata cannot be read.
    fn check_present(&self, from: u64, to: u64) -> Result<(), DeviceError> {
        let _ = (from, to);
        Ok(())
    }

    /// Reaps completions for devices whose completions need the caller's thread, running
    /// their callbacks; returns how many ran. Devices that complete by themselves (all devices
    /// of this crate) return 0.
    fn poll(&self) -> usize {
        0
    }

    /// Refuses later reads, writes and truncations with [`DeviceError::Closed`]; requests
    /// already submitted still complete. Flushes stay allowed, so writes still in flight can be
    /// made durable after closing.
    fn close(&self);
}
