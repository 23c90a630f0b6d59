//! Errors of the store, one enum per family, and [`Status`], which is not an error.

use std::path::PathBuf;

use faster_cpr::{CheckpointToken, FormatError, SessionId};
use faster_device::DeviceError;
use faster_epoch::EpochError;
use faster_hlog::{Address, LogError};
use faster_index::IndexError;

use crate::codec::CodecError;

/// Whether a codec is the key's or the value's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecRole {
    /// The key codec.
    Key,
    /// The value codec.
    Value,
}

impl std::fmt::Display for CodecRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Key => "key",
            Self::Value => "value",
        })
    }
}

/// Errors of opening a store: creating it, reopening it, or recovering a checkpoint
/// ([`RecoverError`] is the same type). Each names the file, directory or setting involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A setting is out of range.
    #[error("invalid setting {setting}: {reason}")]
    InvalidSetting {
        /// The builder method.
        setting: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// A builder setting contradicts what the store was created with.
    #[error("setting {setting} is {requested}, but the store was created with {stored}")]
    SettingMismatch {
        /// The builder method.
        setting: &'static str,
        /// The value the store's manifest records.
        stored: String,
        /// The value asked for.
        requested: String,
    },
    /// The key or value type differs from the one the store was created with.
    #[error("the store's {role} type is {stored}, not {requested}")]
    TypeMismatch {
        /// Key or value.
        role: CodecRole,
        /// The codec the manifest records.
        stored: String,
        /// The codec asked for.
        requested: String,
    },
    /// A file or directory could not be read, written, created or listed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another open store (in this process or another) holds the directory.
    #[error("{} is open{}", dir.display(), holder.map(|p| format!(" in process {p}")).unwrap_or_default())]
    Locked {
        /// The directory.
        dir: PathBuf,
        /// The process holding it, when known.
        holder: Option<u32>,
    },
    /// The directory holds files that are not a store of this format.
    #[error("{} is not a faster-kv store: {reason}", dir.display())]
    NotAStore {
        /// The directory.
        dir: PathBuf,
        /// What was found.
        reason: String,
    },
    /// [`FasterKvBuilder::create_new`](crate::FasterKvBuilder::create_new) found a store.
    #[error("{} already holds a store", dir.display())]
    AlreadyExists {
        /// The directory.
        dir: PathBuf,
    },
    /// The manifest is damaged.
    #[error("{}: {source}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        source: FormatError,
    },
    /// The store has no checkpoint directory to recover from.
    #[error("the store has no checkpoint directory")]
    NoCheckpointDir,
    /// The checkpoint asked for does not exist or never completed.
    #[error("no complete checkpoint {token} in {}", dir.display())]
    NoSuchCheckpoint {
        /// The token asked for.
        token: CheckpointToken,
        /// The checkpoint directory.
        dir: PathBuf,
    },
    /// The directory holds complete checkpoints, and every one is damaged (they are listed).
    #[error("no valid checkpoint in {}{}", dir.display(), describe(skipped))]
    NoCheckpoint {
        /// The checkpoint directory.
        dir: PathBuf,
        /// Each damaged checkpoint, with the reason.
        skipped: Vec<(CheckpointToken, String)>,
    },
    /// A checkpoint file is damaged: a bad checksum, length or version, or contradictory
    /// contents.
    #[error("{}: {source}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: FormatError,
    },
    /// An index snapshot could not be read or is damaged.
    #[error("{}: {source}", path.display())]
    Index {
        /// The checkpoint directory holding the snapshot.
        path: PathBuf,
        /// What is wrong.
        source: IndexError,
    },
    /// A checkpoint belongs to another store, or to another incarnation of this store's log:
    /// recovering it would read bytes it never wrote.
    #[error("{}: {reason}", path.display())]
    Foreign {
        /// The checkpoint's directory.
        path: PathBuf,
        /// Whose it is.
        reason: String,
    },
    /// Log bytes a checkpoint needs are missing from the device (a segment file deleted or
    /// cut short) or belong to another log.
    #[error("the log a checkpoint needs is not intact: {source}")]
    LogMissing {
        /// The device's report.
        source: DeviceError,
    },
    /// A record in the recovered range of the log is damaged.
    #[error("corrupt record at {address}: {reason}")]
    CorruptRecord {
        /// Its address.
        address: Address,
        /// What is wrong.
        reason: &'static str,
    },
    /// The log's segment files in the store's directory could not be opened, or one of
    /// them is damaged ([`DeviceError::BadSegment`]) or belongs to another log
    /// ([`DeviceError::ForeignSegment`]).
    #[error("log segments in {}: {source}", dir.display())]
    Segments {
        /// The store's directory.
        dir: PathBuf,
        /// What the device reported.
        source: DeviceError,
    },
    /// The device could not be opened or failed.
    #[error("device: {0}")]
    Device(#[from] DeviceError),
    /// The hybrid log refused the settings, could not allocate its frames, or failed.
    #[error("log: {0}")]
    Log(#[from] LogError),
    /// The hash index refused the settings or could not allocate its table.
    #[error("index: {0}")]
    IndexSetup(#[from] IndexError),
    /// The epoch table could not be built or had no free slot.
    #[error("epoch: {0}")]
    Epoch(#[from] EpochError),
}

/// Errors of recovering a checkpoint: the same as [`OpenError`], since opening a store that
/// exists is recovering it.
pub type RecoverError = OpenError;

fn describe(skipped: &[(CheckpointToken, String)]) -> String {
    skipped
        .iter()
        .map(|(t, why)| format!("; skipped {t}: {why}"))
        .collect()
}

impl From<faster_cpr::CheckpointFileError> for OpenError {
    fn from(e: faster_cpr::CheckpointFileError) -> Self {
        match e {
            faster_cpr::CheckpointFileError::Io { path, source } => Self::Io { path, source },
            faster_cpr::CheckpointFileError::Corrupt { path, source } => {
                Self::Damaged { path, source }
            }
            faster_cpr::CheckpointFileError::NotFound { token, dir } => {
                Self::NoSuchCheckpoint { token, dir }
            }
            other => Self::Io {
                path: PathBuf::new(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}

impl From<faster_device::DurableError> for OpenError {
    fn from(e: faster_device::DurableError) -> Self {
        faster_cpr::CheckpointFileError::from(e).into()
    }
}

impl OpenError {
    /// Whether this is proof that a checkpoint is damaged (a checksum, a length, a version,
    /// contradictory contents) — as opposed to an I/O error, which proves nothing about the
    /// bytes and must not make recovery give a checkpoint up.
    pub fn is_damage(&self) -> bool {
        match self {
            Self::Damaged { .. } | Self::CorruptRecord { .. } => true,
            Self::Index { source, .. } => match source {
                IndexError::Snapshot(_) => true,
                IndexError::Device(d) => device_damage(d),
                _ => false,
            },
            Self::Device(d) | Self::Segments { source: d, .. } => device_damage(d),
            _ => false,
        }
    }
}

/// Whether a device error proves damage (a bad segment header) rather than a failed I/O.
fn device_damage(e: &DeviceError) -> bool {
    matches!(e, DeviceError::BadSegment { .. })
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
        id: SessionId,
    },
}

/// Why an operation (read, upsert, RMW, delete) failed: [`OpError::kind`] says what went
/// wrong.
///
/// One pointer wide, like `std::io::Error`: every operation returns a `Result` with this
/// error, and an 80-byte error made each of those results 80 bytes, written to memory and
/// copied on every operation of the hot path (docs/benchmarks.md). Failures are rare; the box
/// is allocated only when one happens.
#[derive(Clone)]
pub struct OpError(Box<OpErrorKind>);

impl OpError {
    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &OpErrorKind {
        &self.0
    }

    /// What went wrong, by value.
    #[must_use]
    pub fn into_kind(self) -> OpErrorKind {
        *self.0
    }
}

impl From<OpErrorKind> for OpError {
    #[cold]
    #[inline(never)]
    fn from(kind: OpErrorKind) -> Self {
        Self(Box::new(kind))
    }
}

impl From<CodecError> for OpError {
    #[cold]
    fn from(error: CodecError) -> Self {
        OpErrorKind::Codec(error).into()
    }
}

impl From<LogError> for OpError {
    #[cold]
    fn from(error: LogError) -> Self {
        OpErrorKind::Log(error).into()
    }
}

impl std::fmt::Debug for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for OpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}

/// What went wrong in an operation; see [`OpError`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OpErrorKind {
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
    Codec(#[source] CodecError),
    /// The log failed (a poisoned flush, an exhausted address space, a device error).
    #[error("log: {0}")]
    Log(#[source] LogError),
    /// A record read back from the device is not a record of this store.
    #[error("corrupt record at {address}: {reason}")]
    CorruptRecord {
        /// Where the record was read.
        address: Address,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// The reading thread of an [`AsyncScan`](crate::AsyncScan) stopped before the end of
    /// the scan (it panicked): the records handed over before this error are all it returns.
    #[error("the scan's reading thread stopped before the end of the scan")]
    ScanAborted,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_error_is_one_pointer_and_keeps_its_kind_and_source() {
        assert_eq!(std::mem::size_of::<OpError>(), std::mem::size_of::<usize>());
        let error = OpError::from(CodecError {
            what: "u64",
            reason: "3 bytes".to_owned(),
        });
        assert!(matches!(error.kind(), OpErrorKind::Codec(e) if e.what == "u64"));
        assert!(error.to_string().starts_with("codec: "), "{error}");
        assert!(std::error::Error::source(&error).is_some());
        assert!(matches!(error.into_kind(), OpErrorKind::Codec(_)));
    }
}
