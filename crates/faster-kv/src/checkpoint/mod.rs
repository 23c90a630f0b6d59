//! Checkpoints and recovery with Concurrent Prefix Recovery.
//!
//! [`FasterKv::checkpoint`] starts a checkpoint and returns at once with a
//! [`CheckpointHandle`]; sessions keep working while the store moves through the phases of
//! [`faster_cpr`]. The result recovers, for every session, a prefix of its operations: all up
//! to its commit point and none after. `docs/durability.md` states what is durable when.

pub(crate) mod choose;
mod direct;
mod driver;
mod inspect;
pub(crate) mod jobs;
pub(crate) mod recover;
mod run;
mod sessions;
mod snapshot;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use faster_cpr::{Action, LogCheckpointKind};

pub(crate) use driver::Cpr;
pub use inspect::{
    CheckpointEntry, Finding, InspectError, Inventory, SegmentEntry, SegmentState, inspect, verify,
};
pub use recover::Recovered;
pub use run::{CheckpointHandle, CheckpointInfo, Durable};
pub(crate) use sessions::{SessionShared, SessionTable, StartRefused};
pub use snapshot::{SNAPSHOT_MAGIC, SNAPSHOT_VERSION, SnapshotChunk, parse_snapshot};

use crate::codec::Codec;
use crate::store::FasterKv;

/// Errors of taking a checkpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The store was opened without a checkpoint directory (an in-memory store without
    /// [`FasterKvBuilder::checkpoint_dir`](crate::FasterKvBuilder::checkpoint_dir)).
    #[error("the store has no checkpoint directory")]
    NoCheckpointDir,
    /// Another checkpoint or an index growth is in progress.
    #[error("another checkpoint or index growth is in progress")]
    Busy,
    /// Writing a checkpoint file failed.
    #[error("checkpoint files: {0}")]
    Files(#[from] faster_cpr::CheckpointFileError),
    /// The log could not be made durable.
    #[error("log: {0}")]
    Log(#[from] faster_hlog::LogError),
    /// The device failed.
    #[error("device: {0}")]
    Device(#[from] faster_device::DeviceError),
    /// The index snapshot could not be written.
    #[error("index: {0}")]
    Index(#[from] faster_index::IndexError),
    /// The epoch table had no slot for the checkpoint's own protection.
    #[error("epoch: {0}")]
    Epoch(#[from] faster_epoch::EpochError),
    /// An operating-system error outside the files above (starting the worker thread).
    #[error("io: {0}")]
    Io(Arc<std::io::Error>),
}

/// What a checkpoint writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointOptions {
    /// How the log is made durable. Default: [`LogCheckpointKind::Snapshot`]: it copies the
    /// in-memory part of the log to a file and leaves that part mutable, where a fold-over
    /// flushes it and makes it read-only, so that the next update of every key appends a copy
    /// (the log then grows by the updated data at every checkpoint). `docs/durability.md`
    /// compares the kinds.
    pub log: LogCheckpointKind,
    /// Also write a (fuzzy) snapshot of the hash index. Without it, recovery loads the newest
    /// earlier index snapshot and replays more of the log; the first checkpoint of a store
    /// always writes one. Default: true.
    pub index: bool,
}

impl Default for CheckpointOptions {
    fn default() -> Self {
        Self {
            log: LogCheckpointKind::Snapshot,
            index: true,
        }
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> FasterKv<K, V> {
    /// Starts a full checkpoint (index snapshot and log snapshot, [`CheckpointOptions`]'s
    /// defaults) and returns at once.
    ///
    /// # Errors
    /// [`CheckpointError::NoCheckpointDir`], or [`CheckpointError::Busy`] while another
    /// checkpoint runs.
    pub fn checkpoint(&self) -> Result<CheckpointHandle, CheckpointError> {
        self.checkpoint_with(CheckpointOptions::default())
    }

    /// Starts a checkpoint of the given kind and returns at once.
    ///
    /// # Errors
    /// As [`FasterKv::checkpoint`].
    pub fn checkpoint_with(
        &self,
        options: CheckpointOptions,
    ) -> Result<CheckpointHandle, CheckpointError> {
        let run = self.store.start_checkpoint(options)?;
        Ok(CheckpointHandle { run })
    }

    /// Starts a checkpoint of the hash index alone (no version change, no log flush); later
    /// log-only checkpoints use it.
    ///
    /// # Errors
    /// As [`FasterKv::checkpoint`].
    pub fn checkpoint_index(&self) -> Result<CheckpointHandle, CheckpointError> {
        let run = self.store.cpr_start(Action::Checkpoint {
            index: true,
            log: None,
        })?;
        Ok(CheckpointHandle { run })
    }

    /// The version operations currently belong to (it grows by one per log checkpoint).
    pub fn version(&self) -> u32 {
        self.store.cpr.machine.state().version
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> crate::store::Store<K, V> {
    /// Starts a log checkpoint with `options` (with an index snapshot too when the store has
    /// no checkpoint yet to take one from).
    pub(crate) fn start_checkpoint(
        self: &Arc<Self>,
        options: CheckpointOptions,
    ) -> Result<Arc<run::Run>, CheckpointError> {
        self.cpr_start(Action::Checkpoint {
            index: options.index || !self.has_checkpoint(),
            log: Some(options.log),
        })
    }
}

/// Which pages changed in place since the last snapshot, for incremental snapshots: one flag
/// per page frame, holding the number of the page that was updated (rule R10).
///
/// At rest an in-place update marks its page only if the flag does not name it already (one
/// load, rarely a store). While a checkpoint is in progress — the only time a snapshot copies
/// pages — updates store the flag unconditionally after writing (release), and the copier
/// clears a page's flag with a swap (acquire) *before* copying it: an update either happened
/// before the swap, and the copy sees it, or re-marks the page for the next increment.
pub(crate) struct DirtyPages {
    flags: Box<[CachePadded<AtomicU64>]>,
    mask: u64,
}

const CLEAN: u64 = u64::MAX;

impl DirtyPages {
    pub(crate) fn new(frames: u64) -> Self {
        Self {
            flags: (0..frames)
                .map(|_| CachePadded::new(AtomicU64::new(CLEAN)))
                .collect(),
            mask: frames - 1,
        }
    }

    #[inline]
    pub(crate) fn mark(&self, page: u64, always: bool) {
        let flag = &self.flags[(page & self.mask) as usize];
        if always || flag.load(Ordering::Relaxed) != page {
            flag.store(page, Ordering::Release);
        }
    }

    /// Clears `page`'s mark; returns whether it was marked.
    pub(crate) fn take(&self, page: u64) -> bool {
        let flag = &self.flags[(page & self.mask) as usize];
        flag.compare_exchange(page, CLEAN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}
