//! Errors of the store, one enum per family, and [`Status`], which is not an error.

use faster_device::DeviceError;
use faster_epoch::EpochError;
use faster_hlog::{Address, LogError};
use faster_index::IndexError;

use crate::codec::CodecError;

/// Errors of opening a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A setting is out of range; the message names it.
    #[error("invalid store configuration: {0}")]
    InvalidConfig(String),
    /// The device could not be opened.
    #[error("device: {0}")]
    Device(#[from] DeviceError),
    /// The hybrid log refused the settings or could not allocate its frames.
    #[error("log: {0}")]
    Log(#[from] LogError),
    /// The hash index refused the settings or could not allocate its table.
    #[error("index: {0}")]
    Index(#[from] IndexError),
}

/// Errors of starting a session.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// `max_sessions` sessions are live already.
    #[error("the store allows at most max_sessions = {max_sessions} live sessions")]
    TooMany {
        /// The store's `max_sessions` setting.
        max_sessions: usize,
    },
    /// Every epoch slot is taken (by sessions, scans and the store's own work).
    #[error("no room for another session: {0}")]
    Epoch(#[from] EpochError),
    /// No ended or recovered session has this identifier (or it is still live).
    #[error("no session {id} to continue")]
    Unknown {
        /// The identifier asked for.
        id: u64,
    },
}

/// Errors of an operation (read, upsert, RMW, delete).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// The key, encoded, is larger than the store allows.
    #[error("key of {len} bytes is larger than the limit of {max} bytes")]
    KeyTooLarge {
        /// Encoded key length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The record (key and value) does not fit in a log page.
    #[error("record of {size} bytes does not fit in a page of {page_size} bytes")]
    RecordTooLarge {
        /// Record size in bytes.
        size: usize,
        /// Page size in bytes.
        page_size: u64,
    },
    /// A key or value could not be encoded, or stored bytes could not be decoded.
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// The log failed (a poisoned flush, an exhausted address space, a device error).
    #[error("log: {0}")]
    Log(#[from] LogError),
    /// A record read back from the device is not a record of this store.
    #[error("corrupt record at {address}: {reason}")]
    CorruptRecord {
        /// Where the record was read.
        address: Address,
        /// What was wrong with it.
        reason: &'static str,
    },
}

/// The outcome of an operation that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The key was present (reads, RMW of an existing key, deletes of an existing key) or the
    /// write was applied.
    Found,
    /// The key was absent.
    NotFound,
    /// The operation needs the device; finish it with
    /// [`Session::complete_pending`](crate::Session::complete_pending).
    Pending,
}
