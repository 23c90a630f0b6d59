//! Where the stores live, and the bytes they take on disk.
//!
//! Disk usage is the sum of `st_blocks × 512` of every file under a directory: the blocks the
//! file system allocated, so the holes a store punches into its segment files below the begin
//! address count as freed, and a file's length does not matter.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::FsWord;

/// `statfs` type of tmpfs (`TMPFS_MAGIC`).
const TMPFS: FsWord = 0x0102_1994;

/// The directory every variant's store directory is made in.
pub(super) struct Base {
    /// A temporary directory we made (removed at the end unless kept).
    _temp: Option<tempfile::TempDir>,
    path: PathBuf,
    keep: bool,
}

impl Base {
    /// `dir` (created if missing), or a fresh temporary directory on the current directory's
    /// file system (see [`default_parent`]). With `keep`, nothing is removed.
    pub(super) fn new(dir: Option<&Path>, keep: bool) -> Result<Self, String> {
        let (temp, path) = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                (None, dir.to_path_buf())
            }
            None => {
                let parent = default_parent()?;
                let temp = tempfile::Builder::new()
                    .prefix("faster-bench-compaction-")
                    .tempdir_in(&parent)
                    .map_err(|e| format!("temporary directory in {}: {e}", parent.display()))?;
                let path = temp.path().to_path_buf();
                if keep {
                    (None, temp.keep())
                } else {
                    (Some(temp), path)
                }
            }
        };
        if fs_type(&path) == Some(TMPFS) {
            eprintln!(
                "bench compaction: warning: {} is on tmpfs, whose \"disk\" is memory",
                path.display()
            );
        }
        Ok(Self {
            _temp: temp,
            path,
            keep,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The file system the directory is on, for the report.
    pub(super) fn describe(&self) -> String {
        fs_name(&self.path)
    }

    /// A fresh, empty directory `name` for one variant's store.
    pub(super) fn variant_dir(&self, name: &str) -> Result<PathBuf, String> {
        let dir = self.path.join(name);
        std::fs::create_dir(&dir).map_err(|e| {
            format!(
                "creating {} (each variant needs a fresh directory): {e}",
                dir.display()
            )
        })?;
        Ok(dir)
    }

    /// Removes a variant's directory once its store is closed, unless kept.
    pub(super) fn done_with(&self, dir: &Path) -> Result<(), String> {
        if self.keep {
            return Ok(());
        }
        std::fs::remove_dir_all(dir).map_err(|e| format!("removing {}: {e}", dir.display()))
    }
}

/// The system's temp directory when it is on the current directory's file system and is not
/// tmpfs; otherwise the current directory.
fn default_parent() -> Result<PathBuf, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    let temp = std::env::temp_dir();
    let device = |p: &Path| std::fs::metadata(p).map(|m| m.dev()).ok();
    let same = device(&cwd).is_some() && device(&cwd) == device(&temp);
    Ok(if same && fs_type(&temp) != Some(TMPFS) {
        temp
    } else {
        cwd
    })
}

/// The `statfs` type of the file system holding `path`.
fn fs_type(path: &Path) -> Option<FsWord> {
    rustix::fs::statfs(path).ok().map(|s| s.f_type)
}

/// A name for the file system holding `path`.
fn fs_name(path: &Path) -> String {
    match fs_type(path) {
        Some(0xEF53) => "ext2/3/4".into(),
        Some(0x5846_5342) => "xfs".into(),
        Some(0x9123_683E) => "btrfs".into(),
        Some(0x794C_7630) => "overlayfs".into(),
        Some(TMPFS) => "tmpfs".into(),
        Some(other) => format!("file system type {other:#x}"),
        None => "file system unknown".into(),
    }
}

/// A store directory's bytes on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Usage {
    /// Every file under the directory.
    pub(super) total: u64,
    /// Every file under its `checkpoints` subdirectory (the store's default checkpoint
    /// directory).
    pub(super) checkpoints: u64,
}

/// The bytes on disk of the store directory `dir`.
pub(super) fn usage(dir: &Path) -> Usage {
    Usage {
        total: allocated(dir),
        checkpoints: allocated(&dir.join("checkpoints")),
    }
}

/// Bytes allocated to the file `path`, or to every file under it (see `crate::usage`).
pub(super) fn allocated(path: &Path) -> u64 {
    crate::usage::allocated(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_do_not_count() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sub = dir.path().join("checkpoints");
        std::fs::create_dir(&sub).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(sub.join("x"), vec![1u8; 8192]).unwrap_or_else(|e| panic!("{e}"));
        // A sparse file: 1 MiB long, nothing written.
        let sparse =
            std::fs::File::create(dir.path().join("sparse")).unwrap_or_else(|e| panic!("{e}"));
        sparse.set_len(1 << 20).unwrap_or_else(|e| panic!("{e}"));
        let u = usage(dir.path());
        assert!(u.checkpoints >= 8192, "{u:?}");
        assert!(u.total < 1 << 20, "{u:?}");
        assert_eq!(u.total, u.checkpoints);
    }
}
