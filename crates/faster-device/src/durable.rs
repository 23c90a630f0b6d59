//! Whole files written durably, and directory syncs: what small metadata files (checkpoint
//! metadata, completion markers) need so that a crash leaves either the old content or the new.
//!
//! A file written with [`write_file_durably`] goes through a temporary file beside it
//! (`<path>` with its extension replaced by `tmp`), which is synced, renamed over `path`, and
//! then the directory is synced so the rename itself survives. Two files of one directory
//! whose names differ only in their extension share a temporary name: write them one after
//! the other, not at once.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An error of [`write_file_durably`] or [`sync_dir`], naming the file or directory involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DurableError {
    /// A file could not be created, written, synced or renamed, or a directory synced.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl DurableError {
    /// The file or directory the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. } => path,
        }
    }
}

fn io(path: &Path, source: std::io::Error) -> DurableError {
    DurableError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` durably: a temporary file, fsync, rename over `path`, fsync of
/// the directory. A crash leaves either the old content or the new, never a mix.
///
/// # Errors
/// [`DurableError::Io`] naming the temporary file, `path` or the directory.
pub fn write_file_durably(path: &Path, bytes: &[u8]) -> Result<(), DurableError> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        file.write_all(bytes).map_err(|e| io(&tmp, e))?;
        file.sync_all().map_err(|e| io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))?;
    match path.parent() {
        // A bare file name lives in the working directory.
        Some(parent) if parent.as_os_str().is_empty() => sync_dir(Path::new(".")),
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// fsync of a directory, so that entries created, renamed or removed in it survive a crash.
///
/// # Errors
/// [`DurableError::Io`] naming the directory.
pub fn sync_dir(dir: &Path) -> Result<(), DurableError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_write_replaces_the_content_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.dat");
        write_file_durably(&path, b"first").unwrap();
        write_file_durably(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("meta.dat")]);
    }

    #[test]
    fn failures_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir");
        let err = write_file_durably(&missing.join("file"), b"x").unwrap_err();
        assert_eq!(err.path(), missing.join("file.tmp"));
        let err = sync_dir(&missing).unwrap_err();
        assert_eq!(err.path(), missing);
        assert!(err.to_string().contains("no-such-dir"), "{err}");
    }
}
