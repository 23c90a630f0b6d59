//! Looking at a store's directory without opening it: the checkpoints and log segments it holds
//! ([`inspect`]), and every checksum and record checked ([`verify`]), as `faster inspect` and
//! `faster verify` print them.

use std::path::{Path, PathBuf};

use faster_cpr::{CheckpointDir, CheckpointMeta, SNAPSHOT_FILE};

use super::snapshot::SnapshotReader;

/// One checkpoint directory, as found.
#[derive(Debug, Clone)]
pub struct CheckpointEntry {
    /// The token (from the directory name).
    pub token: u64,
    /// Its metadata, when it is complete and valid.
    pub meta: Option<CheckpointMeta>,
    /// Why it does not count, when it does not.
    pub problem: Option<String>,
    /// Total bytes of its files.
    pub bytes: u64,
}

/// What a store directory holds.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// The directory.
    pub dir: PathBuf,
    /// Log segment files: (segment index, bytes).
    pub segments: Vec<(u64, u64)>,
    /// Checkpoints, oldest first.
    pub checkpoints: Vec<CheckpointEntry>,
}

/// Lists the log segments and checkpoints of the store in `dir` (files named `log.NNNNNNNN`,
/// checkpoints under `dir/checkpoints`).
///
/// # Errors
/// The operating system's error when `dir` cannot be listed.
pub fn inspect(dir: &Path) -> std::io::Result<Inventory> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(index) = name
            .strip_prefix("log.")
            .and_then(|n| n.parse::<u64>().ok())
        {
            segments.push((index, entry.metadata().map_or(0, |m| m.len())));
        }
    }
    segments.sort_unstable();
    let mut checkpoints = Vec::new();
    let root = dir.join("checkpoints");
    if root.is_dir() {
        let cdir = CheckpointDir::open(&root).map_err(std::io::Error::other)?;
        for token in cdir.tokens().map_err(std::io::Error::other)? {
            let bytes = std::fs::read_dir(cdir.token_dir(token))
                .map(|d| {
                    d.flatten()
                        .filter_map(|e| e.metadata().ok())
                        .map(|m| m.len())
                        .sum()
                })
                .unwrap_or(0);
            let (meta, problem) = match cdir.read(token) {
                Ok(meta) => (Some(meta), None),
                Err(e) => (None, Some(e.to_string())),
            };
            checkpoints.push(CheckpointEntry {
                token,
                meta,
                problem,
                bytes,
            });
        }
    }
    Ok(Inventory {
        dir: dir.to_path_buf(),
        segments,
        checkpoints,
    })
}

/// A problem [`verify`] found: the file, the byte range it concerns, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file.
    pub file: PathBuf,
    /// The first bad byte range in it (`start..end`).
    pub range: std::ops::Range<u64>,
    /// What is wrong.
    pub problem: String,
}

/// Checks every checkpoint of the store in `dir` with a completion marker: the metadata and
/// marker envelopes, the index snapshot's checksums and structure, and every chunk of every
/// snapshot file. Returns the first problem of each damaged file; empty means all is well.
/// Incomplete checkpoints (no marker) are reported too, as they are not recoverable.
///
/// # Errors
/// The operating system's error when `dir` cannot be listed.
pub fn verify(dir: &Path) -> std::io::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let root = dir.join("checkpoints");
    if !root.is_dir() {
        return Ok(findings);
    }
    let cdir = CheckpointDir::open(&root).map_err(std::io::Error::other)?;
    for token in cdir.tokens().map_err(std::io::Error::other)? {
        let tdir = cdir.token_dir(token);
        let meta = match cdir.read(token) {
            Ok(meta) => meta,
            Err(e) => {
                let file = match &e {
                    faster_cpr::CheckpointError::Corrupt { path, .. }
                    | faster_cpr::CheckpointError::Io { path, .. } => path.clone(),
                    _ => tdir.join(faster_cpr::COMPLETE_FILE),
                };
                let len = std::fs::metadata(&file).map_or(0, |m| m.len());
                findings.push(Finding {
                    file,
                    range: 0..len,
                    problem: e.to_string(),
                });
                continue;
            }
        };
        if meta.index.is_some() {
            let file = tdir.join("index.00000000");
            match std::fs::read(&file) {
                Ok(bytes) => findings.extend(verify_index_file(&file, &bytes)),
                Err(e) => findings.push(Finding {
                    file,
                    range: 0..0,
                    problem: e.to_string(),
                }),
            }
        }
        if meta
            .log
            .as_ref()
            .is_some_and(|l| l.kind != faster_cpr::LogCheckpointKind::FoldOver)
        {
            let file = tdir.join(SNAPSHOT_FILE);
            if let Some(finding) = verify_snapshot(&file, token) {
                findings.push(finding);
            }
        }
    }
    Ok(findings)
}

/// Checks an index snapshot file: the device's segment header, then the snapshot after it.
/// Ranges are offsets in the file.
fn verify_index_file(file: &Path, bytes: &[u8]) -> Option<Finding> {
    let header = faster_device::SEGMENT_HEADER_BYTES;
    if let Err(e) = faster_device::SegmentHeader::decode(bytes) {
        return Some(Finding {
            file: file.to_path_buf(),
            range: 0..header.min(bytes.len() as u64),
            problem: format!("segment header: {e}"),
        });
    }
    let snapshot = &bytes[header as usize..];
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
    Some(Finding {
        file: file.to_path_buf(),
        range: range.start + header..range.end + header,
        problem: e.to_string(),
    })
}

/// Reads a snapshot file chunk by chunk; the first bad chunk's byte range, if any. A chunk is
/// at most a page long; the page size is not recorded, so the bound here is the file's length
/// (a longer chunk is damage either way, and the checksums catch the rest).
fn verify_snapshot(file: &Path, token: u64) -> Option<Finding> {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) => {
            return Some(Finding {
                file: file.to_path_buf(),
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
                file: file.to_path_buf(),
                range: 0..32,
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
                let len = bytes.len() as u64;
                return Some(Finding {
                    file: file.to_path_buf(),
                    range: at..len,
                    problem: e.to_string(),
                });
            }
        }
    }
}
