//! [`CheckpointDir`]: one directory per checkpoint token under a root, files written durably,
//! and the completion marker that makes a checkpoint exist (rule C5). Files are written with
//! [`faster_device::write_file_durably`].
//!
//! ```text
//! <root>/checkpoint-00000000000000000042/meta.dat      CheckpointMeta in its envelope
//!                                       /index.dat     index snapshot (when it has one)
//!                                       /snapshot.dat  log snapshot or increment (snapshots)
//!                                       /COMPLETE      token + checksum of meta.dat
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use faster_device::write_file_durably;

use crate::error::CheckpointFileError;
use crate::ids::CheckpointToken;
use crate::meta::{self, CheckpointMeta};

/// Name of the metadata file.
pub const META_FILE: &str = "meta.dat";
/// Name of the completion marker.
pub const COMPLETE_FILE: &str = "COMPLETE";
/// Name of the index snapshot file.
pub const INDEX_FILE: &str = "index.dat";
/// Name of the log snapshot file.
pub const SNAPSHOT_FILE: &str = "snapshot.dat";

const PREFIX: &str = "checkpoint-";

fn io(path: &Path, source: std::io::Error) -> CheckpointFileError {
    CheckpointFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The root directory of a store's checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    root: PathBuf,
}

impl CheckpointDir {
    /// Uses `root` (created if missing).
    ///
    /// # Errors
    /// [`CheckpointFileError::Io`] when the directory cannot be created.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, CheckpointFileError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| io(&root, e))?;
        Ok(Self { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of checkpoint `token`.
    pub fn token_dir(&self, token: CheckpointToken) -> PathBuf {
        self.root.join(format!("{PREFIX}{:020}", token.get()))
    }

    /// Creates the directory of checkpoint `token`, empty (an earlier, incomplete attempt with
    /// the same token is removed first).
    ///
    /// # Errors
    /// [`CheckpointFileError::Io`].
    pub fn create(&self, token: CheckpointToken) -> Result<PathBuf, CheckpointFileError> {
        let dir = self.token_dir(token);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        sync_dir(&self.root)?;
        Ok(dir)
    }

    /// Writes the metadata of `meta.token` and then its completion marker, each durably: from
    /// the moment the marker is on disk, the checkpoint exists (rule C5). Everything else the
    /// checkpoint needs must be durable before this is called.
    ///
    /// # Errors
    /// [`CheckpointFileError::Io`], or [`CheckpointFileError::Corrupt`] if the metadata cannot
    /// encode.
    pub fn commit(&self, meta: &CheckpointMeta) -> Result<(), CheckpointFileError> {
        let dir = self.token_dir(meta.token);
        let meta_path = dir.join(META_FILE);
        let bytes = meta
            .encode()
            .map_err(|source| CheckpointFileError::Corrupt {
                path: meta_path.clone(),
                source,
            })?;
        write_file_durably(&meta_path, &bytes)?;
        write_file_durably(
            &dir.join(COMPLETE_FILE),
            &meta::encode_complete(meta.token, &bytes),
        )?;
        Ok(())
    }

    /// Reads and checks the metadata of checkpoint `token`, which must be complete.
    ///
    /// # Errors
    /// [`CheckpointFileError::NotFound`] when there is no completion marker,
    /// [`CheckpointFileError::Corrupt`] naming the damaged file, [`CheckpointFileError::Io`].
    pub fn read(&self, token: CheckpointToken) -> Result<CheckpointMeta, CheckpointFileError> {
        let dir = self.token_dir(token);
        let marker_path = dir.join(COMPLETE_FILE);
        let marker = match fs::read(&marker_path) {
            Ok(marker) => marker,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CheckpointFileError::NotFound {
                    token,
                    dir: self.root.clone(),
                });
            }
            Err(e) => return Err(io(&marker_path, e)),
        };
        let meta_path = dir.join(META_FILE);
        let bytes = fs::read(&meta_path).map_err(|e| io(&meta_path, e))?;
        // The metadata's own envelope first, so that damage to it is reported against it; then
        // the marker must match it.
        let meta =
            CheckpointMeta::decode(&bytes).map_err(|source| CheckpointFileError::Corrupt {
                path: meta_path.clone(),
                source,
            })?;
        meta::check_complete(&marker, token, &bytes).map_err(|source| {
            CheckpointFileError::Corrupt {
                path: marker_path,
                source,
            }
        })?;
        if meta.token != token {
            return Err(CheckpointFileError::Corrupt {
                path: meta_path,
                source: crate::error::FormatError::Inconsistent("token differs from its directory"),
            });
        }
        Ok(meta)
    }

    /// Tokens of every checkpoint directory, complete or not, in increasing order.
    ///
    /// # Errors
    /// [`CheckpointFileError::Io`] when the root cannot be listed.
    pub fn tokens(&self) -> Result<Vec<CheckpointToken>, CheckpointFileError> {
        let mut tokens: Vec<CheckpointToken> = fs::read_dir(&self.root)
            .map_err(|e| io(&self.root, e))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                entry
                    .file_name()
                    .to_str()
                    .and_then(|name| name.strip_prefix(PREFIX))
                    .and_then(|n| n.parse().ok())
                    .map(CheckpointToken::new)
            })
            .collect();
        tokens.sort_unstable();
        Ok(tokens)
    }

    /// The newest checkpoint that is complete and whose metadata is valid, skipping (and
    /// reporting through `skipped`) any newer one that is damaged or incomplete.
    ///
    /// # Errors
    /// [`CheckpointFileError::Io`] when the root cannot be listed.
    pub fn latest(
        &self,
        mut skipped: impl FnMut(CheckpointToken, CheckpointFileError),
    ) -> Result<Option<CheckpointMeta>, CheckpointFileError> {
        for token in self.tokens()?.into_iter().rev() {
            match self.read(token) {
                Ok(meta) => return Ok(Some(meta)),
                Err(e) => skipped(token, e),
            }
        }
        Ok(None)
    }

    /// Takes checkpoint `token` out of recovery's reach by removing its completion marker,
    /// durably; its files stay for inspection until retention removes them (rule C5: without
    /// a marker it does not exist). Nothing to do if it has no marker.
    ///
    /// # Errors
    /// [`CheckpointFileError::Io`].
    pub fn retire(&self, token: CheckpointToken) -> Result<(), CheckpointFileError> {
        let dir = self.token_dir(token);
        match fs::remove_file(dir.join(COMPLETE_FILE)) {
            Ok(()) => sync_dir(&dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&dir, e)),
        }
    }

    /// Removes checkpoint `token`'s directory.
    ///
    /// # Errors
    /// [`CheckpointFileError::Io`].
    pub fn remove(&self, token: CheckpointToken) -> Result<(), CheckpointFileError> {
        let dir = self.token_dir(token);
        fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
        sync_dir(&self.root)
    }
}

/// fsync of a directory, so that entries created, renamed or removed in it survive a crash
/// ([`faster_device::sync_dir`], with the checkpoint error type).
///
/// # Errors
/// [`CheckpointFileError::Io`].
pub fn sync_dir(dir: &Path) -> Result<(), CheckpointFileError> {
    Ok(faster_device::sync_dir(dir)?)
}
