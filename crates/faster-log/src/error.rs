//! Errors: one `#[non_exhaustive]` enum per family of operations, all converging into
//! [`Error`]. Outcomes that are not failures ("the log is full", "no committed entry yet")
//! are return values, not errors.

use std::path::PathBuf;
use std::sync::Arc;

use faster_device::DeviceError;
use faster_epoch::EpochError;
use faster_hlog::{Address, LogError};

use crate::commit_record::CommitRecordError;
use crate::entry::EntryError;
use crate::manifest::ManifestError;

/// Errors of [`FasterLog::open`](crate::FasterLogBuilder::open): settings, the directory,
/// devices, and what recovery finds on them.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LogOpenError {
    /// A builder setting is out of range.
    #[error("invalid FasterLog setting {setting}: {reason}")]
    InvalidSetting {
        /// The builder method.
        setting: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// A builder setting contradicts what the log in the directory was created with (its
    /// manifest).
    #[error("setting {setting} is {requested}, but the log was created with {stored}")]
    SettingMismatch {
        /// The builder method.
        setting: &'static str,
        /// The value the manifest records.
        stored: String,
        /// The value asked for.
        requested: String,
    },
    /// Another open log (in this process or another) holds the directory.
    #[error("{} is open{}", dir.display(), holder.map(|p| format!(" in process {p}")).unwrap_or_default())]
    Locked {
        /// The directory.
        dir: PathBuf,
        /// The process holding it, when known.
        holder: Option<u32>,
    },
    /// The directory holds no manifest but is not empty: files of a log written before logs
    /// had manifests, or files that are not a log's.
    #[error("{} is not a FasterLog directory: {reason}", dir.display())]
    NotALog {
        /// The directory.
        dir: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The directory's manifest is damaged or of an unknown format.
    #[error("{}: {reason}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        reason: ManifestError,
    },
    /// A file or directory could not be created, read, written, listed or locked. The
    /// operating system's error is shared, so that the error stays `Clone`.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },
    /// A device of the log's directory failed while opening, reading or writing.
    #[error("device error in the log directory {}: {source}", dir.display())]
    DirDevice {
        /// The log's directory.
        dir: PathBuf,
        /// The device's error.
        source: DeviceError,
    },
    /// A device failed while opening, reading or writing.
    #[error("device error while opening the log: {0}")]
    Device(#[from] DeviceError),
    /// The hybrid log could not be set up.
    #[error("hybrid log error while opening the log: {0}")]
    Log(#[from] LogError),
    /// The epoch table could not be built.
    #[error("epoch error while opening the log: {0}")]
    Epoch(#[from] EpochError),
    /// Neither metadata slot holds a valid commit record, but they are not empty either.
    #[error("no valid commit metadata: slot 0: {slot0}; slot 1: {slot1}")]
    CorruptMetadata {
        /// Why slot 0 was rejected.
        slot0: CommitRecordError,
        /// Why slot 1 was rejected.
        slot1: CommitRecordError,
    },
    /// The log on the devices was written with another page size (a log on devices of the
    /// caller's, whose commit record is the only record of its page size).
    #[error(
        "the log was written with pages of 2^{stored} bytes; the builder asks for 2^{configured}"
    )]
    PageSizeMismatch {
        /// The page size bits in the commit record.
        stored: u8,
        /// The page size bits of the builder.
        configured: u32,
    },
    /// Device segments that the latest commit still needs are gone.
    #[error(
        "the commit says the log begins at {begin}; the device holds nothing below {device_begin}"
    )]
    MissingSegments {
        /// The begin address of the latest commit.
        begin: u64,
        /// The device's lowest offset.
        device_begin: u64,
    },
    /// The background committer thread could not be started.
    #[error("could not start the committer thread: {0}")]
    Thread(Arc<std::io::Error>),
}

impl LogOpenError {
    /// An I/O error about `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// An out-of-range builder setting.
    pub(crate) fn invalid(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidSetting {
            setting,
            reason: reason.into(),
        }
    }
}

impl From<faster_device::DurableError> for LogOpenError {
    fn from(e: faster_device::DurableError) -> Self {
        let path = e.path().to_path_buf();
        match e {
            faster_device::DurableError::Io { source, .. } => Self::io(path, source),
            other => Self::io(path, std::io::Error::other(other.to_string())),
        }
    }
}

/// Errors of enqueueing.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// The entry does not fit in a page.
    #[error("an entry of {len} bytes is larger than the largest entry, {max} bytes")]
    EntryTooLarge {
        /// Payload bytes given.
        len: usize,
        /// The largest payload a page holds.
        max: usize,
    },
    /// The batch does not fit in one page, so it cannot be committed atomically.
    #[error("a batch of {bytes} bytes does not fit in a page of {page_size} bytes")]
    BatchTooLarge {
        /// Bytes the batch's entries occupy.
        bytes: usize,
        /// Bytes per page.
        page_size: usize,
    },
    /// A batch needs at least one entry.
    #[error("an empty batch cannot be enqueued")]
    EmptyBatch,
    /// A flush or commit failed earlier; the log accepts nothing more until it is reopened.
    #[error("the log is poisoned by an earlier failure: {0}")]
    Poisoned(Arc<CommitError>),
    /// The log was closed.
    #[error("the log is closed")]
    Closed,
    /// The hybrid log refused the allocation (address space exhausted, failed flush).
    #[error("hybrid log: {0}")]
    Log(#[from] LogError),
    /// The thread could not get an epoch slot: too many threads use the log.
    #[error("epoch: {0}")]
    Epoch(#[from] EpochError),
}

/// Errors of committing. Clone, because one failure reaches every waiter of a group commit.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// Writing log pages failed (the hybrid log is poisoned).
    #[error("writing log pages failed: {0}")]
    Log(#[from] LogError),
    /// The device flush, or the write or flush of the commit metadata, failed.
    #[error("device error during commit: {0}")]
    Device(#[from] DeviceError),
    /// An earlier commit failed; the log refuses commits until it is reopened.
    #[error("the log is poisoned by an earlier failed commit: {0}")]
    Poisoned(Arc<CommitError>),
    /// The committer could not get an epoch slot to write a fast commit record.
    #[error("epoch: {0}")]
    Epoch(#[from] EpochError),
    /// The commit record (grown by the named iterators) exceeds a metadata slot or a page;
    /// possible only when a log is reopened with a smaller `commit_slot_size`.
    #[error("a commit record of {bytes} bytes exceeds the limit of {max} bytes")]
    RecordTooLarge {
        /// Bytes of the record.
        bytes: usize,
        /// The largest record.
        max: usize,
    },
    /// The log was closed before the commit completed.
    #[error("the log is closed")]
    Closed,
}

/// Errors of reading entries (iterators, [`FasterLog::read_entry`](crate::FasterLog::read_entry)).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum IterError {
    /// Committed bytes failed validation: the device returned something that is not the
    /// entry that was written.
    #[error("corrupt entry: {0}")]
    Corrupt(#[from] EntryError),
    /// The address is not a committed entry of the log.
    #[error("no committed entry at {address}: {reason}")]
    NoEntry {
        /// The address asked for.
        address: Address,
        /// Why.
        reason: &'static str,
    },
    /// Reading from the device failed.
    #[error("hybrid log: {0}")]
    Log(#[from] LogError),
    /// The thread could not get an epoch slot to read from memory.
    #[error("epoch: {0}")]
    Epoch(#[from] EpochError),
}

/// Errors of creating or removing named iterators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NamedIteratorError {
    /// The name is empty or longer than 255 bytes.
    #[error("iterator name {name:?} is invalid: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An iterator with this name is alive.
    #[error("a live iterator already uses the name {0:?}")]
    InUse(String),
    /// Adding the iterator would make the commit record too large for a metadata slot or a
    /// page.
    #[error("no room for iterator {name:?}: commit records are limited to {max_bytes} bytes")]
    TooMany {
        /// The name given.
        name: String,
        /// The largest commit record.
        max_bytes: usize,
    },
}

/// Errors of truncating.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TruncateError {
    /// Only committed entries can be truncated.
    #[error("cannot truncate until {address}: only entries below {committed} are committed")]
    BeyondCommitted {
        /// The address given.
        address: Address,
        /// The committed-until address.
        committed: Address,
    },
    /// The address is not where an entry starts.
    #[error("cannot truncate until {address}: {source}")]
    NotAnEntry {
        /// The address given.
        address: Address,
        /// What reading there found.
        #[source]
        source: IterError,
    },
}

/// Any error of this crate.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`LogOpenError`].
    #[error(transparent)]
    Open(#[from] LogOpenError),
    /// See [`EnqueueError`].
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
    /// See [`CommitError`].
    #[error(transparent)]
    Commit(#[from] CommitError),
    /// See [`IterError`].
    #[error(transparent)]
    Iter(#[from] IterError),
    /// See [`NamedIteratorError`].
    #[error(transparent)]
    NamedIterator(#[from] NamedIteratorError),
    /// See [`TruncateError`].
    #[error(transparent)]
    Truncate(#[from] TruncateError),
}
