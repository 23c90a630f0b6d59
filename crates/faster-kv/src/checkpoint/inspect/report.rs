//! What [`inspect`](super::inspect) reports, and why it may fail.

use std::path::PathBuf;

use faster_cpr::{CheckpointMeta, CheckpointToken};

use crate::manifest::Manifest;

/// Why a directory could not be inspected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// The directory does not exist.
    #[error("{}: no such directory", dir.display())]
    Missing {
        /// The path given.
        dir: PathBuf,
    },
    /// The path is not a directory.
    #[error("{}: not a directory", dir.display())]
    NotADirectory {
        /// The path given.
        dir: PathBuf,
    },
    /// The directory has no manifest and holds files: it is not a store (of this format).
    #[error("{} is not a faster-kv store: {reason}", dir.display())]
    NotAStore {
        /// The directory.
        dir: PathBuf,
        /// What it holds instead.
        reason: String,
    },
    /// A directory could not be listed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// One checkpoint directory, as found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckpointEntry {
    /// The token (from the directory name).
    pub token: CheckpointToken,
    /// Its metadata, when it is complete and valid.
    pub meta: Option<CheckpointMeta>,
    /// Why it does not count, when it does not: incomplete or damaged metadata, another
    /// store's, or the reason recovery passes it over.
    pub problem: Option<String>,
    /// Total bytes of its files.
    pub bytes: u64,
}

/// The state of a log segment file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentState {
    /// Valid, named for its index, of the store's segment size and log.
    Valid,
    /// Its creation was cut short: no valid header and no data. Opening the store writes its
    /// header again; nothing depends on it.
    CutShort,
    /// A valid header of another log (another store's, or an earlier log of this store).
    Foreign {
        /// The log identity in its header.
        identity: u128,
    },
    /// The header is damaged or contradicts the file name or the segment size.
    Damaged {
        /// What is wrong.
        reason: String,
    },
    /// The file could not be read.
    Unreadable {
        /// The operating system's error.
        error: String,
    },
}

impl SegmentState {
    /// Whether opening the store accepts the file (valid, or a creation cut short).
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Valid | Self::CutShort)
    }
}

impl std::fmt::Display for SegmentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Valid => f.write_str("ok"),
            Self::CutShort => f.write_str("creation cut short (no header, no data)"),
            Self::Foreign { identity } => write!(f, "belongs to another log ({identity:032x})"),
            Self::Damaged { reason } => write!(f, "damaged: {reason}"),
            Self::Unreadable { error } => write!(f, "unreadable: {error}"),
        }
    }
}

/// One log segment file.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SegmentEntry {
    /// The segment's index (from the file name).
    pub index: u64,
    /// The file.
    pub path: PathBuf,
    /// Its length in bytes, header included.
    pub bytes: u64,
    /// Its header's state.
    pub state: SegmentState,
}

/// What a store directory holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Inventory {
    /// The directory.
    pub dir: PathBuf,
    /// The store's manifest; `Ok(None)` for an empty directory (no store yet), `Err` when it
    /// cannot be read or is damaged.
    pub manifest: Result<Option<Manifest>, String>,
    /// The process that has the store open, when one does (from the kernel's lock table;
    /// the answer may be stale by the time it is read).
    pub open_by: Result<Option<u32>, String>,
    /// The log's segment files, by index (none for a store whose log is on a device outside
    /// the directory).
    pub segments: Vec<SegmentEntry>,
    /// Where the checkpoints are.
    pub checkpoint_dir: PathBuf,
    /// Checkpoints, oldest first.
    pub checkpoints: Vec<CheckpointEntry>,
    /// What opening the store would recover: the checkpoint's token, `None` when no
    /// checkpoint ever completed (the store would start empty), or the error the open would
    /// return.
    pub recovery: Result<Option<CheckpointToken>, String>,
}
