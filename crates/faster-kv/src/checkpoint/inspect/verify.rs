//! [`verify`]: every header, checksum and needed log byte of a store's directory checked, and
//! the first problem of each file reported with its byte range (file offsets).

use std::path::{Path, PathBuf};

use faster_cpr::{
    CheckpointDir, CheckpointMeta, CheckpointToken, LogCheckpointKind, SNAPSHOT_FILE,
};
use faster_device::{DeviceError, SEGMENT_HEADER_BYTES};

use super::report::InspectError;
use super::survey::Survey;
use crate::checkpoint::jobs::{INDEX_SEGMENT_FILE, index_files};
use crate::checkpoint::snapshot::SnapshotReader;
use crate::manifest::{MANIFEST_FILE, Manifest};

/// A problem [`verify`] found: the file, the byte range it concerns, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file.
    pub file: PathBuf,
    /// The first bad byte range in it (`start..end`, offsets in the file; empty for a file
    /// that is missing or a problem of the whole file).
    pub range: std::ops::Range<u64>,
    /// What is wrong.
    pub problem: String,
}

fn len_of(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Checks the store in `dir` without writing anything: the manifest; every log segment
/// file's header (valid, of this log, named for its index); and every checkpoint with a
/// completion marker — its metadata and marker, that it is this store's and of this log,
/// that the log segments it needs are present, of this log and long enough, its index
/// snapshot's header, checksums and structure, and every chunk of its snapshot files.
/// Incomplete checkpoints (no marker) are reported too, as they are not recoverable.
/// Returns the first problem of each damaged file; empty means all is well.
///
/// # Errors
/// As [`inspect`](super::inspect): a path that is no directory, a directory that is not a
/// store, a directory that cannot be listed.
pub fn verify(dir: &Path) -> Result<Vec<Finding>, InspectError> {
    let survey = Survey::read(dir)?;
    let mut findings = Vec::new();
    let manifest = match &survey.manifest {
        Ok(manifest) => manifest.as_ref(),
        Err(e) => {
            let file = dir.join(MANIFEST_FILE);
            findings.push(Finding {
                range: 0..len_of(&file),
                file,
                problem: e.to_string(),
            });
            None
        }
    };
    for segment in &survey.segments {
        let entry = &segment.entry;
        if !entry.state.is_ok() {
            findings.push(Finding {
                file: entry.path.clone(),
                range: 0..entry.bytes.min(SEGMENT_HEADER_BYTES),
                problem: format!("segment header: {}", entry.state),
            });
        }
    }
    let Some(cdir) = survey.checkpoint_dir() else {
        return Ok(findings);
    };
    let tokens = cdir.tokens().map_err(|e| InspectError::Io {
        path: survey.root.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let kept = kept_for_others(&cdir, &tokens);
    for token in tokens {
        match kept.get(&token) {
            // Retired, kept for a newer checkpoint: only the files that one uses count.
            Some(uses)
                if matches!(
                    cdir.read(token),
                    Err(faster_cpr::CheckpointFileError::NotFound { .. })
                ) =>
            {
                if uses.index {
                    findings.extend(verify_index_file(&cdir.token_dir(token)));
                }
                if uses.snapshot {
                    findings.extend(verify_snapshot(&cdir, token));
                }
            }
            _ => verify_checkpoint(&survey, manifest, &cdir, token, &mut findings),
        }
    }
    Ok(findings)
}

/// What of a checkpoint newer complete checkpoints use.
#[derive(Debug, Default, Clone, Copy)]
struct Uses {
    index: bool,
    snapshot: bool,
}

/// The checkpoints whose index snapshot or snapshot file a complete checkpoint uses (retention
/// keeps them, and retires the log checkpoints among them: `docs/durability.md`, "Retention
/// and reclamation").
fn kept_for_others(
    cdir: &CheckpointDir,
    tokens: &[CheckpointToken],
) -> std::collections::BTreeMap<CheckpointToken, Uses> {
    let mut kept = std::collections::BTreeMap::<CheckpointToken, Uses>::new();
    for &token in tokens {
        let Ok(meta) = cdir.read(token) else { continue };
        if meta.index_token != token {
            kept.entry(meta.index_token).or_default().index = true;
        }
        for &base in meta.log.iter().flat_map(|l| l.base_chain.iter()) {
            kept.entry(base).or_default().snapshot = true;
        }
    }
    kept
}

/// Checks checkpoint `token`: its metadata, that it belongs to this store and log (and the
/// segments it needs), its index snapshot and its log snapshot.
fn verify_checkpoint(
    survey: &Survey,
    manifest: Option<&Manifest>,
    cdir: &CheckpointDir,
    token: CheckpointToken,
    findings: &mut Vec<Finding>,
) {
    let tdir = cdir.token_dir(token);
    let meta = match cdir.read(token) {
        Ok(meta) => meta,
        Err(e) => {
            let file = match &e {
                faster_cpr::CheckpointFileError::Corrupt { path, .. }
                | faster_cpr::CheckpointFileError::Io { path, .. } => path.clone(),
                _ => tdir.join(faster_cpr::COMPLETE_FILE),
            };
            findings.push(Finding {
                range: 0..len_of(&file),
                file,
                problem: e.to_string(),
            });
            return;
        }
    };
    if let Some(manifest) = manifest {
        let file = tdir.join(faster_cpr::META_FILE);
        if let Some(problem) = survey.foreign(&meta, manifest) {
            findings.push(Finding {
                range: 0..len_of(&file),
                file,
                problem,
            });
            return;
        }
        if survey.log_in_dir {
            findings.extend(check_log(survey, manifest, &meta));
        }
    }
    if meta.index.is_some() {
        findings.extend(verify_index_file(&tdir));
    }
    if meta
        .log
        .as_ref()
        .is_some_and(|l| l.kind != LogCheckpointKind::FoldOver)
    {
        findings.extend(verify_snapshot(cdir, token));
    }
}

/// Checks that the log segments checkpoint `meta` needs are present, of this log and long
/// enough: the bytes from its begin address to its snapshot's start (its final address for a
/// fold-over).
fn check_log(survey: &Survey, manifest: &Manifest, meta: &CheckpointMeta) -> Option<Finding> {
    let log = meta.log.as_ref()?;
    let (from, to) = (log.begin, log.snapshot_start.max(log.begin));
    if to <= from {
        return None;
    }
    let e = survey.log_files(manifest).check_present(from, to).err()?;
    let needs = format!(
        "checkpoint {} needs log bytes {from:#x}..{to:#x}",
        meta.token
    );
    let segment_size = manifest.segment_size;
    Some(match e {
        DeviceError::MissingData { path, offset } => {
            let start = offset / segment_size * segment_size;
            let end = to.min(start.saturating_add(segment_size));
            let file_offset = |o: u64| SEGMENT_HEADER_BYTES + (o - start);
            let (range, what) = if path.exists() {
                (
                    file_offset(offset)..file_offset(end),
                    format!("the file is too short (it ends at byte {})", len_of(&path)),
                )
            } else {
                (0..0, "the file is missing".to_owned())
            };
            Finding {
                file: path,
                range,
                problem: format!("{needs}: {what}"),
            }
        }
        DeviceError::ForeignSegment { path, found, .. } => Finding {
            range: 0..len_of(&path).min(SEGMENT_HEADER_BYTES),
            file: path,
            problem: format!("{needs}: the file belongs to another log ({found:032x})"),
        },
        DeviceError::BadSegment { path, reason } => Finding {
            range: 0..len_of(&path).min(SEGMENT_HEADER_BYTES),
            file: path,
            problem: format!("{needs}: {reason}"),
        },
        other => Finding {
            file: survey.dir.clone(),
            range: 0..0,
            problem: format!("{needs}: {other}"),
        },
    })
}

/// Checks the index snapshot file of checkpoint directory `tdir`: its segment header (as
/// recovery's device checks it), then the snapshot after it. Ranges are offsets in the file.
fn verify_index_file(tdir: &Path) -> Option<Finding> {
    let file = tdir.join(INDEX_SEGMENT_FILE);
    let finding = |range, problem| {
        Some(Finding {
            file: file.clone(),
            range,
            problem,
        })
    };
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) => return finding(0..0, e.to_string()),
    };
    let header = SEGMENT_HEADER_BYTES;
    match index_files(tdir).check_segment_file(0, &file) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return finding(
                0..bytes.len() as u64,
                "no segment header and no data".into(),
            );
        }
        Err(e) => {
            return finding(
                0..header.min(bytes.len() as u64),
                format!("segment header: {e}"),
            );
        }
    }
    let snapshot = bytes.get(header as usize..).unwrap_or(&[]);
    let Err(e) = faster_index::HashIndex::from_snapshot_bytes(snapshot, faster_epoch::Epoch::new())
    else {
        return None;
    };
    let snapshot_header = faster_index::SNAPSHOT_HEADER_BYTES as u64;
    let range = match faster_index::parse_snapshot_header(snapshot) {
        Err(_) => 0..snapshot_header.min(snapshot.len() as u64),
        Ok(h) => {
            let start = h.total_length() - h.padded_data_length();
            start..h.total_length().min(snapshot.len() as u64)
        }
    };
    finding(range.start + header..range.end + header, e.to_string())
}

/// Reads checkpoint `token`'s snapshot file chunk by chunk; the first bad chunk's byte range,
/// if any. A chunk is at most a page long; the bound here is the file's length (a longer
/// chunk is damage either way, and the checksums catch the rest).
fn verify_snapshot(cdir: &CheckpointDir, token: CheckpointToken) -> Option<Finding> {
    let file = cdir.token_dir(token).join(SNAPSHOT_FILE);
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) => {
            return Some(Finding {
                file,
                range: 0..0,
                problem: e.to_string(),
            });
        }
    };
    let mut cursor = std::io::Cursor::new(bytes.as_slice());
    let mut reader = match SnapshotReader::open(&mut cursor, token, bytes.len()) {
        Ok(reader) => reader,
        Err(e) => {
            return Some(Finding {
                file,
                range: 0..32.min(bytes.len() as u64),
                problem: e.to_string(),
            });
        }
    };
    let mut at = 32u64;
    loop {
        match reader.next_chunk() {
            Ok(Some(chunk)) => at += 24 + chunk.data.len() as u64,
            Ok(None) => return None,
            Err(e) => {
                return Some(Finding {
                    file,
                    range: at..bytes.len() as u64,
                    problem: e.to_string(),
                });
            }
        }
    }
}
