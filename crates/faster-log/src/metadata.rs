//! The commit metadata: two alternating slots on the commit device (rule L5).
//!
//! Commit `n` is written to slot `n mod 2`, padded to whole sectors, then the device is
//! flushed. A write torn by a crash damages only the slot being written, whose record then
//! fails its checksum; the other slot still holds the previous commit, which is what
//! recovery uses. The commit that was being written had not returned, so nothing is lost
//! that was promised.

use std::sync::Arc;

use faster_device::{AlignedBuf, Device, DeviceError, DeviceExt};

use crate::commit_record::{COMMIT_HEADER_SIZE, CommitRecord, CommitRecordError};
use crate::error::LogOpenError;

/// The two metadata slots on a commit device.
pub(crate) struct MetadataStore {
    device: Arc<dyn Device>,
    slot_size: u64,
    sector_size: usize,
}

impl std::fmt::Debug for MetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataStore")
            .field("slot_size", &self.slot_size)
            .finish()
    }
}

/// What one slot holds.
enum Slot {
    Empty,
    Valid(CommitRecord),
    Invalid(CommitRecordError),
}

impl MetadataStore {
    /// Slots of `slot_size` bytes on `device`.
    pub(crate) fn new(device: Arc<dyn Device>, slot_size: u64) -> Result<Self, LogOpenError> {
        let geometry = device.geometry();
        let sector = geometry.sector_size as u64;
        if slot_size < COMMIT_HEADER_SIZE as u64
            || !slot_size.is_multiple_of(sector)
            || usize::try_from(slot_size).is_err()
        {
            return Err(LogOpenError::invalid(
                "commit_slot_size",
                format!(
                    "{slot_size} must be a multiple of the commit device's sector ({sector} \
                     bytes) and at least {COMMIT_HEADER_SIZE}"
                ),
            ));
        }
        if geometry.capacity.is_some_and(|c| c < 2 * slot_size) {
            return Err(LogOpenError::invalid(
                "commit_slot_size",
                format!("the commit device holds fewer than two slots of {slot_size} bytes"),
            ));
        }
        Ok(Self {
            device,
            slot_size,
            sector_size: geometry.sector_size,
        })
    }

    /// Closes the commit device: later writes are refused.
    pub(crate) fn close(&self) {
        self.device.close();
    }

    /// The longest record a slot holds.
    pub(crate) fn max_record_len(&self) -> usize {
        usize::try_from(self.slot_size).unwrap_or(usize::MAX)
    }

    fn read_slot(&self, index: u64) -> Result<Slot, DeviceError> {
        let mut buf = AlignedBuf::options()
            .alignment(4096.max(self.sector_size))
            .zeroed(self.max_record_len())?;
        self.device
            .read_blocking(index * self.slot_size, &mut buf)?;
        if buf.iter().all(|&b| b == 0) {
            return Ok(Slot::Empty);
        }
        Ok(match CommitRecord::decode(&buf) {
            Ok(record) => Slot::Valid(record),
            Err(e) => Slot::Invalid(e),
        })
    }

    /// The newest valid commit record, or `None` for a log never opened on this device.
    ///
    /// A slot that fails validation is ignored when the other is valid (a torn last write).
    /// When neither is valid: both empty, or slot 1 damaged and slot 0 empty — the very
    /// first write (commit 1 goes to slot 1) was torn before `open` returned — is a new log;
    /// anything else is [`LogOpenError::CorruptMetadata`].
    pub(crate) fn read_latest(&self) -> Result<Option<CommitRecord>, LogOpenError> {
        let slots = [self.read_slot(0)?, self.read_slot(1)?];
        match slots {
            [Slot::Valid(a), Slot::Valid(b)] => {
                Ok(Some(if a.sequence >= b.sequence { a } else { b }))
            }
            [Slot::Valid(r), _] | [_, Slot::Valid(r)] => Ok(Some(r)),
            [Slot::Empty, Slot::Empty] | [Slot::Empty, Slot::Invalid(_)] => Ok(None),
            [slot0, slot1] => {
                let reason = |slot| match slot {
                    Slot::Invalid(e) => e,
                    // An all-zero slot beside a damaged one: report what decoding it says.
                    _ => CommitRecordError::BadMagic { found: [0; 8] },
                };
                Err(LogOpenError::CorruptMetadata {
                    slot0: reason(slot0),
                    slot1: reason(slot1),
                })
            }
        }
    }

    /// Writes `record` to slot `sequence mod 2` and flushes the device.
    ///
    /// # Errors
    /// The device's error; [`DeviceError::InvalidConfig`] when the record exceeds a slot
    /// (prevented earlier: named iterators are refused when they would not fit).
    pub(crate) fn write(&self, record: &CommitRecord) -> Result<(), DeviceError> {
        let bytes = record.encode();
        if bytes.len() as u64 > self.slot_size {
            return Err(DeviceError::InvalidConfig {
                reason: format!(
                    "a commit record of {} bytes exceeds the metadata slot of {} bytes",
                    bytes.len(),
                    self.slot_size
                ),
            });
        }
        let padded = bytes.len().next_multiple_of(self.sector_size);
        let mut buf = AlignedBuf::options()
            .alignment(4096.max(self.sector_size))
            .zeroed(padded)?;
        buf[..bytes.len()].copy_from_slice(&bytes);
        let offset = (record.sequence % 2) * self.slot_size;
        self.device.write_blocking(offset, &buf)?;
        self.device.flush()
    }
}
