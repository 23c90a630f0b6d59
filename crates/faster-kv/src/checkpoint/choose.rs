//! Choosing the checkpoint to recover (rule R11, step 1): the one asked for, or the newest
//! that checks out. Recovery and `faster inspect` run this same code, so that inspect names
//! the checkpoint recovery would take.
//!
//! A checkpoint checks out when its completion marker and metadata are valid, it belongs to
//! this store, the log bytes it needs are present and belong to the log it was taken of, its
//! index snapshot loads, and every snapshot file of its chain passes its checksums. Nothing is
//! written while choosing.
//!
//! Only proof of damage (a checksum, a length, a format version, contradictory contents) makes
//! the search move on to an older checkpoint. An I/O error proves nothing about the bytes: it
//! ends the search with [`OpenError::Io`] (or the device's error), so that a checkpoint that is
//! merely unreadable for now is neither skipped nor, later, retired. A checkpoint of another
//! store or of another incarnation of the log, or one whose log bytes are gone, also ends the
//! search: recovering an older one would serve a state the store has moved past.

use std::path::Path;

use faster_cpr::{
    CheckpointDir, CheckpointFileError, CheckpointMeta, CheckpointToken, LogCheckpointKind,
    SNAPSHOT_FILE,
};
use faster_index::{HashIndex, IndexError};

use super::snapshot::{ReadError, SnapshotChunk, SnapshotReader};
use crate::error::OpenError;

/// What a checkpoint must match to be recovered by this store.
pub(crate) struct Expect<'a> {
    /// The store's identity (its manifest's).
    pub(crate) store_id: u128,
    /// The identity of the log the store has now, if its device has one.
    pub(crate) log_id: Option<u128>,
    /// Whether the log's identity is compared even for a checkpoint that needs no bytes from
    /// the device (a store in a directory, whose log identity is fixed by its manifest; a log
    /// in memory gets a new one in every process, and a snapshot that holds the whole log
    /// still recovers over it).
    pub(crate) log_id_always: bool,
    /// The log's page size (the largest snapshot chunk).
    pub(crate) page_size: u64,
    /// Checks that the device holds the bytes `[from, to)` of the log.
    pub(crate) check_log: &'a dyn Fn(u64, u64) -> Result<(), OpenError>,
    /// Loads the index snapshot in a checkpoint's directory: recovery reads it through a
    /// device ([`read_index_snapshot`](super::jobs::read_index_snapshot)), inspection with
    /// plain reads that cannot write. Both must fail alike on the same bytes: damage as
    /// [`IndexError::Snapshot`] or a bad segment header, else an I/O error.
    pub(crate) load_index: &'a dyn Fn(&Path) -> Result<HashIndex, IndexError>,
}

/// The checkpoint chosen, its index snapshot loaded.
pub(crate) struct Chosen {
    pub(crate) meta: CheckpointMeta,
    pub(crate) index: HashIndex,
    /// Newer checkpoints passed over: damaged (with the reason) or incomplete.
    pub(crate) skipped: Vec<(CheckpointToken, String)>,
}

/// What [`choose`] found.
pub(crate) enum Choice {
    /// A checkpoint to recover.
    Chosen(Box<Chosen>),
    /// No checkpoint ever completed: nothing was durable. Incomplete ones are listed.
    Nothing { incomplete: Vec<CheckpointToken> },
}

/// Chooses checkpoint `token`, or the newest that checks out.
///
/// # Errors
/// For `token`: why it cannot be recovered. Without one: [`OpenError::NoCheckpoint`] when
/// complete checkpoints exist and every one is damaged; any error that is not damage, at
/// once.
pub(crate) fn choose(
    dir: &CheckpointDir,
    token: Option<CheckpointToken>,
    expect: &Expect<'_>,
) -> Result<Choice, OpenError> {
    if let Some(token) = token {
        let meta = dir.read(token)?;
        if meta.log.is_none() {
            return Err(OpenError::Damaged {
                path: dir.token_dir(token),
                source: faster_cpr::FormatError::Inconsistent(
                    "an index-only checkpoint cannot be recovered alone",
                ),
            });
        }
        let index = examine(dir, &meta, expect)?;
        return Ok(Choice::Chosen(Box::new(Chosen {
            meta,
            index,
            skipped: Vec::new(),
        })));
    }
    let mut skipped = Vec::new();
    let mut incomplete = Vec::new();
    let mut damaged = 0;
    for token in dir.tokens()?.into_iter().rev() {
        let meta = match dir.read(token) {
            Ok(meta) if meta.log.is_some() => meta,
            // Index-only checkpoints serve later log checkpoints; they are not recovered alone.
            Ok(_) => continue,
            Err(CheckpointFileError::NotFound { .. }) => {
                incomplete.push(token);
                skipped.push((token, "incomplete (no completion marker)".to_owned()));
                continue;
            }
            Err(e) => {
                let e = OpenError::from(e);
                if !e.is_damage() {
                    return Err(e);
                }
                damaged += 1;
                skipped.push((token, e.to_string()));
                continue;
            }
        };
        match examine(dir, &meta, expect) {
            Ok(index) => {
                return Ok(Choice::Chosen(Box::new(Chosen {
                    meta,
                    index,
                    skipped,
                })));
            }
            Err(e) if e.is_damage() => {
                damaged += 1;
                skipped.push((token, e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    if damaged > 0 {
        return Err(OpenError::NoCheckpoint {
            dir: dir.root().to_path_buf(),
            skipped,
        });
    }
    Ok(Choice::Nothing { incomplete })
}

/// Checks everything but the metadata itself (already read) and loads the index snapshot.
fn examine(
    dir: &CheckpointDir,
    meta: &CheckpointMeta,
    expect: &Expect<'_>,
) -> Result<HashIndex, OpenError> {
    let path = dir.token_dir(meta.token);
    if meta.store_id != expect.store_id {
        return Err(OpenError::Foreign {
            path,
            reason: format!(
                "checkpoint of store {:032x}, not of this store ({:032x})",
                meta.store_id, expect.store_id
            ),
        });
    }
    let Some(log) = &meta.log else {
        return Err(OpenError::Damaged {
            path,
            source: faster_cpr::FormatError::Inconsistent("no log part"),
        });
    };
    // The log bytes that must come from the device: below the snapshot's start (for a
    // fold-over, the snapshot start is the final address).
    let device_end = log.snapshot_start.max(log.begin);
    let needs_device = device_end > log.begin;
    if (needs_device || expect.log_id_always)
        && let (Some(taken), Some(now)) = (meta.log_id, expect.log_id)
        && taken != now
    {
        return Err(OpenError::Foreign {
            path,
            reason: format!(
                "checkpoint of log {taken:032x}, but the log's device now holds log \
                 {now:032x}: the log was started again or replaced since (a log on an \
                 in-memory device does not outlive its process)"
            ),
        });
    }
    if needs_device {
        (expect.check_log)(log.begin, device_end)?;
    }
    let index_dir = dir.token_dir(meta.index_token);
    let index = (expect.load_index)(&index_dir).map_err(|source| OpenError::Index {
        path: index_dir.clone(),
        source,
    })?;
    if log.kind != LogCheckpointKind::FoldOver {
        each_snapshot_chunk(dir, meta, expect.page_size, |_, _| Ok(()))?;
    }
    Ok(index)
}

/// Reads the snapshot chain of `meta` (base first, then each increment), checking every
/// file's checksums, and hands each chunk to `f` with its file's path.
pub(crate) fn each_snapshot_chunk(
    dir: &CheckpointDir,
    meta: &CheckpointMeta,
    page_size: u64,
    mut f: impl FnMut(&Path, SnapshotChunk) -> Result<(), OpenError>,
) -> Result<(), OpenError> {
    let Some(log) = &meta.log else { return Ok(()) };
    for token in log.base_chain.iter().copied().chain([meta.token]) {
        let path = dir.token_dir(token).join(SNAPSHOT_FILE);
        let file = std::fs::File::open(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                // A file the completed checkpoint wrote is gone: that is damage, not an
                // unreadable file.
                OpenError::Damaged {
                    path: path.clone(),
                    source: faster_cpr::FormatError::Truncated { needed: 1, got: 0 },
                }
            } else {
                OpenError::Io {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        let error = |e: ReadError| match e {
            ReadError::Format(source) => OpenError::Damaged {
                path: path.clone(),
                source,
            },
            ReadError::Io(source) => OpenError::Io {
                path: path.clone(),
                source,
            },
        };
        let mut reader =
            SnapshotReader::open(std::io::BufReader::new(file), token, page_size as usize)
                .map_err(error)?;
        while let Some(chunk) = reader.next_chunk().map_err(error)? {
            f(&path, chunk)?;
        }
    }
    Ok(())
}
