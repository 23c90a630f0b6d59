//! What opening a store did: [`Opened`], and [`Recovered`] when it recovered a checkpoint.

use std::time::Duration;

use faster_cpr::{CheckpointToken, SessionCommit};

/// What opening a store did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Opened {
    /// A new store was created (a store without a directory is new every time).
    Created,
    /// The store existed, but no checkpoint of it had completed: nothing was durable, and it
    /// starts empty.
    Empty,
    /// The store was recovered from a checkpoint.
    Recovered(Recovered),
}

impl Opened {
    /// The recovery, if the store was recovered.
    pub fn recovered(&self) -> Option<&Recovered> {
        match self {
            Self::Recovered(r) => Some(r),
            _ => None,
        }
    }
}

/// What recovery restored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovered {
    /// The checkpoint recovered.
    pub token: CheckpointToken,
    /// Its version: the store continues in `version + 1`.
    pub version: u32,
    /// Every session's recovered commit point; continue one with
    /// [`FasterKv::continue_session`](crate::FasterKv::continue_session).
    pub sessions: Vec<SessionCommit>,
    /// Newer checkpoints that were passed over, with the reason (damaged or incomplete).
    pub skipped: Vec<(CheckpointToken, String)>,
    /// Bytes of log replayed into the index.
    pub replayed_bytes: u64,
    /// Wall time of the recovery.
    pub duration: Duration,
}
