//! The append-only log: the server's optional per-operation durability, in a faster-log
//! [`FasterLog`] of its own directory.
//!
//! # Entries
//!
//! Every write a store worker runs adds one entry, the *post-image* of its key: `Put(key,
//! stored value)` or `Del(key)` — the state after the operation, not the command
//! ([`entry`]). Replaying a post-image twice, or on top of a state that already holds it,
//! changes nothing, so replay needs no knowledge of which commands ran. A worker appends the
//! entries of a job with one reservation right after the job's store operations; a key
//! belongs to one worker, so its entries are in the log in the order its writes happened.
//!
//! # Acknowledgement
//!
//! - [`Fsync::Always`]: a connection writes the replies of a pipeline only once the log is
//!   committed (fsynced) up to the job's entries. It asks the log for a commit, which runs on
//!   the log's committer thread; requests that arrive while a commit runs are served together
//!   by the next one (group commit), so many connections share one device flush.
//! - [`Fsync::EverySecond`]: replies go at once; the log commits by itself every second.
//!
//! # Checkpoints and truncation
//!
//! A checkpoint the server takes (`SAVE`, `BGSAVE`, the final one) first reads the log's tail
//! `T`. An entry below `T` was appended after its store operation completed, and that was
//! before the checkpoint began, so the checkpoint holds that write (or a later one of the key).
//! Once the checkpoint completes, the server appends a `Checkpoint { version, start: T }`
//! mark, commits, truncates the log below `T`, and commits again. Writes from `T` on may or may
//! not be in the checkpoint; replaying their post-images in log order is right either way.
//!
//! # Replay
//!
//! At start, before any connection, the whole log from its begin address is read and
//! checked (every entry's checksum by faster-log, every payload by [`AofEntry::decode`]), then
//! applied in order with one session. If a mark with `start` equal to the begin address is
//! found, the store must have recovered that checkpoint's version or a newer one; otherwise
//! the writes below the begin address would be missing and start fails
//! ([`AofError::CheckpointBehindLog`]). faster-log's recovery drops a torn tail (writes that
//! were never acknowledged under `always`); a damaged entry below the committed point fails
//! the start ([`AofError::Damaged`]) — nothing is applied then.

pub mod entry;
mod post;
mod replay;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use faster_kv::CheckpointInfo;
use faster_log::{Address, CommitPolicy, FasterLog};

use crate::keyops::ByteStore;
use entry::AofEntry;
pub(crate) use post::PostImages;
pub use replay::ReplayReport;

/// How durable an acknowledged write is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Only checkpoints (`SAVE`, `BGSAVE`, the final one at shutdown, and the store's own
    /// automatic ones) make writes durable; a crash loses what came after the last one.
    #[default]
    Checkpoints,
    /// Every write also goes into an append-only log, replayed at start on top of the
    /// recovered checkpoint.
    Log(AofConfig),
}

/// Where the append-only log lives and when it is flushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofConfig {
    /// The log's directory (created if missing). `faster serve` uses `aof/` inside the store's
    /// directory; faster-kv ignores it there.
    pub dir: PathBuf,
    /// When a write is flushed.
    pub fsync: Fsync,
}

/// When the append-only log is flushed to the device (Redis's `appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fsync {
    /// Before the reply: an acknowledged write survives a crash. Commits are shared by the
    /// writes that wait at the same time.
    Always,
    /// At least every second, replies at once: a crash loses about the last second.
    EverySecond,
}

impl Fsync {
    /// Redis's name of the setting: `always` or `everysec`.
    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::EverySecond => "everysec",
        }
    }
}

/// Why the append-only log could not be opened or replayed, or a write not logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AofError {
    /// faster-log refused to open the directory.
    #[error("append-only log {dir}: {source}")]
    Open {
        /// The directory.
        dir: PathBuf,
        /// faster-log's error.
        source: Box<faster_log::LogOpenError>,
    },
    /// A committed entry failed its checksum or could not be read.
    #[error("append-only log: damaged entry at {address}: {reason}")]
    Damaged {
        /// Where.
        address: Address,
        /// What is wrong.
        reason: String,
    },
    /// The log was truncated for a checkpoint newer than the one the store recovered.
    #[error(
        "append-only log: truncated for checkpoint version {needed}, but the store recovered {recovered}: \
         the writes in between are missing"
    )]
    CheckpointBehindLog {
        /// The version the log's begin address needs.
        needed: u32,
        /// What the store recovered (`none` or a version).
        recovered: String,
    },
    /// Replaying an entry into the store failed.
    #[error("append-only log: replay: {0}")]
    Replay(String),
    /// Appending or committing failed; the log refuses writes until the server restarts.
    #[error("append-only log: {0}")]
    Write(String),
    /// The checkpoint that retires a log failed, or its directory could not be removed.
    #[error("append-only log: retiring: {0}")]
    Retire(String),
}

/// Log pages: 16 MiB, so a key and value of up to 16 MiB less a few bytes fit in one entry.
const PAGE_SIZE_BITS: u32 = 24;
/// Pages kept in memory.
const MEMORY_PAGES: u64 = 4;
/// Segment files of 128 MiB (allocated whole when created): truncation removes whole
/// segments, so this is also how much a truncated log may keep on disk.
const SEGMENT_SIZE: u64 = 128 << 20;

/// The open log and its counters.
#[derive(Debug)]
pub(crate) struct Aof {
    log: FasterLog,
    fsync: Fsync,
    replayed: ReplayReport,
    entries_appended: AtomicU64,
}

impl Aof {
    /// Opens (or creates) the log in `config.dir` and replays it into `store`.
    pub(crate) fn open(config: &AofConfig, store: &ByteStore) -> Result<Self, AofError> {
        let policy = match config.fsync {
            Fsync::Always => CommitPolicy::Explicit,
            Fsync::EverySecond => CommitPolicy::EveryInterval(Duration::from_secs(1)),
        };
        let log = FasterLog::builder_in_dir(&config.dir)
            .page_size_bits(PAGE_SIZE_BITS)
            .memory_pages(MEMORY_PAGES)
            .segment_size(SEGMENT_SIZE)
            .commit_policy(policy)
            // Every commit record in a metadata slot: the committed range is then known
            // without scanning, so a damaged entry inside it is an error, not an end.
            .fast_commit(false)
            .open()
            .map_err(|source| AofError::Open {
                dir: config.dir.clone(),
                source: Box::new(source),
            })?;
        let replayed = replay::replay(&log, store)?;
        Ok(Self {
            log,
            fsync: config.fsync,
            replayed,
            entries_appended: AtomicU64::new(0),
        })
    }

    /// What replay did at open.
    pub(crate) fn replayed(&self) -> ReplayReport {
        self.replayed
    }

    /// The largest entry the log takes.
    pub(crate) fn max_entry(&self) -> usize {
        self.log.max_entry_size()
    }

    /// Appends a job's entries; returns the address the log must be committed to for them.
    pub(crate) fn append(&self, entries: &[Vec<u8>]) -> Result<u64, AofError> {
        let mut failed = None;
        let mut appended = entries.len() as u64;
        if self.log.enqueue_batch(entries).is_err() {
            // Too large for one page together (or the log failed: then so does this). An
            // entry too large on its own is left out; the others still go in.
            for entry in entries {
                if let Err(e) = self.log.enqueue(entry) {
                    failed = Some(AofError::Write(e.to_string()));
                    appended -= 1;
                }
            }
        }
        self.entries_appended.fetch_add(appended, Ordering::Relaxed);
        match failed {
            Some(error) => Err(error),
            None => Ok(self.log.tail_address().raw()),
        }
    }

    /// Waits until the entries below `until` are durable, when the setting asks for it.
    pub(crate) async fn durable(&self, until: u64) -> Result<(), AofError> {
        if self.fsync != Fsync::Always || self.log.committed_until().raw() >= until {
            return Ok(());
        }
        self.log
            .commit_async()
            .await
            .map(|_| ())
            .map_err(|e| AofError::Write(e.to_string()))
    }

    /// `INFO persistence` fields.
    pub(crate) fn info(&self) -> Vec<(&'static str, String)> {
        let stats = self.log.stats();
        let status = if self.log.poisoned().is_some() {
            "err"
        } else {
            "ok"
        };
        let size = stats
            .tail_address
            .raw()
            .saturating_sub(stats.begin_address.raw());
        vec![
            ("aof_fsync", self.fsync.name().to_owned()),
            ("aof_last_write_status", status.to_owned()),
            ("aof_current_size", size.to_string()),
            ("aof_begin_address", stats.begin_address.raw().to_string()),
            (
                "aof_committed_until",
                stats.committed_until.raw().to_string(),
            ),
            (
                "aof_entries_appended",
                self.entries_appended.load(Ordering::Relaxed).to_string(),
            ),
            ("aof_commits", stats.commits.to_string()),
            ("aof_replayed_entries", self.replayed.entries.to_string()),
        ]
    }

    /// After checkpoint `info`, which began when the tail was `start`: marks it, and drops
    /// the entries below `start`.
    fn covered(&self, info: &CheckpointInfo, start: u64) -> Result<(), AofError> {
        let write = |e: &dyn std::fmt::Display| AofError::Write(e.to_string());
        let mark = AofEntry::Checkpoint {
            version: info.version,
            start,
        };
        self.log.enqueue(&mark.encode()).map_err(|e| write(&e))?;
        self.log.commit().map_err(|e| write(&e))?;
        if let Err(e) = self.log.truncate_until(Address::from_masked(start)) {
            // Nothing is lost by keeping the entries: replay re-applies them.
            tracing::warn!("faster-server: append-only log: not truncated: {e}");
            return Ok(());
        }
        self.log.commit().map_err(|e| write(&e))?;
        Ok(())
    }
}

/// Takes a checkpoint of `store` and waits for it; with a log, marks what it covers and
/// truncates the log below that.
pub(crate) fn checkpoint(store: &ByteStore, aof: Option<&Aof>) -> Result<CheckpointInfo, String> {
    let start = aof.map(|aof| aof.log.tail_address().raw());
    let info = store
        .checkpoint()
        .map_err(|e| e.to_string())?
        .wait()
        .map_err(|e| e.to_string())?;
    if let (Some(aof), Some(start)) = (aof, start) {
        aof.covered(&info, start).map_err(|e| e.to_string())?;
    }
    Ok(info)
}

/// Retires the log in `dir`, for a server about to run without one: replays it into `store`,
/// takes a checkpoint (which then holds every write of the log), and removes the directory.
/// Does nothing when `dir` does not exist. Without this, the log's entries would be lost —
/// and, were the log reopened by a later start with a log, replayed over newer writes.
///
/// # Errors
/// As [`Server::start`](crate::Server::start) with a log, and [`AofError::Retire`].
pub fn retire(store: &ByteStore, dir: &Path) -> Result<Option<ReplayReport>, AofError> {
    if !dir.exists() {
        return Ok(None);
    }
    let config = AofConfig {
        dir: dir.to_path_buf(),
        fsync: Fsync::Always,
    };
    let aof = Aof::open(&config, store)?;
    checkpoint(store, Some(&aof)).map_err(AofError::Retire)?;
    let report = aof.replayed;
    drop(aof);
    // Renamed first, so that a crash while removing leaves no half log under its name.
    let old = dir.with_extension("retired");
    let fail = |e: std::io::Error| AofError::Retire(format!("{}: {e}", dir.display()));
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(fail)?;
    }
    std::fs::rename(dir, &old).map_err(fail)?;
    std::fs::remove_dir_all(&old).map_err(fail)?;
    Ok(Some(report))
}
