//! [`CheckpointError`]: what can stop a checkpoint.

use std::sync::Arc;

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
