//! [`CheckpointOptions`]: what a checkpoint writes.

use faster_cpr::LogCheckpointKind;

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
