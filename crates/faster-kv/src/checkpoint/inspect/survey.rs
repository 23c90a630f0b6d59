//! Reading a store's directory for inspection: the manifest (or why the directory is not a
//! store), where the checkpoints are, and every log segment file with its header checked as
//! an open checks it — with plain reads only.

use std::path::{Path, PathBuf};

use faster_cpr::{CheckpointDir, CheckpointMeta};
use faster_device::{DeviceError, FileDevice, FileDeviceBuilder};

use super::report::{CheckpointEntry, InspectError, SegmentEntry, SegmentState};
use crate::error::OpenError;
use crate::manifest::{Manifest, remembered_checkpoint_dir};
use crate::store_dir::LOG_PREFIX;

/// A segment file, and the error an open of the log would return for it.
pub(super) struct Segment {
    pub(super) entry: SegmentEntry,
    pub(super) error: Option<DeviceError>,
}

/// What a store's directory holds, read once.
pub(super) struct Survey {
    pub(super) dir: PathBuf,
    pub(super) manifest: Result<Option<Manifest>, OpenError>,
    pub(super) segments: Vec<Segment>,
    /// The checkpoint directory.
    pub(super) root: PathBuf,
    /// Whether the log's segment files are in `dir` (else the store's log is on a device of
    /// its owner's, and `dir` is its checkpoint directory).
    pub(super) log_in_dir: bool,
}

fn io_error(e: OpenError, dir: &Path) -> InspectError {
    match e {
        OpenError::Io { path, source } => InspectError::Io { path, source },
        other => InspectError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

impl Survey {
    /// Reads `dir`'s manifest and segment files.
    pub(super) fn read(dir: &Path) -> Result<Self, InspectError> {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(InspectError::NotADirectory {
                    dir: dir.to_path_buf(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(InspectError::Missing {
                    dir: dir.to_path_buf(),
                });
            }
            Err(source) => {
                return Err(InspectError::Io {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }
        let manifest = Manifest::read(dir);
        if let Ok(None) = manifest
            && let Some(reason) =
                crate::store_dir::not_a_store(dir).map_err(|e| io_error(e, dir))?
        {
            return Err(InspectError::NotAStore {
                dir: dir.to_path_buf(),
                reason,
            });
        }
        let (root, log_in_dir) =
            checkpoint_root(dir, manifest.as_ref().ok().and_then(Option::as_ref));
        let mut survey = Self {
            dir: dir.to_path_buf(),
            manifest,
            segments: Vec::new(),
            root,
            log_in_dir,
        };
        if log_in_dir {
            survey.segments = survey.read_segments()?;
        }
        Ok(survey)
    }

    /// The log's segment files as an open of the store would find them: named for the log,
    /// of the manifest's segment size, carrying its log identity.
    pub(super) fn log_files(&self, manifest: &Manifest) -> FileDeviceBuilder {
        FileDevice::builder(&self.dir)
            .prefix(LOG_PREFIX)
            .segment_size(manifest.segment_size)
            .identity(manifest.log_id)
    }

    fn read_segments(&self) -> Result<Vec<Segment>, InspectError> {
        let manifest = self.manifest.as_ref().ok().and_then(Option::as_ref);
        let files = manifest.map(|m| self.log_files(m));
        let listed = FileDevice::builder(&self.dir)
            .prefix(LOG_PREFIX)
            .segment_files()
            .map_err(|source| InspectError::Io {
                path: self.dir.clone(),
                source,
            })?;
        Ok(listed
            .into_iter()
            .map(|(index, path)| {
                let (state, error) = segment_state(files.as_ref(), index, &path);
                let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
                Segment {
                    entry: SegmentEntry {
                        index,
                        path,
                        bytes,
                        state,
                    },
                    error,
                }
            })
            .collect())
    }

    /// The checkpoint directory, when it exists (it is never created here).
    pub(super) fn checkpoint_dir(&self) -> Option<CheckpointDir> {
        if !self.root.is_dir() {
            return None;
        }
        // The root exists: `open` only checks that.
        CheckpointDir::open(&self.root).ok()
    }

    /// Every checkpoint directory, oldest first, with its metadata when it is complete.
    pub(super) fn checkpoints(&self) -> Result<Vec<CheckpointEntry>, InspectError> {
        let Some(cdir) = self.checkpoint_dir() else {
            return Ok(Vec::new());
        };
        let tokens = cdir.tokens().map_err(|e| io_error(e.into(), &self.root))?;
        let manifest = self.manifest.as_ref().ok().and_then(Option::as_ref);
        let entries: Vec<CheckpointEntry> = tokens
            .into_iter()
            .map(|token| {
                let bytes = std::fs::read_dir(cdir.token_dir(token))
                    .map(|d| {
                        d.flatten()
                            .filter_map(|e| e.metadata().ok())
                            .map(|m| m.len())
                            .sum()
                    })
                    .unwrap_or(0);
                let (meta, problem) = match cdir.read(token) {
                    Ok(meta) => {
                        let foreign = manifest.and_then(|m| self.foreign(&meta, m));
                        (Some(meta), foreign)
                    }
                    Err(e) => (None, Some(e.to_string())),
                };
                CheckpointEntry {
                    token,
                    meta,
                    problem,
                    bytes,
                }
            })
            .collect();
        Ok(name_retired(&cdir, entries))
    }

    /// Why checkpoint `meta` is not this store's, when it is not: another store's, or (in a
    /// store whose log is in the directory) taken of another log than the current one.
    pub(super) fn foreign(&self, meta: &CheckpointMeta, manifest: &Manifest) -> Option<String> {
        if meta.store_id != manifest.store_id {
            return Some(format!(
                "checkpoint of store {:032x}, not of this store ({:032x})",
                meta.store_id, manifest.store_id
            ));
        }
        match meta.log_id {
            Some(taken) if self.log_in_dir && taken != manifest.log_id => Some(format!(
                "checkpoint of log {taken:032x}, not of the store's log ({:032x})",
                manifest.log_id
            )),
            _ => None,
        }
    }
}

/// Says of each checkpoint without a completion marker whose files a complete checkpoint
/// uses (its index snapshot, or a snapshot of its incremental chain) that retention retired
/// it and keeps it for that checkpoint.
fn name_retired(cdir: &CheckpointDir, mut entries: Vec<CheckpointEntry>) -> Vec<CheckpointEntry> {
    let mut users = std::collections::BTreeMap::new();
    for entry in &entries {
        let Some(meta) = &entry.meta else { continue };
        // Entries come oldest first: each user named is the newest one.
        if meta.index_token != meta.token {
            users.insert(meta.index_token, meta.token);
        }
        for &base in meta.log.iter().flat_map(|l| l.base_chain.iter()) {
            users.insert(base, meta.token);
        }
    }
    for entry in &mut entries {
        let marker = cdir.token_dir(entry.token).join(faster_cpr::COMPLETE_FILE);
        if let (None, Some(user)) = (&entry.meta, users.get(&entry.token))
            && !marker.exists()
        {
            entry.problem = Some(format!(
                "retired (no completion marker): kept for checkpoint {user}, which uses its files"
            ));
        }
    }
    entries
}

/// Where the checkpoints of the store in `home` are, and whether its log is in `home`: the
/// directory its manifest names, else `home/checkpoints`; a store whose log is on a device of
/// its owner's keeps its checkpoints (and manifest) in `home` itself.
fn checkpoint_root(home: &Path, manifest: Option<&Manifest>) -> (PathBuf, bool) {
    if let Some(root) = manifest.and_then(|m| remembered_checkpoint_dir(home, &m.remembered)) {
        return (root, true);
    }
    let default = home.join("checkpoints");
    if default.is_dir() {
        return (default, true);
    }
    let holds_checkpoints = std::fs::read_dir(home).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("checkpoint-"))
    });
    if holds_checkpoints {
        (home.to_path_buf(), false)
    } else {
        (default, true)
    }
}

/// The state of segment file `index`, checked as an open checks it when the manifest says
/// what to expect (`files`), else its header alone; with the error an open would return.
fn segment_state(
    files: Option<&FileDeviceBuilder>,
    index: u64,
    path: &Path,
) -> (SegmentState, Option<DeviceError>) {
    let checked = match files {
        Some(files) => files.check_segment_file(index, path),
        None => faster_device::read_segment_header(path).and_then(|h| {
            if h.index == index {
                Ok(Some(h))
            } else {
                Err(DeviceError::BadSegment {
                    path: path.to_path_buf(),
                    reason: format!(
                        "the header says segment {}, the file name says segment {index}",
                        h.index
                    ),
                })
            }
        }),
    };
    match checked {
        Ok(Some(_)) => (SegmentState::Valid, None),
        Ok(None) => (SegmentState::CutShort, None),
        Err(e) => {
            let state = match &e {
                DeviceError::ForeignSegment { found, .. } => {
                    SegmentState::Foreign { identity: *found }
                }
                DeviceError::BadSegment { reason, .. } => SegmentState::Damaged {
                    reason: reason.clone(),
                },
                other => SegmentState::Unreadable {
                    error: other.to_string(),
                },
            };
            (state, Some(e))
        }
    }
}
