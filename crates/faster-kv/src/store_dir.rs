//! A store's directory: what it may hold before its manifest exists ([`not_a_store`], for
//! opening a store — [`check_empty`] — and for inspecting one), its locks ([`Locks`], taken
//! before anything in it is read or written), the log's device in it ([`open_device`]) and
//! the identities a store's checkpoints record ([`Home`]).

use std::path::Path;
use std::sync::Arc;

use faster_cpr::CheckpointDir;
use faster_device::{Device, DeviceError, DirLock, FileDevice, LockError, MemDevice};

use crate::config::Storage;
use crate::error::OpenError;
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::settings::Settings;

/// The identities every checkpoint of a store records: the store's, and its log's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Identity {
    pub(crate) store_id: u128,
    pub(crate) log_id: Option<u128>,
}

/// The temporary manifest a creation writes before renaming it into place.
fn manifest_tmp() -> String {
    format!("{MANIFEST_FILE}.tmp")
}

/// Why `home`, which has no manifest, cannot become or be read as a store: `None` when it
/// is empty but for the lock file, a temporary manifest and an empty `checkpoints`
/// directory. Nothing is changed.
///
/// # Errors
/// [`OpenError::Io`] when the directory cannot be listed.
pub(crate) fn not_a_store(home: &Path) -> Result<Option<String>, OpenError> {
    let mut foreign = Vec::new();
    let mut store_files = Vec::new();
    for entry in std::fs::read_dir(home).map_err(io(home))? {
        let entry = entry.map_err(io(home))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == faster_device::LOCK_FILE || name == manifest_tmp() {
            continue;
        }
        let path = entry.path();
        if name == "checkpoints" && is_empty_dir(&path)? {
            continue;
        }
        let is_store_file = name.starts_with(&format!("{LOG_PREFIX}."))
            || name.starts_with("checkpoint-")
            || name == "checkpoints";
        if is_store_file {
            store_files.push(name);
        } else {
            foreign.push(name);
        }
    }
    if !store_files.is_empty() {
        store_files.sort();
        return Ok(Some(format!(
            "it holds {} but no {MANIFEST_FILE}: written by an earlier version of faster-kv \
             (which this build does not read), or its manifest was removed",
            store_files.join(", ")
        )));
    }
    if !foreign.is_empty() {
        foreign.sort();
        foreign.truncate(5);
        return Ok(Some(format!(
            "it is not empty and holds no {MANIFEST_FILE} ({} …)",
            foreign.join(", ")
        )));
    }
    Ok(None)
}

/// Refuses a directory with files that are not a new store's; removes the temporary
/// manifest of a creation cut short before the manifest was in place.
pub(crate) fn check_empty(home: &Path) -> Result<(), OpenError> {
    let tmp = home.join(manifest_tmp());
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(OpenError::Io { path: tmp, source }),
    }
    match not_a_store(home)? {
        Some(reason) => Err(OpenError::NotAStore {
            dir: home.to_path_buf(),
            reason,
        }),
        None => Ok(()),
    }
}

fn is_empty_dir(path: &Path) -> Result<bool, OpenError> {
    if !path.is_dir() {
        return Ok(false);
    }
    Ok(std::fs::read_dir(path).map_err(io(path))?.next().is_none())
}

/// The prefix of the log's segment files in a store's directory.
pub(crate) const LOG_PREFIX: &str = "log";

/// The locks a store holds for its life.
#[derive(Debug)]
pub(crate) struct Locks {
    _home: DirLock,
    _checkpoints: Option<DirLock>,
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn lock(dir: &Path) -> Result<DirLock, OpenError> {
    DirLock::acquire(dir).map_err(|e| match e {
        LockError::Locked { dir, holder } => OpenError::Locked { dir, holder },
        LockError::Io { path, source } => OpenError::Io { path, source },
        other => OpenError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    })
}

/// Starts the log of the store in `dir` afresh: removes its segment files, then names a new
/// log in the manifest, then opens the device for it. The old segment files go before the
/// manifest names a new log: a crash in between leaves fewer files of the old log, which the
/// next open removes too.
pub(crate) fn restart_log(
    dir: &Path,
    home: &Path,
    manifest: &mut Manifest,
    settings: &Settings,
    device: Arc<dyn Device>,
) -> Result<Arc<dyn Device>, OpenError> {
    device.close();
    drop(device);
    remove_segments(dir, settings.segment_size)?;
    manifest.log_id = faster_device::fresh_identity();
    manifest.write(home)?;
    open_device(
        &Storage::Dir(dir.to_path_buf()),
        settings,
        Some(manifest.log_id),
    )
}

/// The error of recovery for a log check that failed: log bytes missing or of another log are
/// [`OpenError::LogMissing`]; anything else is the device's error.
pub(crate) fn log_error(e: DeviceError) -> OpenError {
    match e {
        e @ (DeviceError::MissingData { .. } | DeviceError::ForeignSegment { .. }) => {
            OpenError::LogMissing { source: e }
        }
        other => OpenError::Device(other),
    }
}

/// A store's directory as the store holds it: its locks and identities.
#[derive(Debug)]
pub(crate) struct Home {
    pub(crate) locks: Locks,
    pub(crate) identity: Identity,
}

impl Home {
    pub(crate) fn new(
        (home, checkpoints): (DirLock, Option<DirLock>),
        storage: &Storage,
        manifest: &Manifest,
        device: &dyn Device,
    ) -> Self {
        Self {
            locks: Locks {
                _home: home,
                _checkpoints: checkpoints,
            },
            identity: identity(storage, manifest, device),
        }
    }
}

/// The identities checkpoints record: the store's, and its log's (the manifest's for a store
/// in a directory, the device's own otherwise).
pub(crate) fn identity(storage: &Storage, manifest: &Manifest, device: &dyn Device) -> Identity {
    Identity {
        store_id: manifest.store_id,
        log_id: match storage {
            Storage::Dir(_) => Some(manifest.log_id),
            _ => device.identity(),
        },
    }
}

/// Opens the log's device; a store in a directory gets its segment files there, carrying the
/// log identity `log_id`.
pub(crate) fn open_device(
    storage: &Storage,
    settings: &Settings,
    log_id: Option<u128>,
) -> Result<Arc<dyn Device>, OpenError> {
    Ok(match storage {
        Storage::Device(device) => Arc::clone(device),
        Storage::Memory => Arc::new(
            MemDevice::builder()
                .segment_size(settings.segment_size)
                .build()?,
        ),
        Storage::Dir(dir) => {
            let mut builder = FileDevice::builder(dir)
                .prefix(LOG_PREFIX)
                .segment_size(settings.segment_size)
                .direct_io(settings.direct_io);
            if let Some(id) = log_id {
                builder = builder.identity(id);
            }
            builder
                .open_auto()
                .map_err(|source| OpenError::Segments {
                    dir: dir.clone(),
                    source,
                })?
                .0
        }
    })
}

/// Removes the log's segment files from `dir`.
fn remove_segments(dir: &Path, segment_size: u64) -> Result<(), OpenError> {
    let files = FileDevice::builder(dir)
        .prefix(LOG_PREFIX)
        .segment_size(segment_size)
        .segment_files()
        .map_err(io(dir))?;
    for (_, path) in files {
        std::fs::remove_file(&path).map_err(io(&path))?;
    }
    faster_device::sync_dir(dir).map_err(OpenError::from)
}

/// Locks the checkpoint directory when it lies outside the store's directory, then checks on
/// creation that it holds no checkpoints (they would belong to another store).
pub(crate) fn lock_checkpoint_dir(
    home: &Path,
    settings: &Settings,
    creating: bool,
) -> Result<Option<DirLock>, OpenError> {
    let Some(root) = &settings.checkpoint_dir else {
        return Ok(None);
    };
    let held = if root.starts_with(home) {
        None
    } else {
        std::fs::create_dir_all(root).map_err(io(root))?;
        Some(lock(root)?)
    };
    if creating && !CheckpointDir::open(root)?.tokens()?.is_empty() {
        return Err(OpenError::NotAStore {
            dir: home.to_path_buf(),
            reason: format!(
                "its checkpoint directory {} holds checkpoints of another store",
                root.display()
            ),
        });
    }
    Ok(held)
}
