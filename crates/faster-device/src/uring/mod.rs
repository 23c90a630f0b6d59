//! [`UringDevice`]: the same segment files as [`FileDevice`](crate::FileDevice), moved by one
//! `io_uring` ring with many requests in flight and a reaper thread that runs completions.
//! The ring's concurrency protocol is in `ring.rs`.

mod op;
mod ring;

use std::any::Any;
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use op::{Finish, Op, OpKind};
use ring::Ring;

use crate::device::{Completion, Device};
use crate::error::{DeviceError, IoOp};
use crate::file::header::data_file_offset;
use crate::file::here;
use crate::file::segments::{SegmentFile, SegmentFiles};
use crate::file::{Engine, FileDeviceBuilder};
use crate::geometry::Geometry;
use crate::split::{Chunk, Join, start_chunks};

/// A [`Device`] on segment files whose I/O goes through one `io_uring` ring (feature
/// `io-uring`).
///
/// Submitters push SQEs and submit without waiting; a reaper thread waits for completions,
/// resubmits short transfers for the remainder, and runs the callbacks, so completions run on
/// the reaper thread. Batched reads ([`Device::read_raw_batched`], rule D12) are published
/// without a system call and sent together by [`Device::submit_batch`] (or by the 32nd of a
/// batch). [`Device::read_now`] and [`Device::read_cached`] are `pread`s on the calling thread,
/// as on a [`FileDevice`](crate::FileDevice). `flush_async` sends `fdatasync` ops through the
/// ring. Dropping the device lets every request in flight finish, then stops and joins the
/// reaper. Open it with [`FileDeviceBuilder::open_uring`], or let
/// [`FileDeviceBuilder::open_auto`] choose.
pub struct UringDevice {
    files: Arc<SegmentFiles>,
    ring: Arc<Ring>,
    reaper: Option<JoinHandle<()>>,
}

impl fmt::Debug for UringDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UringDevice")
            .field("dir", &self.files.dir())
            .field("geometry", &self.files.geometry())
            .field("direct_io", &self.files.direct_io())
            .finish()
    }
}

impl FileDeviceBuilder {
    /// Opens an [`UringDevice`] (feature `io-uring`).
    ///
    /// # Errors
    /// [`DeviceError::Io`] with [`IoOp::Setup`] when the kernel refuses the ring (then
    /// [`open_auto`](Self::open_auto) falls back); otherwise as [`open`](Self::open).
    pub fn open_uring(&self) -> Result<UringDevice, DeviceError> {
        let config = self.segment_config()?;
        // The ring first: if the kernel refuses it, no file was touched.
        let (ring, reaper) = Ring::start(self.queue_depth)?;
        let device = UringDevice {
            files: Arc::new(SegmentFiles::open(config).inspect_err(|_| ring.shut_down())?),
            ring,
            reaper: Some(reaper),
        };
        Ok(device)
    }
}

impl UringDevice {
    /// The engine: always [`Engine::IoUring`].
    pub fn engine(&self) -> Engine {
        Engine::IoUring
    }

    /// The directory holding the segment files.
    pub fn dir(&self) -> &Path {
        self.files.dir()
    }

    /// `io_uring_enter` calls made so far to send requests to the kernel (the reaper's waits
    /// are not counted): one per request, except that batched reads (rule D12) share one.
    pub fn submit_calls(&self) -> u64 {
        self.ring.submit_calls()
    }

    /// Path of segment `index`'s file (whether or not it exists).
    pub fn segment_path(&self, index: u64) -> PathBuf {
        self.files.segment_path(index)
    }

    /// Indices of the segment files that exist, in ascending order.
    pub fn segment_indices(&self) -> Vec<u64> {
        self.files.segment_indices()
    }

    /// [`Device::read_raw`], batched (rule D12) or not.
    ///
    /// # Safety
    /// As for [`Device::read_raw`].
    unsafe fn read(
        &self,
        offset: u64,
        dst: *mut u8,
        len: usize,
        done: Completion,
        batched: bool,
    ) -> Result<(), DeviceError> {
        self.files.admit_read(offset, len, dst as usize)?;
        let geometry = self.files.geometry();
        let acquire = |chunk: &Chunk| Ok(self.files.for_read(chunk.segment));
        let start = |chunk: Chunk, file: Option<Arc<SegmentFile>>, piece_done: Completion| {
            // SAFETY: rules D4, D9 — chunks partition `[0, len)`, so the piece lies inside the
            // caller's buffer.
            let ptr = unsafe { dst.add(chunk.buf_offset) };
            let Some(file) = file else {
                // SAFETY: rules D4, D9 — the caller gives us `dst..dst + len` exclusively until
                // `done`; this piece is inside it and overlaps no other piece. Never written:
                // zeros.
                unsafe { ptr.write_bytes(0, chunk.len) };
                piece_done(Ok(()));
                return;
            };
            let at = chunk.offset;
            let finish: Finish = Box::new(move |outcome: io::Result<()>| {
                piece_done(outcome.map_err(Self::device_error(IoOp::Read, at, chunk.len)));
            });
            let fd = file.fd().as_raw_fd();
            let keep: Arc<dyn Any + Send + Sync> = file;
            let op = Op::new(
                OpKind::Read,
                fd,
                keep,
                ptr,
                chunk.len,
                data_file_offset(chunk.segment_offset),
                finish,
            );
            self.ring.submit(op, batched);
        };
        start_chunks(&geometry, offset, len, done, acquire, start)
    }

    fn device_error(op: IoOp, offset: u64, len: usize) -> impl FnOnce(io::Error) -> DeviceError {
        move |e| DeviceError::os(op, offset, len as u64, e)
    }
}

impl Device for UringDevice {
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
            let at = chunk.offset;
            let marked = Arc::clone(&file);
            let finish: Finish = Box::new(move |outcome: io::Result<()>| {
                if outcome.is_ok() {
                    marked.mark_dirty();
                }
                piece_done(outcome.map_err(Self::device_error(IoOp::Write, at, chunk.len)));
            });
            let fd = file.fd().as_raw_fd();
            // SAFETY: rules D4, D9, U3 — chunks partition `[0, len)`, so the piece lies inside
            // the caller's buffer; the caller keeps it valid until `done`, which runs after the
            // op's last CQE.
            let ptr = unsafe { src.add(chunk.buf_offset) }.cast_mut();
            let keep: Arc<dyn Any + Send + Sync> = file;
            let op = Op::new(
                OpKind::Write,
                fd,
                keep,
                ptr,
                chunk.len,
                data_file_offset(chunk.segment_offset),
                finish,
            );
            self.ring.submit(op, false);
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
        // SAFETY: rules D1, D9 — the caller keeps `read_raw`'s contract, passed on whole.
        unsafe { self.read(offset, dst, len, done, false) }
    }

    unsafe fn read_raw_batched(
        &self,
        offset: u64,
        dst: *mut u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        // SAFETY: rules D1, D9 — the caller keeps `read_raw`'s contract, passed on whole.
        unsafe { self.read(offset, dst, len, done, true) }
    }

    fn submit_batch(&self) {
        self.ring.submit_batch();
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
        // Synced on the calling thread; the ordering waits only for earlier flushes.
        let (ticket, batch) = self.files.begin_flush()?;
        let result = self.files.sync_batch(&batch);
        let signal = crate::ext::Signal::new();
        self.files.finish_flush(ticket, result, signal.completion());
        signal.wait()
    }

    fn flush_async(&self, done: Completion) -> Result<(), DeviceError> {
        let (ticket, batch) = self.files.begin_flush()?;
        let syncs = batch.files.len() + usize::from(batch.dir);
        let files = Arc::clone(&self.files);
        let all_synced: Completion = Box::new(move |result: Result<(), DeviceError>| {
            let result = result.map_err(|e| match e {
                DeviceError::Io { source, .. } => source,
                other => Arc::new(io::Error::other(other)),
            });
            files.finish_flush(ticket, result, done);
        });
        if syncs == 0 {
            all_synced(Ok(()));
            return Ok(());
        }
        let join = Join::new(all_synced, syncs);
        let flush_error = |e: io::Error| DeviceError::Io {
            op: IoOp::Flush,
            offset: 0,
            source: Arc::new(e),
        };
        for file in batch.files {
            let piece_done = join.completion();
            let finish: Finish =
                Box::new(move |o: io::Result<()>| piece_done(o.map_err(flush_error)));
            let fd = file.fd().as_raw_fd();
            let keep: Arc<dyn Any + Send + Sync> = file;
            let kind = OpKind::Sync { data_only: true };
            self.ring.submit(
                Op::new(kind, fd, keep, std::ptr::null_mut(), 0, 0, finish),
                false,
            );
        }
        if batch.dir {
            let piece_done = join.completion();
            let finish: Finish =
                Box::new(move |o: io::Result<()>| piece_done(o.map_err(flush_error)));
            let fd = self.files.dir_fd().as_raw_fd();
            let keep: Arc<dyn Any + Send + Sync> = Arc::clone(&self.files) as _;
            let kind = OpKind::Sync { data_only: false };
            self.ring.submit(
                Op::new(kind, fd, keep, std::ptr::null_mut(), 0, 0, finish),
                false,
            );
        }
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

impl Drop for UringDevice {
    fn drop(&mut self) {
        self.ring.shut_down();
        let handle = self.reaper.take();
        // Dropped inside a completion, the reaper cannot join itself; it exits by itself once
        // nothing is in flight.
        if let Some(handle) = handle
            && !self.ring.on_reaper_thread()
        {
            let _ = handle.join();
        }
    }
}
