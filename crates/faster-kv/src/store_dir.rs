//! What a store's directory may hold before its manifest exists: [`not_a_store`] tells a
//! directory that is empty (or holds only what a creation cut short leaves) from one that
//! holds other files, for opening a store ([`check_empty`]) and for inspecting one.

use std::path::Path;

use crate::error::OpenError;
use crate::manifest::MANIFEST_FILE;
use crate::open::{LOG_PREFIX, io};

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
