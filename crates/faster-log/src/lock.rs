//! The lock a log holds on its directory: a [`DirLock`], plus what this process knows about
//! the directories its own logs hold.
//!
//! An `flock` belongs to the open file description, and a child process being spawned holds a
//! copy of every descriptor of its parent from the fork until its `exec` closes them. So when
//! one thread drops a log while another spawns a process, the lock can stay taken for that
//! moment after the log is gone, and an open of the same directory at once would fail, naming
//! this very process as the holder. To tell that apart from a log of this process that really
//! holds the directory, the logs of this process register the directories they hold (by device
//! and inode). An open that finds the lock taken by this process, on a directory none of its
//! logs holds, retries for a short while ([`FORKED_HOLD_WAIT_MAX`]); any other holder is an
//! error at once.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use faster_device::{DirLock, LOCK_FILE, LockError};

use crate::error::OpenError;

/// How long an open waits for a copy of the lock held by a child process being spawned.
pub(crate) const FORKED_HOLD_WAIT_MAX: Duration = Duration::from_secs(2);

/// A directory, as the file system identifies it: device and inode.
type DirId = (u64, u64);

/// The directories the live logs of this process hold.
static HELD: Mutex<Vec<DirId>> = Mutex::new(Vec::new());

fn held() -> std::sync::MutexGuard<'static, Vec<DirId>> {
    HELD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The lock of a log's directory, held while this value lives.
#[derive(Debug)]
pub(crate) struct HeldLock {
    id: DirId,
    _lock: DirLock,
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        // Unregistered just before the lock itself drops: an open in between finds the lock
        // taken by this process on an unregistered directory, and retries until it is free.
        let mut held = held();
        if let Some(at) = held.iter().position(|&id| id == self.id) {
            held.swap_remove(at);
        }
    }
}

/// Takes the lock of `dir` (see the module docs).
///
/// # Errors
/// [`OpenError::Locked`] when a log (or anything else) holds the directory;
/// [`OpenError::Io`] naming the directory or the lock file.
pub(crate) fn acquire(dir: &Path) -> Result<HeldLock, OpenError> {
    let metadata = std::fs::metadata(dir).map_err(|e| OpenError::io(dir, e))?;
    let id = (metadata.dev(), metadata.ino());
    let deadline = Instant::now() + FORKED_HOLD_WAIT_MAX;
    let mut pause = Duration::from_millis(1);
    loop {
        match DirLock::acquire(dir) {
            Ok(lock) => {
                held().push(id);
                return Ok(HeldLock { id, _lock: lock });
            }
            Err(LockError::Locked { dir, holder }) => {
                let lent_to_child = holder == Some(std::process::id()) && !held().contains(&id);
                if !lent_to_child || Instant::now() >= deadline {
                    return Err(OpenError::Locked { dir, holder });
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(LockError::Io { path, source }) => return Err(OpenError::io(path, source)),
            Err(other) => {
                return Err(OpenError::io(
                    dir.join(LOCK_FILE),
                    std::io::Error::other(other.to_string()),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_registered_while_its_lock_lives() {
        let dir = tempfile::tempdir().unwrap();
        let metadata = std::fs::metadata(dir.path()).unwrap();
        let id = (metadata.dev(), metadata.ino());
        let lock = acquire(dir.path()).unwrap();
        assert!(held().contains(&id));
        assert!(matches!(
            acquire(dir.path()),
            Err(OpenError::Locked { holder: Some(pid), .. }) if pid == std::process::id()
        ));
        drop(lock);
        assert!(!held().contains(&id));
        drop(acquire(dir.path()).unwrap());
    }
}
