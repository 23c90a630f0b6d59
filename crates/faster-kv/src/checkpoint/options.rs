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
    /// earlier index snapshot and replays more of the log. A checkpoint writes one anyway
    /// when there is none to reuse (the store's first) or when the index grew since the last
    /// one (recovery replays the log into a table of the snapshot's size, which must be the
    /// size the log's chains were written with). Default: true.
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
