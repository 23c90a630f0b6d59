//! Concurrent Prefix Recovery (CPR): the checkpoint state machine, checkpoint tokens and the
//! checkpoint metadata formats.
//!
//! # The idea
//!
//! A checkpoint of version `v` must contain, for every session, a prefix of its operations:
//! all of its operations up to some serial number (its *commit point*) and none after — while
//! every session keeps running. Instead of stopping the world, the store moves through phases;
//! each session notices a new phase on its next refresh, acts on it, and acknowledges it
//! through its epoch slot's marker. A session's operations belong to version `v` until it
//! notices the move to [`Phase::InProgress`]; from then on they belong to `v + 1`. Its commit
//! point is the serial number of its last version-`v` operation.
//!
//! # Rules
//!
//! - **C1 — one word.** The global state `(action, phase, version)` is one atomic `u64`
//!   ([`SystemState::pack`]); it changes only by compare-and-swap, so every observer sees a
//!   state the machine really passed through.
//! - **C2 — the sequence.** An action starts only from rest, and each state has exactly one
//!   successor ([`SystemState::next`]): full checkpoint `REST → PREP_INDEX_CHKPT →
//!   INDEX_CHKPT → PREPARE → IN_PROGRESS (v+1) → WAIT_PENDING → WAIT_FLUSH →
//!   PERSISTENCE_CALLBACK → REST`; index-only stops after `INDEX_CHKPT`; log-only starts at
//!   `PREPARE`; growth is `REST → GROW_PREPARE → GROW_IN_PROGRESS → REST`.
//! - **C3 — acknowledgement.** A session acknowledges a state by publishing its packed word as
//!   its epoch marker, after doing what the phase asks of it. A state is acknowledged when every
//!   *protected* session's marker equals it. A session that is not protected has no operation
//!   in flight and acts on the current state before its next operation, so it is never waited
//!   for: an idle session cannot stall a checkpoint.
//! - **C4 — advancing.** Whoever sees a state acknowledged and its phase's own work finished
//!   (an index snapshot written, a flush completed) advances it with a compare-and-swap from
//!   that exact state; exactly one caller wins and runs the next phase's entry work. Nobody
//!   waits inside the state machine.
//! - **C5 — existence.** A checkpoint exists once its completion marker — the token and the
//!   checksum of its metadata — is durable, written after every other file of the checkpoint
//!   and the log it depends on are durable. Recovery ignores directories without a valid
//!   marker.
//!
//! The store ([`faster-kv`](https://docs.rs/faster-kv)) supplies each phase's work; this crate
//! holds the state, the formats and the directory layout, and the numbers they speak of:
//! [`CheckpointToken`], [`SessionId`] and [`Serial`] (each written as the `u64` it wraps).

mod dir;
pub mod envelope;
mod error;
mod ids;
mod machine;
mod meta;
mod state;
mod sync;

pub use dir::{COMPLETE_FILE, CheckpointDir, INDEX_FILE, META_FILE, SNAPSHOT_FILE, sync_dir};
pub use error::{CheckpointFileError, FormatError};
pub use ids::{CheckpointToken, Serial, SessionId};
pub use machine::StateMachine;
pub use meta::{
    COMPLETE_MAGIC, CheckpointMeta, IndexMeta, LogMeta, META_MAGIC, META_VERSION, SessionCommit,
    check_complete, encode_complete,
};
pub use state::{Action, LogCheckpointKind, Phase, SystemState};
