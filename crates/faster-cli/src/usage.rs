//! The space a store takes: the bytes its log segments and checkpoints occupy on disk
//! (allocated blocks, so the holes reclaiming punches into segment files do not count), and
//! the bytes of log the checkpoint that recovery would take spans.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use faster_kv::checkpoint::Inventory;

/// Bytes on disk of a store's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DiskBytes {
    /// Of the log's segment files.
    pub(crate) segments: u64,
    /// Of the checkpoint directory.
    pub(crate) checkpoints: u64,
}

impl DiskBytes {
    /// Both together.
    pub(crate) fn total(&self) -> u64 {
        self.segments + self.checkpoints
    }
}

/// The bytes on disk of the segment files and the checkpoint directory `inventory` lists.
pub(crate) fn disk_bytes(inventory: &Inventory) -> DiskBytes {
    DiskBytes {
        segments: inventory.segments.iter().map(|s| allocated(&s.path)).sum(),
        checkpoints: allocated(&inventory.checkpoint_dir),
    }
}

/// Bytes allocated to `path`, or to every file under it for a directory; what cannot be
/// read counts as nothing (a file that vanishes while we look, say a checkpoint removed by
/// retention).
pub(crate) fn allocated(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.blocks() * 512;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| allocated(&entry.path()))
        .sum()
}

/// The log addresses `[begin, final)` of the checkpoint recovery would take, when it has a log
/// part.
pub(crate) fn recovered_log(inventory: &Inventory) -> Option<(u64, u64)> {
    let token = inventory.recovery.as_ref().ok().copied().flatten()?;
    let entry = inventory.checkpoints.iter().find(|c| c.token == token)?;
    let log = entry.meta.as_ref()?.log.as_ref()?;
    Some((log.begin, log.final_address))
}
