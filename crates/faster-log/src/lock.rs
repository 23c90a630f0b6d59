//! The lock a log holds on its directory: a [`DirLock`] (which also waits out a copy of the
//! lock that a child process being spawned holds for a moment), with its errors as
//! [`LogOpenError`]s.

use std::path::Path;

use faster_device::{DirLock, LOCK_FILE, LockError};

use crate::error::LogOpenError;

/// The lock of a log's directory, held while this value lives.
pub(crate) type HeldLock = DirLock;

/// Takes the lock of `dir`.
///
/// # Errors
/// [`LogOpenError::Locked`] when a log (or anything else) holds the directory;
/// [`LogOpenError::Io`] naming the directory or the lock file.
pub(crate) fn acquire(dir: &Path) -> Result<HeldLock, LogOpenError> {
    DirLock::acquire(dir).map_err(|e| match e {
        LockError::Locked { dir, holder } => LogOpenError::Locked { dir, holder },
        LockError::Io { path, source } => LogOpenError::io(path, source),
        other => LogOpenError::io(
            dir.join(LOCK_FILE),
            std::io::Error::other(other.to_string()),
        ),
    })
}
