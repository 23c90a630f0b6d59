//! File-backed devices: the shared builder, [`FileDeviceBuilder`], the thread-pool engine
//! [`FileDevice`], and [`FileDeviceBuilder::open_auto`], which picks `io_uring` when the
//! kernel allows it.

mod file_device;
mod flush_order;
pub(crate) mod header;
pub(crate) mod here;
mod pool;
mod scan;
pub(crate) mod segments;
pub(crate) mod sys;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use file_device::FileDevice;
pub use header::{
    SEGMENT_FORMAT_VERSION, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC, SegmentHeader, SegmentHeaderError,
    read_segment_header,
};

use crate::device::Device;
use crate::error::DeviceError;
use crate::geometry::Geometry;
use segments::SegmentConfig;

/// Sector size of file devices: offsets, lengths and buffer addresses are multiples of it.
/// 4096 satisfies `O_DIRECT` on every common file system and disk.
pub const FILE_SECTOR_SIZE: usize = 4096;
/// Default segment size of file devices: 1 GiB, one file per segment.
pub const FILE_DEFAULT_SEGMENT_SIZE: u64 = 1 << 30;
/// Default segment file name prefix.
pub const FILE_DEFAULT_PREFIX: &str = "segment";

/// Which engine moves the bytes of a file device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Engine {
    /// Blocking `pread`/`pwrite` on a pool of I/O threads ([`FileDevice`]).
    ThreadPool,
    /// One `io_uring` ring with a reaper thread (`UringDevice`).
    IoUring,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ThreadPool => "thread pool",
            Self::IoUring => "io_uring",
        })
    }
}

/// Settings for a file device; start from [`FileDevice::builder`].
///
/// One device per `(dir, prefix)` at a time: two devices on the same files would each
/// believe they own them.
#[derive(Debug, Clone)]
pub struct FileDeviceBuilder {
    pub(crate) dir: PathBuf,
    pub(crate) prefix: String,
    pub(crate) segment_size: u64,
    pub(crate) capacity: Option<u64>,
    pub(crate) direct_io: bool,
    pub(crate) preallocate: bool,
    pub(crate) io_threads: usize,
    pub(crate) max_io_threads: usize,
    pub(crate) queue_depth: u32,
    pub(crate) identity: Option<u128>,
}

impl FileDeviceBuilder {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            prefix: FILE_DEFAULT_PREFIX.to_owned(),
            segment_size: FILE_DEFAULT_SEGMENT_SIZE,
            capacity: None,
            direct_io: false,
            preallocate: false,
            io_threads: 4,
            max_io_threads: 32,
            queue_depth: 128,
            identity: None,
        }
    }

    /// Segment files are named `<prefix>.<index as 8+ digits>`; non-empty, without `/`.
    /// Default: `"segment"` ([`FILE_DEFAULT_PREFIX`]).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// Bytes of data per segment file (each file also holds a [`SEGMENT_HEADER_BYTES`]
    /// header); a power of two, at least 4096. Reopen a directory with the size it was
    /// written with: every header records it, and a file written with another size is
    /// refused on open ([`DeviceError::BadSegment`]).
    /// Default: 1 GiB ([`FILE_DEFAULT_SEGMENT_SIZE`]).
    #[must_use]
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
        self
    }

    /// Largest offset + length a request may reach (rule D7); a multiple of 4096.
    /// Default: `None` (only the file system limits it; `ENOSPC` gives `OutOfSpace`).
    #[must_use]
    pub fn capacity(mut self, bytes: Option<u64>) -> Self {
        self.capacity = bytes;
        self
    }

    /// Open segment files with `O_DIRECT`: transfers bypass the page cache, and buffers,
    /// offsets and lengths must be 4096-aligned (checked: `Misaligned`).
    /// Default: `false`.
    #[must_use]
    pub fn direct_io(mut self, on: bool) -> Self {
        self.direct_io = on;
        self
    }

    /// Reserve each new segment's blocks (header and data) with `fallocate` when the file is
    /// created, so
    /// writes overwrite allocated blocks (on ext4 a write + `fdatasync` then costs ≈ 100 µs
    /// instead of ≈ 170 µs, and `ENOSPC` appears at creation rather than mid-segment).
    /// Default: `false`.
    #[must_use]
    pub fn preallocate(mut self, on: bool) -> Self {
        self.preallocate = on;
        self
    }

    /// Thread-pool engine: threads that always run (at least 1).
    /// Default: 4.
    #[must_use]
    pub fn io_threads(mut self, threads: usize) -> Self {
        self.io_threads = threads;
        self
    }

    /// Thread-pool engine: the pool grows up to this many threads while requests queue up,
    /// so that many blocking requests are in flight at once (32 random reads need 32
    /// threads); threads above [`io_threads`](Self::io_threads) exit after 2 s idle.
    /// Default: 32.
    #[must_use]
    pub fn max_io_threads(mut self, threads: usize) -> Self {
        self.max_io_threads = threads;
        self
    }

    /// The identity of the log these segment files hold (rule D8). On open, every existing
    /// segment file must carry it, else [`DeviceError::ForeignSegment`]; new files get it.
    /// Default: none set — the device takes the identity of the files already there, or a
    /// fresh random one when there are none ([`Device::identity`] tells which).
    #[must_use]
    pub fn identity(mut self, identity: u128) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The segment files that exist now for this builder's directory and prefix, by
    /// ascending index, found by name only: nothing is opened or checked, and no device is
    /// opened. None when the directory does not exist.
    ///
    /// # Errors
    /// The operating system's error listing the directory.
    pub fn segment_files(&self) -> std::io::Result<Vec<(u64, PathBuf)>> {
        scan::list_segment_files(&self.dir, &self.prefix)
    }

    /// Checks segment file `index` at `path` as [`open`](Self::open) checks every segment file
    /// (rule D8) — its header parses, names `index` and this builder's segment size, and
    /// carries the builder's [`identity`](Self::identity) when one is set — with plain reads:
    /// no device is opened and nothing is written, so it is safe on the files of a device
    /// that is open elsewhere. `Ok(None)` for a creation cut short (no valid header and no
    /// data), which an open would initialise again.
    ///
    /// # Errors
    /// [`DeviceError::InvalidConfig`] for a bad segment size; [`DeviceError::BadSegment`] or
    /// [`DeviceError::ForeignSegment`] naming the file, as `open` would return them;
    /// [`DeviceError::Io`], whose message names the file, when it cannot be read.
    pub fn check_segment_file(
        &self,
        index: u64,
        path: &Path,
    ) -> Result<Option<SegmentHeader>, DeviceError> {
        scan::check_file(&self.segment_config()?, index, path)
    }

    /// Whether the segment files on disk hold the device bytes `[from, to)`, as
    /// [`Device::check_present`] answers for an open device, but without opening one and
    /// without writing anything: every segment overlapping the range must exist, pass
    /// [`check_segment_file`](Self::check_segment_file), and hold its part of the range
    /// (rounded down to [`FILE_SECTOR_SIZE`]).
    ///
    /// # Errors
    /// [`DeviceError::MissingData`] naming the first file that is missing or too short and
    /// the first offset it lacks; the errors of `check_segment_file` for the first file that
    /// fails it.
    pub fn check_present(&self, from: u64, to: u64) -> Result<(), DeviceError> {
        let config = self.segment_config()?;
        let path_of = |index: u64| scan::segment_path(&self.dir, &self.prefix, index);
        scan::first_missing(&config, path_of, (from, to), true)
    }

    /// `io_uring` engine: submission ring entries (the completion ring gets twice as many).
    /// More requests than the completion ring holds wait in a software queue. The kernel
    /// refuses more than 32768 entries (no clamping is asked for), which makes
    /// [`open_auto`](Self::open_auto) fall back to the thread pool.
    /// Default: 128.
    #[must_use]
    pub fn queue_depth(mut self, entries: u32) -> Self {
        self.queue_depth = entries;
        self
    }

    pub(crate) fn segment_config(&self) -> Result<SegmentConfig, DeviceError> {
        Ok(SegmentConfig {
            dir: self.dir.clone(),
            prefix: self.prefix.clone(),
            geometry: Geometry::new(FILE_SECTOR_SIZE, self.segment_size, self.capacity)?,
            direct_io: self.direct_io,
            preallocate: self.preallocate,
            identity: self.identity,
        })
    }

    /// Opens a [`FileDevice`] (thread-pool engine), creating the directory if needed and
    /// finding the segment files already in it.
    ///
    /// # Errors
    /// [`DeviceError::InvalidConfig`] for a bad setting; [`DeviceError::Io`] when the
    /// directory or a file cannot be opened, or a thread cannot be started;
    /// [`DeviceError::BadSegment`] or [`DeviceError::ForeignSegment`] when a segment file's
    /// header is damaged, disagrees with its name or the segment size, or names another log
    /// (rule D8).
    pub fn open(&self) -> Result<FileDevice, DeviceError> {
        FileDevice::open_with(self)
    }

    /// Opens the best engine available: an `UringDevice` when the
    /// `io-uring` feature is on and the kernel sets up the ring, else a [`FileDevice`]. A
    /// refused ring setup is logged once per process (`tracing::warn!`). Returns the engine
    /// chosen.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_auto(&self) -> Result<(Arc<dyn Device>, Engine), DeviceError> {
        #[cfg(feature = "io-uring")]
        match self.open_uring() {
            Ok(device) => return Ok((Arc::new(device), Engine::IoUring)),
            Err(DeviceError::Io {
                op: crate::error::IoOp::Setup,
                source,
                ..
            }) => warn_uring_refused(&source),
            Err(other) => return Err(other),
        }
        Ok((Arc::new(self.open()?), Engine::ThreadPool))
    }
}

#[cfg(feature = "io-uring")]
fn warn_uring_refused(error: &std::io::Error) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing::warn!("io_uring setup refused ({error}); file devices use the thread-pool engine");
    });
}
