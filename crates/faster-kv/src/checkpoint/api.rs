//! Starting checkpoints: the methods of [`FasterKv`] and the store's entry point.

use std::sync::Arc;

use faster_cpr::Action;

use super::error::CheckpointError;
use super::options::CheckpointOptions;
use super::run::{CheckpointHandle, Run};
use crate::codec::Codec;
use crate::kv::FasterKv;
use crate::store::Store;

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

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// Starts a log checkpoint with `options` (with an index snapshot too when the last one
    /// cannot be reused: none yet, or the table grew since).
    pub(crate) fn start_checkpoint(
        self: &Arc<Self>,
        options: CheckpointOptions,
    ) -> Result<Arc<Run>, CheckpointError> {
        self.cpr_start(Action::Checkpoint {
            index: options.index,
            log: Some(options.log),
        })
    }
}
