//! Deleting the log's bytes below the begin address, only once nothing recovery could choose
//! needs them (rule R14).
//!
//! A compaction moves the begin address at once, but a crash before the next checkpoint
//! recovers the previous one, whose log starts at the old begin address: deleting the bytes
//! in between at once would lose the records that checkpoint holds there (FASTER issue #780).
//! So the device keeps every byte at or above the oldest begin address among the complete
//! checkpoints in the checkpoint directory (recovery falls back to an older one when a newer
//! one is damaged, so all of them count; retention removes the old ones), and a checkpoint
//! in progress — which recorded the begin address it started with — keeps them too: this runs
//! only with the checkpoint lock held and no checkpoint running, or at the end of a
//! checkpoint, after its metadata is durable. A store with no complete checkpoint recovers
//! nothing from its log, so its device keeps nothing below the begin address.

use faster_cpr::{CheckpointDir, CheckpointFileError};
use faster_hlog::Address;

use crate::codec::Codec;
use crate::store::Store;
use crate::sync::lock;

/// Why nothing was deleted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReclaimError {
    /// The checkpoint directory could not be listed or read: nothing was deleted.
    #[error("checkpoint directory: {0}")]
    Checkpoints(#[from] CheckpointFileError),
    /// The device could not delete its segments.
    #[error("device: {0}")]
    Device(#[from] faster_device::DeviceError),
}

/// The oldest begin address any complete checkpoint in `dir` needs, or `None` when there is
/// no complete checkpoint.
pub(crate) fn oldest_needed(dir: &CheckpointDir) -> Result<Option<Address>, CheckpointFileError> {
    let mut oldest: Option<u64> = None;
    for token in dir.tokens()? {
        match dir.read(token) {
            Ok(meta) => {
                if let Some(log) = &meta.log {
                    oldest = Some(oldest.map_or(log.begin, |o| o.min(log.begin)));
                }
            }
            // Never chosen by recovery: it needs nothing.
            Err(CheckpointFileError::NotFound { .. } | CheckpointFileError::Corrupt { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(oldest.map(Address::from_masked))
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// Deletes what the device holds below the begin address and below what every complete
    /// checkpoint needs; returns the address below which the device now holds nothing. The
    /// caller makes sure no checkpoint is between its start and its metadata (see the module
    /// documentation).
    pub(crate) fn reclaim_unchecked(&self) -> Result<Address, ReclaimError> {
        let begin = self.log.begin_address();
        let needed = match &self.cpr.dir {
            Some(dir) => oldest_needed(dir)?.map_or(begin, |oldest| oldest.min(begin)),
            None => begin,
        };
        self.log.device().truncate_until(needed.raw())?;
        Ok(needed)
    }

    /// [`Store::reclaim_unchecked`] under the checkpoint lock, unless a checkpoint runs (its
    /// end reclaims instead): `None` then.
    pub(crate) fn reclaim(&self) -> Result<Option<Address>, ReclaimError> {
        let run = lock(&self.cpr.run);
        if run.is_some() {
            return Ok(None);
        }
        let reclaimed = self.reclaim_unchecked()?;
        drop(run);
        Ok(Some(reclaimed))
    }
}
