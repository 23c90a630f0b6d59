//! A log in a directory ([`FasterLog::builder_in_dir`](crate::FasterLog::builder_in_dir)):
//! the lock, the manifest, and the two file devices.
//!
//! Opening a directory, in this order:
//!
//! 1. The directory is created if missing, then locked (`lock.rs`) before anything in it is
//!    read; the lock is held for the life of the log (it drops last, with the log's shared
//!    state, after the devices are closed).
//! 2. With a `MANIFEST`, every shaping setting the builder sets must equal the recorded one
//!    ([`LogOpenError::SettingMismatch`]); the ones it leaves unset are taken from the manifest.
//! 3. Without one, the directory must be empty apart from the lock file and a `MANIFEST.tmp`
//!    left by a creation cut short (removed). Then the log is created: a manifest with a
//!    fresh identity and the builder's settings (or their defaults) is written durably
//!    before any other file of the log.
//! 4. The log device (`log.NNNNNNNN`) and the commit device (`commit.NNNNNNNN`) are opened
//!    with the manifest's identity, so segment files of another log are refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use faster_device::{Device, DeviceError, FileDevice, LOCK_FILE};

use crate::error::LogOpenError;
use crate::lock::{HeldLock, acquire};
use crate::manifest::{LogManifest, MANIFEST_FILE, ManifestError};

/// Prefix of the log device's segment files.
pub(crate) const LOG_PREFIX: &str = "log";
/// Prefix of the commit device's segment files.
pub(crate) const COMMIT_PREFIX: &str = "commit";

/// Default page size bits ([`crate::FasterLogBuilder::page_size_bits`]).
pub(crate) const DEFAULT_PAGE_SIZE_BITS: u32 = 22;
/// Default segment size ([`crate::FasterLogBuilder::segment_size`]).
pub(crate) const DEFAULT_SEGMENT_SIZE: u64 = 1 << 30;
/// Default metadata slot size ([`crate::FasterLogBuilder::commit_slot_size`]).
pub(crate) const DEFAULT_COMMIT_SLOT_SIZE: u64 = 64 << 10;

/// The settings that shape a log's bytes, as the builder set them (`None`: left unset).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Shape {
    pub(crate) page_size_bits: Option<u32>,
    pub(crate) segment_size: Option<u64>,
    pub(crate) commit_slot_size: Option<u64>,
}

impl Shape {
    /// The settings with the defaults filled in, for a new log.
    fn or_defaults(&self, identity: u128) -> LogManifest {
        LogManifest {
            identity,
            page_size_bits: self.page_size_bits.unwrap_or(DEFAULT_PAGE_SIZE_BITS),
            segment_size: self.segment_size.unwrap_or(DEFAULT_SEGMENT_SIZE),
            commit_slot_size: self.commit_slot_size.unwrap_or(DEFAULT_COMMIT_SLOT_SIZE),
        }
    }

    /// Refuses a setting that contradicts `stored`.
    fn check_against(&self, stored: &LogManifest) -> Result<(), LogOpenError> {
        let pairs = [
            (
                "page_size_bits",
                self.page_size_bits.map(u64::from),
                u64::from(stored.page_size_bits),
            ),
            ("segment_size", self.segment_size, stored.segment_size),
            (
                "commit_slot_size",
                self.commit_slot_size,
                stored.commit_slot_size,
            ),
        ];
        for (setting, requested, stored) in pairs {
            if let Some(requested) = requested.filter(|&r| r != stored) {
                return Err(LogOpenError::SettingMismatch {
                    setting,
                    stored: stored.to_string(),
                    requested: requested.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// A locked log directory and its manifest.
#[derive(Debug)]
pub(crate) struct Home {
    dir: PathBuf,
    lock: HeldLock,
    manifest: LogManifest,
}

impl Home {
    /// Locks `dir`, then reads its manifest or creates the log (see the module docs).
    ///
    /// # Errors
    /// [`LogOpenError::Locked`], [`LogOpenError::NotALog`], [`LogOpenError::Manifest`],
    /// [`LogOpenError::SettingMismatch`], [`LogOpenError::InvalidSetting`] for a new log's
    /// out-of-range setting, and [`LogOpenError::Io`] naming the file or directory that failed.
    pub(crate) fn open(dir: &Path, requested: &Shape) -> Result<Self, LogOpenError> {
        std::fs::create_dir_all(dir).map_err(|e| LogOpenError::io(dir, e))?;
        let lock = acquire(dir)?;
        let manifest = match LogManifest::read(dir)? {
            Some(stored) => {
                requested.check_against(&stored)?;
                stored
            }
            None => {
                check_empty(dir)?;
                let manifest = requested.or_defaults(faster_device::fresh_identity());
                manifest.check().map_err(|e| match e {
                    ManifestError::OutOfRange { setting, reason } => {
                        LogOpenError::invalid(setting, reason)
                    }
                    other => LogOpenError::invalid("builder", other.to_string()),
                })?;
                manifest.write(dir)?;
                manifest
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            lock,
            manifest,
        })
    }

    /// What the log's manifest records.
    pub(crate) fn manifest(&self) -> &LogManifest {
        &self.manifest
    }

    /// The log device and the commit device, carrying the manifest's identity.
    ///
    /// # Errors
    /// [`LogOpenError::DirDevice`] naming the directory.
    pub(crate) fn devices(
        &self,
        direct_io: bool,
        preallocate: bool,
    ) -> Result<[Arc<dyn Device>; 2], LogOpenError> {
        let m = &self.manifest;
        let log = FileDevice::builder(&self.dir)
            .prefix(LOG_PREFIX)
            .identity(m.identity)
            .segment_size(m.segment_size)
            .direct_io(direct_io)
            .preallocate(preallocate)
            .open()
            .map_err(|e| self.device_error(e))?;
        let commit = FileDevice::builder(&self.dir)
            .prefix(COMMIT_PREFIX)
            .identity(m.identity)
            .direct_io(direct_io)
            .segment_size(commit_segment_size(m.commit_slot_size))
            .io_threads(1)
            .max_io_threads(2)
            .open()
            .map_err(|e| self.device_error(e))?;
        Ok([Arc::new(log), Arc::new(commit)])
    }

    /// A device error of this directory's log.
    pub(crate) fn device_error(&self, source: DeviceError) -> LogOpenError {
        LogOpenError::DirDevice {
            dir: self.dir.clone(),
            source,
        }
    }

    /// The lock, to be held by the open log.
    pub(crate) fn into_lock(self) -> HeldLock {
        self.lock
    }
}

/// The commit device's segment size: both slots in one segment file.
fn commit_segment_size(slot_size: u64) -> u64 {
    slot_size
        .saturating_mul(2)
        .checked_next_power_of_two()
        .unwrap_or(1 << 63)
        .max(faster_device::FILE_SECTOR_SIZE as u64)
}

/// Refuses a directory without a manifest that holds anything but what a creation cut short
/// leaves (the lock file; a temporary manifest, which is removed).
fn check_empty(dir: &Path) -> Result<(), LogOpenError> {
    let list_error = |e| LogOpenError::io(dir, e);
    let mut log_files = Vec::new();
    let mut other = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list_error)? {
        let entry = entry.map_err(list_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == LOCK_FILE {
            continue;
        }
        if name == format!("{MANIFEST_FILE}.tmp") {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| LogOpenError::io(&path, e))?;
            continue;
        }
        if name.starts_with(&format!("{LOG_PREFIX}."))
            || name.starts_with(&format!("{COMMIT_PREFIX}."))
        {
            log_files.push(name);
        } else {
            other.push(name);
        }
    }
    let list = |mut names: Vec<String>| {
        names.sort();
        let more = names.len().saturating_sub(5);
        names.truncate(5);
        let mut text = names.join(", ");
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    };
    if !log_files.is_empty() {
        return Err(LogOpenError::NotALog {
            dir: dir.to_path_buf(),
            reason: format!(
                "it holds log files ({}) but no {MANIFEST_FILE}: written by an earlier build of \
                 faster-log, which this build does not read, or its manifest was removed",
                list(log_files)
            ),
        });
    }
    if !other.is_empty() {
        return Err(LogOpenError::NotALog {
            dir: dir.to_path_buf(),
            reason: format!(
                "it holds no {MANIFEST_FILE} and is not empty ({})",
                list(other)
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_segment_holds_both_slots() {
        assert_eq!(commit_segment_size(64 << 10), 128 << 10);
        assert_eq!(commit_segment_size(4096), 8192);
        assert_eq!(commit_segment_size(12 << 10), 32 << 10);
    }

    #[test]
    fn only_set_settings_are_compared() {
        let stored = Shape::default().or_defaults(1);
        assert!(Shape::default().check_against(&stored).is_ok());
        let same = Shape {
            segment_size: Some(DEFAULT_SEGMENT_SIZE),
            ..Shape::default()
        };
        assert!(same.check_against(&stored).is_ok());
        let other = Shape {
            commit_slot_size: Some(8192),
            ..Shape::default()
        };
        match other.check_against(&stored) {
            Err(LogOpenError::SettingMismatch {
                setting,
                stored,
                requested,
            }) => {
                assert_eq!(setting, "commit_slot_size");
                assert_eq!((stored.as_str(), requested.as_str()), ("65536", "8192"));
            }
            other => panic!("{other:?}"),
        }
    }
}
