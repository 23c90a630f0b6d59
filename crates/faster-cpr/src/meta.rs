//! [`CheckpointMeta`]: what a checkpoint records, encoded with postcard inside an envelope
//! (magic `FRSCKPT\n`, format version 2, xxh3 checksum). The byte layout is in
//! `docs/formats.md`.

use faster_address::Address;
use serde::{Deserialize, Serialize};

use crate::envelope;
use crate::error::FormatError;
use crate::ids::{CheckpointToken, Serial, SessionId};
use crate::state::LogCheckpointKind;

/// Magic of checkpoint metadata.
pub const META_MAGIC: [u8; 8] = *b"FRSCKPT\n";
/// Format version of checkpoint metadata this build writes and reads.
///
/// Version 2 added the store's and the log's identities; a version-1 checkpoint is refused
/// with [`FormatError::UnsupportedVersion`](crate::FormatError::UnsupportedVersion).
pub const META_VERSION: u32 = 2;
/// Magic of the completion marker.
pub const COMPLETE_MAGIC: [u8; 8] = *b"FRSDONE\n";

/// A session's commit point: every operation with a serial number up to `serial` is in the
/// checkpoint, except those listed in `excluded` (they were waiting for the device when the
/// session moved to the next version, and completed in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCommit {
    /// The session's identifier.
    pub id: SessionId,
    /// The last serial number the commit point covers.
    pub serial: Serial,
    /// Serial numbers at or below `serial` that are not in the checkpoint.
    pub excluded: Vec<Serial>,
}

/// The log part of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogMeta {
    /// How the log was made durable.
    pub kind: LogCheckpointKind,
    /// The log's begin address: records below it were truncated away.
    pub begin: u64,
    /// The tail when the version change began: records of the next version can only lie at
    /// or above it, so the "in new version" bit is read only in `[start, final_address)`.
    pub start: u64,
    /// The tail when the version-`v` image was frozen: the recovered log ends here.
    pub final_address: u64,
    /// Snapshots: the log is on the device below this address; the snapshot files hold
    /// `[snapshot_start, final_address)`. Equal to `final_address` for fold-over.
    pub snapshot_start: u64,
    /// Incremental snapshots: the checkpoints whose snapshot files are applied first, oldest
    /// first (a full snapshot, then earlier increments).
    pub base_chain: Vec<CheckpointToken>,
}

/// The index part of a checkpoint (a fuzzy snapshot of the hash table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexMeta {
    /// The tail when the snapshot began: records at or above it may be missing from the
    /// snapshot and are replayed from the log at recovery.
    pub start_address: u64,
    /// Bytes of the snapshot file.
    pub bytes: u64,
    /// Number of buckets of the table.
    pub buckets: u64,
}

/// Everything recovery needs to know about one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// The checkpoint's token (its number; later checkpoints have larger tokens).
    pub token: CheckpointToken,
    /// The identity of the store that took it (from the store's manifest).
    pub store_id: u128,
    /// The identity of the log whose bytes it needs (the incarnation its segment files carry),
    /// when the log's device has one.
    pub log_id: Option<u128>,
    /// The version it captured: every operation of version `version` and before, and none
    /// after (per session, up to its commit point).
    pub version: u32,
    /// The log part, unless this is an index-only checkpoint.
    pub log: Option<LogMeta>,
    /// The index snapshot in this checkpoint's directory, if it has one.
    pub index: Option<IndexMeta>,
    /// The checkpoint whose index snapshot recovery loads (this one's or an earlier one's).
    pub index_token: CheckpointToken,
    /// The index snapshot recovery loads (copied from `index_token`'s metadata).
    pub index_meta: IndexMeta,
    /// Commit point of every session known to the store.
    pub sessions: Vec<SessionCommit>,
    /// Milliseconds since the Unix epoch when the checkpoint completed.
    pub created_unix_ms: u64,
}

impl CheckpointMeta {
    /// Encodes the metadata in its envelope.
    ///
    /// # Errors
    /// [`FormatError::Decode`] if postcard cannot encode it (it always can for this type).
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        envelope::seal_postcard(META_MAGIC, META_VERSION, self)
    }

    /// Decodes and checks metadata bytes.
    ///
    /// # Errors
    /// [`FormatError`] for a bad envelope, bytes that do not decode, or contradictory fields.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let meta: Self = envelope::open_postcard(META_MAGIC, META_VERSION, bytes)?;
        meta.check()?;
        Ok(meta)
    }

    fn check(&self) -> Result<(), FormatError> {
        if let Some(log) = &self.log {
            if !(log.begin <= log.start && log.start <= log.final_address) {
                return Err(FormatError::Inconsistent("log addresses out of order"));
            }
            if !(log.begin <= log.snapshot_start && log.snapshot_start <= log.final_address) {
                return Err(FormatError::Inconsistent("snapshot start outside the log"));
            }
            if log.final_address >= Address::LIMIT {
                return Err(FormatError::Inconsistent("final address beyond 48 bits"));
            }
            if log.base_chain.iter().any(|&t| t >= self.token) {
                return Err(FormatError::Inconsistent("a base checkpoint is not older"));
            }
        }
        let index_starts = [Some(&self.index_meta), self.index.as_ref()];
        if index_starts
            .iter()
            .flatten()
            .any(|index| index.start_address >= Address::LIMIT)
        {
            return Err(FormatError::Inconsistent(
                "index start address beyond 48 bits",
            ));
        }
        if self.index_token > self.token {
            return Err(FormatError::Inconsistent(
                "index checkpoint is newer than the checkpoint",
            ));
        }
        if self.index.is_some() != (self.index_token == self.token) {
            return Err(FormatError::Inconsistent(
                "index snapshot and index token disagree",
            ));
        }
        if !self.index_meta.buckets.is_power_of_two() {
            return Err(FormatError::Inconsistent(
                "bucket count is not a power of two",
            ));
        }
        for s in &self.sessions {
            if s.excluded.iter().any(|&e| e > s.serial) {
                return Err(FormatError::Inconsistent(
                    "an excluded serial is past the commit point",
                ));
            }
        }
        Ok(())
    }
}

/// The completion marker's content: the token and the checksum of its metadata file, so a
/// marker left by another checkpoint (or a metadata file replaced after it) does not count.
pub fn encode_complete(token: CheckpointToken, meta_bytes: &[u8]) -> Vec<u8> {
    envelope::seal(
        COMPLETE_MAGIC,
        META_VERSION,
        &encode_complete_payload(token, meta_bytes),
    )
}

/// Checks a completion marker against the token and the metadata bytes.
///
/// # Errors
/// [`FormatError`] when the marker is damaged or belongs to other metadata.
pub fn check_complete(
    marker: &[u8],
    token: CheckpointToken,
    meta_bytes: &[u8],
) -> Result<(), FormatError> {
    let payload = envelope::open(COMPLETE_MAGIC, META_VERSION, marker)?;
    if payload != encode_complete_payload(token, meta_bytes) {
        return Err(FormatError::Inconsistent(
            "completion marker does not match the metadata",
        ));
    }
    Ok(())
}

fn encode_complete_payload(token: CheckpointToken, meta_bytes: &[u8]) -> Vec<u8> {
    let mut payload = token.get().to_le_bytes().to_vec();
    payload.extend_from_slice(&twox_hash::XxHash3_64::oneshot(meta_bytes).to_le_bytes());
    payload
}
