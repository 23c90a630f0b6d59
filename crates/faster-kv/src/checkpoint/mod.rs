//! Checkpoints and recovery with Concurrent Prefix Recovery.
//!
//! [`FasterKv::checkpoint`](crate::FasterKv::checkpoint) starts a checkpoint and returns at once with a
//! [`CheckpointHandle`]; sessions keep working while the store moves through the phases of
//! [`faster_cpr`]. The result recovers, for every session, a prefix of its operations: all up
//! to its commit point and none after. `docs/durability.md` states what is durable when.

mod api;
pub(crate) mod choose;
pub(crate) mod cpr;
mod direct;
mod driver;
pub(crate) mod error;
mod inspect;
pub(crate) mod jobs;
pub(crate) mod options;
pub(crate) mod recover;
pub(crate) mod rules;
pub(crate) mod run;
pub(crate) mod sessions;
mod snapshot;

pub use error::CheckpointError;
pub use inspect::{
    CheckpointEntry, Finding, InspectError, Inventory, SegmentEntry, SegmentState, inspect, verify,
};
pub use options::CheckpointOptions;
pub use run::{CheckpointHandle, CheckpointInfo, Durable};
pub use snapshot::{SNAPSHOT_MAGIC, SNAPSHOT_VERSION, SnapshotChunk, parse_snapshot};
