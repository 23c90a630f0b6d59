//! [`DirLock`]: one process at a time in a directory, through an advisory `flock` on
//! `<dir>/LOCK`.
//!
//! The lock belongs to the open file description, so it is held exactly as long as the
//! [`DirLock`] lives (dropping it closes the descriptor) and the kernel drops it when the
//! process dies, however it dies: a SIGKILL never leaves a stale lock behind, and nothing
//! has to be cleaned up by hand. The file's content — the holder's pid in decimal and a
//! newline — is informational only; the lock is what counts. Two opens of the file conflict
//! even inside one process, so a second [`DirLock::acquire`] of the same directory fails
//! while the first lives.
//!
//! [`DirLock::holder`] answers "is it held, and by whom?" without taking the lock (taking it,
//! even for a moment, could make a concurrent open fail) by reading the kernel's lock table,
//! `/proc/locks`: it is Linux-specific.
//!
//! # A lock lent to a child being spawned
//!
//! A child process being spawned holds a copy of every descriptor of its parent from the fork
//! until its `exec` closes them (the lock file is opened close-on-exec). So when one thread
//! drops a `DirLock` while another spawns a process, the lock can stay taken for that moment
//! after the `DirLock` is gone, and an acquire of the same directory right then would fail,
//! naming this very process as the holder. To tell that apart from a `DirLock` of this process
//! that really holds the directory, every live `DirLock` registers its directory (by device and
//! inode) in a table of the process. An acquire that finds the lock taken by this process on a
//! directory no live `DirLock` of the process holds retries for a short while
//! ([`LENT_LOCK_WAIT_MAX`]); any other holder is an error at once.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sync::lock;
use rustix::fs::FlockOperation;

/// Name of the lock file inside a locked directory.
pub const LOCK_FILE: &str = "LOCK";

/// Why [`DirLock::acquire`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another `DirLock` holds the directory: in another process, or in this one.
    #[error("{} is locked by {}", dir.display(), describe_holder(*holder))]
    Locked {
        /// The directory.
        dir: PathBuf,
        /// The pid of the process holding the lock, when it could be found out.
        holder: Option<u32>,
    },
    /// The lock file could not be created, opened, locked or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

fn describe_holder(holder: Option<u32>) -> String {
    match holder {
        Some(pid) => format!("process {pid}"),
        None => "another process or handle".to_owned(),
    }
}

/// Who holds a directory's lock, as [`DirLock::holder`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockHolder {
    /// The process that took the lock.
    pub pid: u32,
}

/// How long [`DirLock::acquire`] waits for a copy of a lock that a child process being
/// spawned still holds (see the module docs).
pub const LENT_LOCK_WAIT_MAX: Duration = Duration::from_secs(2);

/// A directory as the file system identifies it: device and inode.
type DirId = (u64, u64);

/// The directories the live `DirLock`s of this process hold.
static HELD: Mutex<Vec<DirId>> = Mutex::new(Vec::new());

/// An exclusive lock on a directory, held while this value lives.
#[derive(Debug)]
pub struct DirLock {
    dir: PathBuf,
    id: DirId,
    /// Holds the `flock`; closing it (on drop) releases the lock.
    _file: File,
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Unregistered just before the descriptor closes: an acquire in between finds the
        // lock taken by this process on an unregistered directory, and retries until it is
        // free.
        let mut held = lock(&HELD);
        if let Some(at) = held.iter().position(|&id| id == self.id) {
            held.swap_remove(at);
        }
    }
}

impl DirLock {
    /// Takes the lock of `dir`, creating `<dir>/LOCK` (mode 0644) if it is missing, and
    /// writes this process's pid into it. Never waits: a held lock is an error at once.
    ///
    /// # Errors
    /// [`LockError::Locked`] when the lock is held (the holder's pid from the kernel's lock
    /// table, else from the file, when either tells); [`LockError::Io`] naming the lock file
    /// for any other failure (a missing directory included).
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let metadata = std::fs::metadata(dir).map_err(|source| LockError::Io {
            path: dir.join(LOCK_FILE),
            source,
        })?;
        let id = (metadata.dev(), metadata.ino());
        let deadline = Instant::now() + LENT_LOCK_WAIT_MAX;
        let mut pause = Duration::from_millis(1);
        loop {
            match Self::try_acquire(dir, id) {
                Err(LockError::Locked { holder, .. })
                    if holder == Some(std::process::id())
                        && !lock(&HELD).contains(&id)
                        && Instant::now() < deadline =>
                {
                    // Lent to a child process being spawned: it lets go at its `exec`.
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn try_acquire(dir: &Path, id: DirId) -> Result<Self, LockError> {
        let path = dir.join(LOCK_FILE);
        let io_error = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        // No truncation at open: the content belongs to whoever holds the lock now.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&path)
            .map_err(io_error)?;
        loop {
            match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    let holder = Self::holder(dir)
                        .ok()
                        .flatten()
                        .map(|h| h.pid)
                        .or_else(|| pid_in_file(&file));
                    return Err(LockError::Locked {
                        dir: dir.to_path_buf(),
                        holder,
                    });
                }
                Err(e) => return Err(io_error(e.into())),
            }
        }
        lock(&HELD).push(id);
        let lock = Self {
            dir: dir.to_path_buf(),
            id,
            _file: file,
        };
        let pid = format!("{}\n", std::process::id());
        lock._file.set_len(0).map_err(io_error)?;
        lock._file
            .write_all_at(pid.as_bytes(), 0)
            .map_err(io_error)?;
        Ok(lock)
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether `dir`'s lock is held and by which process, found in `/proc/locks` (Linux only)
    /// by the lock file's device and inode, without taking the lock. `Ok(None)` when there is
    /// no lock file or nobody holds it.
    ///
    /// The answer may be stale by the time it is used: a holder may exit, or a new one
    /// arrive, right after. On file systems whose `stat` device number differs from the one
    /// the kernel's lock table shows (btrfs subvolumes, some overlay setups), a held lock is
    /// not found and this answers `None`.
    ///
    /// # Errors
    /// The operating system's error reading the lock file's metadata or `/proc/locks`.
    pub fn holder(dir: &Path) -> io::Result<Option<LockHolder>> {
        let metadata = match std::fs::metadata(dir.join(LOCK_FILE)) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let dev = metadata.dev();
        let wanted = FileId {
            major: u64::from(rustix::fs::major(dev)),
            minor: u64::from(rustix::fs::minor(dev)),
            inode: metadata.ino(),
        };
        let table = std::fs::read_to_string("/proc/locks")?;
        Ok(table
            .lines()
            .filter_map(parse_flock_line)
            .find(|(_, id)| *id == wanted)
            .map(|(pid, _)| LockHolder { pid }))
    }
}

/// The pid the holder wrote into the lock file, if the file holds one.
fn pid_in_file(file: &File) -> Option<u32> {
    let mut buf = [0u8; 32];
    let n = file.read_at(&mut buf, 0).ok()?;
    std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
}

/// A file as `/proc/locks` names it: device `major:minor` (hex) and inode (decimal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    major: u64,
    minor: u64,
    inode: u64,
}

/// Parses one `/proc/locks` line holding a `flock` lock, such as
/// `1: FLOCK  ADVISORY  WRITE 12345 fd:01:678 0 EOF`, into (pid, file). Waiters (`->`), other
/// lock kinds and malformed lines give `None`.
fn parse_flock_line(line: &str) -> Option<(u32, FileId)> {
    let mut fields = line.split_whitespace();
    let _ordinal = fields.next()?;
    if fields.next()? != "FLOCK" {
        return None;
    }
    let _mode = fields.next()?;
    let _access = fields.next()?;
    let pid = fields.next()?.parse().ok()?;
    let mut id = fields.next()?.split(':');
    let major = u64::from_str_radix(id.next()?, 16).ok()?;
    let minor = u64::from_str_radix(id.next()?, 16).ok()?;
    let inode = id.next()?.parse().ok()?;
    if id.next().is_some() {
        return None;
    }
    Some((
        pid,
        FileId {
            major,
            minor,
            inode,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flock_lines_parse_and_others_do_not() {
        assert_eq!(
            parse_flock_line("1: FLOCK  ADVISORY  WRITE 12345 fd:01:678 0 EOF"),
            Some((
                12345,
                FileId {
                    major: 0xfd,
                    minor: 1,
                    inode: 678
                }
            ))
        );
        assert_eq!(
            parse_flock_line("7: FLOCK  ADVISORY  WRITE 9 103:0a:12 0 EOF"),
            Some((
                9,
                FileId {
                    major: 0x103,
                    minor: 0x0a,
                    inode: 12
                }
            ))
        );
        for other in [
            "1: -> FLOCK  ADVISORY  WRITE 12346 fd:01:678 0 EOF",
            "2: POSIX  ADVISORY  WRITE 456 00:2a:1234 0 EOF",
            "3: OFDLCK ADVISORY  READ  -1 00:06:9 0 EOF",
            "4: FLOCK  ADVISORY  WRITE x fd:01:678 0 EOF",
            "5: FLOCK  ADVISORY  WRITE 1 fd:01 0 EOF",
            "",
        ] {
            assert_eq!(parse_flock_line(other), None, "{other:?}");
        }
    }
}
