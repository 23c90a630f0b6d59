//! Which checkpoint opening the store would recover, found by recovery's own choice
//! ([`choose`]) over read-only checks: the index snapshot is read with plain reads, and the
//! log's bytes are checked in the segment files without opening a device.
//!
//! Before choosing, an open checks the manifest's record format and opens the log's device,
//! which refuses a damaged or foreign segment file anywhere in the log; the same checks come
//! first here, in that order, so that the error reported is the one the open would return.

use std::path::Path;
use std::sync::Arc;

use faster_cpr::CheckpointToken;
use faster_device::{DeviceError, SEGMENT_HEADER_BYTES};
use faster_epoch::Epoch;
use faster_index::{HashIndex, IndexError};

use super::survey::Survey;
use crate::checkpoint::choose::{Choice, Expect, choose};
use crate::checkpoint::jobs::{INDEX_SEGMENT_FILE, index_files};
use crate::error::OpenError;
use crate::manifest::{Manifest, RECORD_FORMAT};
use crate::store_dir::log_error;

/// What recovery would take: a token, `None` when no checkpoint ever completed, or the error
/// it would return.
pub(super) type Outcome = Result<Option<CheckpointToken>, String>;

/// What recovery would take, and the newer checkpoints it passes over, with the reasons.
pub(super) fn predict(
    survey: &Survey,
    manifest: &Manifest,
) -> (Outcome, Vec<(CheckpointToken, String)>) {
    match run(survey, manifest) {
        Ok(Choice::Chosen(chosen)) => (Ok(Some(chosen.meta.token)), chosen.skipped),
        Ok(Choice::Nothing { .. }) => (Ok(None), Vec::new()),
        Err(e) => {
            let skipped = match &e {
                OpenError::NoCheckpoint { skipped, .. } => skipped.clone(),
                _ => Vec::new(),
            };
            (Err(e.to_string()), skipped)
        }
    }
}

fn run(survey: &Survey, manifest: &Manifest) -> Result<Choice, OpenError> {
    if manifest.record_format != RECORD_FORMAT {
        return Err(OpenError::NotAStore {
            dir: survey.dir.clone(),
            reason: format!(
                "its records have format {}; this build reads format {RECORD_FORMAT}",
                manifest.record_format
            ),
        });
    }
    if let Some(e) = survey.segments.iter().find_map(|s| s.error.clone()) {
        return Err(OpenError::Segments {
            dir: survey.dir.clone(),
            source: e,
        });
    }
    let Some(dir) = survey.checkpoint_dir() else {
        return Ok(Choice::Nothing {
            incomplete: Vec::new(),
        });
    };
    let files = survey.log_files(manifest);
    // A log on a device outside the directory cannot be looked at: its bytes are taken as
    // present, as its identity is unknown.
    let check_log = |from: u64, to: u64| {
        if survey.log_in_dir {
            files.check_present(from, to).map_err(log_error)
        } else {
            Ok(())
        }
    };
    let epoch = Epoch::new();
    let load_index = |dir: &Path| load_index(dir, &epoch);
    let expect = Expect {
        store_id: manifest.store_id,
        log_id: survey.log_in_dir.then_some(manifest.log_id),
        log_id_always: survey.log_in_dir,
        page_size: 1 << manifest.page_size_bits,
        check_log: &check_log,
        load_index: &load_index,
    };
    choose(&dir, None, &expect)
}

/// Loads the index snapshot of the checkpoint directory `dir` with plain reads, failing as
/// recovery's device read fails on the same bytes: a bad segment header as the device's
/// error, a missing file or a header without data as no snapshot bytes (the device would
/// read zeros), damage as [`IndexError::Snapshot`].
fn load_index(dir: &Path, epoch: &Arc<Epoch>) -> Result<HashIndex, IndexError> {
    let path = dir.join(INDEX_SEGMENT_FILE);
    let bytes = match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        _ => match index_files(dir).check_segment_file(0, &path)? {
            None => Vec::new(),
            Some(_) => std::fs::read(&path).map_err(|e| read_error(&path, &e))?,
        },
    };
    let snapshot = bytes.get(SEGMENT_HEADER_BYTES as usize..).unwrap_or(&[]);
    HashIndex::from_snapshot_bytes(snapshot, Arc::clone(epoch))
}

fn read_error(path: &Path, e: &std::io::Error) -> IndexError {
    IndexError::Device(DeviceError::Io {
        op: faster_device::IoOp::Read,
        offset: 0,
        source: Arc::new(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        )),
    })
}
