//! The errors of an F2 store.

use std::sync::Arc;

use faster_kv::{CheckpointError, CompactError, OpError, OpenError, SessionError};

/// Which of an F2 store's parts an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The hot store (`hot/`).
    Hot,
    /// The cold log (`cold-log/`).
    ColdLog,
    /// The cold index's chunk store (`cold-index/`).
    ColdIndex,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Hot => "hot store",
            Self::ColdLog => "cold log",
            Self::ColdIndex => "cold index",
        })
    }
}

/// Why an F2 operation, open, checkpoint or migration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum F2Error {
    /// Opening one of the parts failed.
    #[error("opening the {part}: {source}")]
    Open {
        /// The part.
        part: Part,
        /// Why.
        #[source]
        source: OpenError,
    },
    /// Opening the cold log failed.
    #[error("opening the cold log: {0}")]
    OpenLog(#[source] faster_log::LogOpenError),
    /// The directory's F2 manifest is missing parts, damaged, or of another format.
    #[error("F2 manifest {path}: {reason}")]
    Manifest {
        /// The manifest's path.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A setting that shapes the directory contradicts the one it was created with.
    #[error("setting {setting}: the store has {stored}, {requested} was asked for")]
    SettingMismatch {
        /// The setting.
        setting: &'static str,
        /// What the manifest says.
        stored: String,
        /// What the builder asked for.
        requested: String,
    },
    /// A setting is out of range.
    #[error("setting {setting}: {reason}")]
    InvalidSetting {
        /// The setting.
        setting: &'static str,
        /// Why.
        reason: String,
    },
    /// An operation of a part's store failed.
    #[error("{part}: {source}")]
    Op {
        /// The part.
        part: Part,
        /// Why.
        #[source]
        source: OpError,
    },
    /// The cold log refused an operation.
    #[error("cold log: {0}")]
    Log(#[from] faster_log::Error),
    /// A cold record read back is damaged.
    #[error("cold log at {address:#x}: {reason}")]
    Corrupt {
        /// The entry's address.
        address: u64,
        /// What is wrong.
        reason: String,
    },
    /// A key or value could not be encoded or decoded.
    #[error("codec: {0}")]
    Codec(#[from] faster_kv::CodecError),
    /// A session could not be created or continued.
    #[error("session: {0}")]
    Session(#[from] SessionError),
    /// A checkpoint of a part failed.
    #[error("checkpoint of the {part}: {source}")]
    Checkpoint {
        /// The part.
        part: Part,
        /// Why.
        #[source]
        source: Arc<CheckpointError>,
    },
    /// A compaction or migration failed (nothing was lost: the source's begin address did
    /// not move).
    #[error("compaction of the {part}: {source}")]
    Compact {
        /// The part compacted.
        part: Part,
        /// Why.
        #[source]
        source: CompactError,
    },
    /// A directory operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl F2Error {
    pub(crate) fn hot(source: OpError) -> Self {
        Self::Op {
            part: Part::Hot,
            source,
        }
    }

    pub(crate) fn index(source: OpError) -> Self {
        Self::Op {
            part: Part::ColdIndex,
            source,
        }
    }
}
