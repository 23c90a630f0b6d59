//! Looking at a store's directory without opening it, as `faster inspect` and `faster verify`
//! print it: what the directory holds and which checkpoint recovery would take ([`inspect`]),
//! and every header, checksum and needed log byte checked ([`verify`]).
//!
//! Nothing here writes to the directory, takes its lock or opens a device (an open may create
//! directories or repair files): files are read with plain reads, so both work while the
//! store is open in another process, or in this one. The checkpoint recovery would take is
//! found by recovery's own code ([`choose`](super::choose::choose)), given a read-only index
//! loader and a log check over the segment files; what an open does before choosing (the
//! manifest's record format, every segment file's header) is checked in the same order.

mod recovery;
mod report;
mod survey;
mod verify;

use std::path::Path;

pub use report::{CheckpointEntry, InspectError, Inventory, SegmentEntry, SegmentState};
pub use verify::{Finding, verify};

/// Lists what the store in `dir` holds — manifest, lock, log segments, checkpoints — and
/// finds the checkpoint recovery would take, without writing anything.
///
/// # Errors
/// [`InspectError::Missing`] / [`InspectError::NotADirectory`] for a path that is no
/// directory; [`InspectError::NotAStore`] for a directory with files but no manifest;
/// [`InspectError::Io`] when a directory cannot be listed.
pub fn inspect(dir: &Path) -> Result<Inventory, InspectError> {
    let survey = survey::Survey::read(dir)?;
    let open_by = faster_device::DirLock::holder(dir)
        .map(|h| h.map(|h| h.pid))
        .map_err(|e| e.to_string());
    let mut checkpoints = survey.checkpoints()?;
    let (recovery, passed_over) = match &survey.manifest {
        Ok(Some(manifest)) => recovery::predict(&survey, manifest),
        Ok(None) => (Ok(None), Vec::new()),
        Err(e) => (Err(e.to_string()), Vec::new()),
    };
    for (token, reason) in passed_over {
        if let Some(entry) = checkpoints.iter_mut().find(|c| c.token == token)
            && entry.problem.is_none()
        {
            entry.problem = Some(reason);
        }
    }
    Ok(Inventory {
        dir: dir.to_path_buf(),
        manifest: survey
            .manifest
            .as_ref()
            .map(Clone::clone)
            .map_err(ToString::to_string),
        open_by,
        segments: survey.segments.iter().map(|s| s.entry.clone()).collect(),
        checkpoint_dir: survey.root.clone(),
        checkpoints,
        recovery,
    })
}
