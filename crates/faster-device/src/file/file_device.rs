//! [`FileDevice`]: segment files accessed with blocking `pread`/`pwrite` on an elastic pool of
//! I/O threads; completions run on those threads.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::header::data_file_offset;
use super::here;
use super::pool::{IoPool, Job};
use super::segments::{SegmentFile, SegmentFiles};
use super::sys::{SendPtr, pread_cached, pread_full, pwrite_full};
use super::{Engine, FileDeviceBuilder};
use crate::device::{Completion, Device};
use crate::error::{DeviceError, IoOp};
use crate::geometry::Geometry;
use crate::split::{Chunk, start_chunks};

/// A [`Device`] on segment files in a directory, moved by a pool of I/O threads.
///
/// Every request is cut at segment boundaries (rule D4, `split.rs`) and each piece becomes one
/// job; jobs run `pread`/`pwrite` to completion (rule D3) and then the piece's completion, so
/// callbacks run on the pool's threads. `flush_async` also runs on the pool. Dropping the
/// device lets every queued request finish, then joins the threads.
pub struct FileDevice {
    // Dropped first: joins the threads after the queue drains.
    pool: IoPool,
    files: Arc<SegmentFiles>,
}

impl fmt::Debug for FileDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileDevice")
            .field("dir", &self.files.dir())
            .field("geometry", &self.files.geometry())
            .field("direct_io", &self.files.direct_io())
            .finish()
    }
}

impl FileDevice {
    /// Settings for a file device in `dir`.
    pub fn builder(dir: impl AsRef<Path>) -> FileDeviceBuilder {
        FileDeviceBuilder::new(dir.as_ref())
    }

    /// Opens a device in `dir` with the default settings.
    ///
    /// # Errors
    /// As [`FileDeviceBuilder::open`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, DeviceError> {
        Self::builder(dir).open()
    }

    pub(crate) fn open_with(builder: &FileDeviceBuilder) -> Result<Self, DeviceError> {
        let files = Arc::new(SegmentFiles::open(builder.segment_config()?)?);
        let pool = IoPool::new(builder.io_threads, builder.max_io_threads, "faster-file-io")?;
        Ok(Self { pool, files })
    }

    /// The engine: always [`Engine::ThreadPool`].
    pub fn engine(&self) -> Engine {
        Engine::ThreadPool
    }

    /// The directory holding the segment files.
    pub fn dir(&self) -> &Path {
        self.files.dir()
    }

    /// Path of segment `index`'s file (whether or not it exists).
    pub fn segment_path(&self, index: u64) -> PathBuf {
        self.files.segment_path(index)
    }

    /// Indices of the segment files that exist, in ascending order.
    pub fn segment_indices(&self) -> Vec<u64> {
        self.files.segment_indices()
    }

    /// I/O threads alive now (between `io_threads` and `max_io_threads`).
    pub fn io_threads(&self) -> usize {
        self.pool.threads()
    }
}

impl Device for FileDevice {
    fn geometry(&self) -> Geometry {
        self.files.geometry()
    }

    unsafe fn write_raw(
        &self,
        offset: u64,
        src: *const u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        self.files.admit_write(offset, len, src as usize)?;
        let geometry = self.files.geometry();
        // Create every segment file first, so a failure leaves nothing submitted.
        let acquire = |chunk: &Chunk| self.files.for_write(chunk.segment);
        let start = |chunk: Chunk, file: Arc<SegmentFile>, piece_done: Completion| {
            // SAFETY: rules D4, D9 — chunks partition `[0, len)`, so the piece lies inside the
            // caller's buffer.
            let src = SendPtr::new(unsafe { src.add(chunk.buf_offset) }.cast_mut());
            let at = chunk.offset;
            let job: Job = Box::new(move || {
                // SAFETY: rules D4, D9 — the caller keeps `src..src + len` valid and unmodified
                // until `done` runs, which is after every piece's completion, which is after
                // this call.
                let written = unsafe {
                    pwrite_full(
                        file.fd(),
                        src.get(),
                        chunk.len,
                        data_file_offset(chunk.segment_offset),
                    )
                };
                let result = match written {
                    Ok(()) => {
                        file.mark_dirty();
                        Ok(())
                    }
                    Err(e) => Err(DeviceError::os(IoOp::Write, at, chunk.len as u64, e)),
                };
                piece_done(result);
            });
            self.pool.submit(job);
        };
        start_chunks(&geometry, offset, len, done, acquire, start)
    }

    unsafe fn read_raw(
        &self,
        offset: u64,
        dst: *mut u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        self.files.admit_read(offset, len, dst as usize)?;
        let geometry = self.files.geometry();
        let direct = self.files.direct_io();
        let acquire = |chunk: &Chunk| Ok(self.files.for_read(chunk.segment));
        let start = |chunk: Chunk, file: Option<Arc<SegmentFile>>, piece_done: Completion| {
            // SAFETY: rules D4, D9 — chunks partition `[0, len)`, so the piece lies inside the
            // caller's buffer.
            let dst = SendPtr::new(unsafe { dst.add(chunk.buf_offset) });
            let Some(file) = file else {
                // A segment never written reads as zeros (rule D3).
                // SAFETY: rules D4, D9 — the caller gives us `dst..dst + len` exclusively until
                // `done` runs; this piece is inside it and no other piece overlaps it.
                unsafe { dst.get().write_bytes(0, chunk.len) };
                piece_done(Ok(()));
                return;
            };
            // Bytes the page cache holds are read here and completed inline (rule D2): no
            // hand-off to an I/O thread and back. Others go to the pool.
            let cached = !direct
                // SAFETY: rules D4, D9 — as for the zero fill above.
                && unsafe {
                    pread_cached(
                        file.fd(),
                        dst.get(),
                        chunk.len,
                        data_file_offset(chunk.segment_offset),
                    )
                };
            if cached {
                piece_done(Ok(()));
                return;
            }
            let at = chunk.offset;
            let job: Job = Box::new(move || {
                // SAFETY: rules D4, D9 — as for the zero fill above; the buffer stays valid
                // until `done`, which runs after this piece's completion.
                let read = unsafe {
                    pread_full(
                        file.fd(),
                        dst.get(),
                        chunk.len,
                        data_file_offset(chunk.segment_offset),
                    )
                };
                piece_done(read.map_err(|e| DeviceError::os(IoOp::Read, at, chunk.len as u64, e)));
            });
            self.pool.submit(job);
        };
        start_chunks(&geometry, offset, len, done, acquire, start)
    }

    fn read_now(&self, offset: u64, buf: &mut [u8]) -> Option<Result<(), DeviceError>> {
        here::read_now(&self.files, offset, buf)
    }

    fn reads_unaligned(&self) -> bool {
        !self.files.direct_io()
    }

    fn read_cached(&self, offset: u64, buf: &mut [u8]) -> Option<Result<(), DeviceError>> {
        here::read_cached(&self.files, offset, buf)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        let (ticket, batch) = self.files.begin_flush()?;
        let result = self.files.sync_batch(&batch);
        let signal = crate::ext::Signal::new();
        self.files.finish_flush(ticket, result, signal.completion());
        signal.wait()
    }

    fn flush_async(&self, done: Completion) -> Result<(), DeviceError> {
        let (ticket, batch) = self.files.begin_flush()?;
        let files = Arc::clone(&self.files);
        self.pool.submit(Box::new(move || {
            let result = files.sync_batch(&batch);
            files.finish_flush(ticket, result, done);
        }));
        Ok(())
    }

    fn truncate_until(&self, offset: u64) -> Result<(), DeviceError> {
        self.files.truncate_until(offset)
    }

    fn begin_offset(&self) -> u64 {
        self.files.begin_offset()
    }

    fn identity(&self) -> Option<u128> {
        Some(self.files.identity())
    }

    fn check_present(&self, from: u64, to: u64) -> Result<(), DeviceError> {
        self.files.check_present(from, to)
    }

    fn close(&self) {
        self.files.close();
    }
}
