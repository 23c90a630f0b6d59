//! The one error type of every device operation, [`DeviceError`].
//!
//! It is `Clone` because one failure (a failed `fdatasync`, say) is often delivered to many
//! waiters; the `std::io::Error` inside is shared through an `Arc` for that reason.

use std::fmt;
use std::io;
use std::sync::Arc;

/// Which part of a request broke the alignment rule (rule D1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MisalignedPart {
    /// The device offset.
    Offset,
    /// The length in bytes.
    Length,
    /// The address of the caller's memory.
    Buffer,
}

impl fmt::Display for MisalignedPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Offset => "offset",
            Self::Length => "length",
            Self::Buffer => "buffer address",
        })
    }
}

/// The operation during which an operating-system error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoOp {
    /// A read of device data.
    Read,
    /// A write of device data.
    Write,
    /// `fdatasync` of a segment file or `fsync` of the directory.
    Flush,
    /// Opening the directory, listing it, or opening or creating a segment file.
    Open,
    /// Removing a segment file, or freeing the blocks below the offset in the segment that
    /// holds it (`truncate_until`).
    Remove,
    /// Reserving disk blocks for a new segment (`fallocate`).
    Preallocate,
    /// Setting up an engine: an `io_uring` ring or an I/O thread.
    Setup,
}

impl fmt::Display for IoOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Flush => "flush",
            Self::Open => "open",
            Self::Remove => "remove",
            Self::Preallocate => "preallocate",
            Self::Setup => "setup",
        })
    }
}

/// An error from a device operation.
///
/// Synchronous errors (returned by a submit call) mean the request was not started and its
/// completion was dropped without being called; asynchronous errors arrive in the completion.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// An offset, length or buffer address is not a multiple of the required alignment
    /// (rule D1).
    #[error("misaligned {part}: {value} is not a multiple of {required}")]
    Misaligned {
        /// What was misaligned.
        part: MisalignedPart,
        /// The offending value (an address for [`MisalignedPart::Buffer`]).
        value: u64,
        /// The required alignment in bytes.
        required: usize,
    },
    /// The request reaches past the device's capacity, or the file system is full (rule D7).
    #[error("no space for {len} bytes at offset {offset} (capacity: {capacity:?})")]
    OutOfSpace {
        /// Offset of the request.
        offset: u64,
        /// Length of the request.
        len: u64,
        /// The configured capacity that was exceeded, or `None` when the operating system
        /// reported `ENOSPC`.
        capacity: Option<u64>,
    },
    /// The device was closed with [`Device::close`](crate::Device::close).
    #[error("the device is closed")]
    Closed,
    /// The request lies below the truncation point (rule D6).
    #[error("offset {offset} lies below the truncation point {begin}")]
    Truncated {
        /// Offset of the request.
        offset: u64,
        /// The lowest offset still held by the device.
        begin: u64,
    },
    /// The operating system reported an error, or a [`FaultDevice`](crate::FaultDevice)
    /// injected one (always `EIO` then).
    #[error("{op} at offset {offset} failed: {source}")]
    Io {
        /// What was being done.
        op: IoOp,
        /// Device offset of the failed operation (0 when it has none).
        offset: u64,
        /// The operating system's error.
        #[source]
        source: Arc<io::Error>,
    },
    /// An earlier flush failed, so durability of data written before it is unknown; the device
    /// refuses further writes and flushes. Reopen it (and recover) to continue.
    #[error("an earlier flush failed ({cause}); the device refuses writes and flushes")]
    Poisoned {
        /// The error of the flush that failed.
        cause: Arc<io::Error>,
    },
    /// A setting given to a builder or a constructor is out of range.
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// A segment file's header is missing, damaged, or disagrees with the file's name, the
    /// device's segment size or the other segment files (rule D8). Files written by a build
    /// without segment headers are refused this way too.
    #[error("{}: bad segment file: {reason}", path.display())]
    BadSegment {
        /// The segment file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A segment file belongs to another log: its identity is not the one the device was
    /// opened with (rule D8).
    #[error("{}: segment file of another log (identity {found:032x}, expected {expected:032x})", path.display())]
    ForeignSegment {
        /// The segment file.
        path: std::path::PathBuf,
        /// The identity in its header.
        found: u128,
        /// The identity the device was opened with.
        expected: u128,
    },
    /// Data the caller expected the device to hold is not there: a segment file is missing
    /// or too short ([`Device::check_present`](crate::Device::check_present)).
    #[error("{}: missing data from offset {offset}", path.display())]
    MissingData {
        /// The segment file that should hold it.
        path: std::path::PathBuf,
        /// The first device offset that is not held.
        offset: u64,
    },
    /// Memory for a buffer or an in-memory segment could not be allocated.
    #[error("could not allocate {len} bytes")]
    OutOfMemory {
        /// Bytes requested.
        len: usize,
    },
}

impl DeviceError {
    /// Wraps an operating-system error, turning `ENOSPC` into [`DeviceError::OutOfSpace`].
    pub(crate) fn os(op: IoOp, offset: u64, len: u64, error: io::Error) -> Self {
        if error.raw_os_error() == Some(libc::ENOSPC) {
            return Self::OutOfSpace {
                offset,
                len,
                capacity: None,
            };
        }
        Self::Io {
            op,
            offset,
            source: Arc::new(error),
        }
    }

    /// The error a [`FaultDevice`](crate::FaultDevice) injects: `EIO`.
    pub(crate) fn injected(op: IoOp, offset: u64) -> Self {
        Self::Io {
            op,
            offset,
            source: Arc::new(io::Error::from_raw_os_error(libc::EIO)),
        }
    }

    /// Builds [`DeviceError::InvalidConfig`].
    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            reason: reason.into(),
        }
    }

    /// The raw OS error number, when this is an [`DeviceError::Io`] that carries one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Self::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}
