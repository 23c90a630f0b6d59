//! `SCAN`'s cursors, `DBSIZE` and `FLUSHDB`: work over the store's live-record scan.
//!
//! The live-record scan (`FasterKv::scan`) cannot resume from a position, and every scan
//! makes the whole log read-only, so `SCAN` does not start one per call. `SCAN 0` takes a
//! *snapshot* of the store's keys (one live-record scan) and the following calls page
//! through it. A cursor is `(snapshot << 32) | position`: the snapshot's number (from 1) and
//! the index of the next key in it. So every key present for the whole iteration is returned
//! exactly once; a key added after `SCAN 0` is not returned; a key deleted after it may be.
//! At most [`MAX_SNAPSHOTS`] snapshots are kept (the oldest is dropped first, and a finished
//! iteration drops its own); a cursor of a dropped snapshot starts a new snapshot and goes
//! on from its position, so an iteration that outlived its snapshot may miss or repeat keys.

use std::collections::VecDeque;
use std::sync::Arc;

use faster_kv::OpError;

use crate::keyops::ByteStore;

/// Snapshots kept at once.
pub(crate) const MAX_SNAPSHOTS: usize = 16;

/// The key snapshots of open `SCAN` iterations.
#[derive(Default)]
pub(crate) struct Cursors {
    last: u32,
    open: VecDeque<(u32, Arc<Vec<Vec<u8>>>)>,
}

impl Cursors {
    /// The snapshot numbered `id`.
    pub(crate) fn get(&self, id: u32) -> Option<Arc<Vec<Vec<u8>>>> {
        self.open
            .iter()
            .find(|(open, _)| *open == id)
            .map(|(_, keys)| Arc::clone(keys))
    }

    /// Keeps `keys` as a new snapshot; returns its number.
    pub(crate) fn insert(&mut self, keys: Arc<Vec<Vec<u8>>>) -> u32 {
        self.last = self.last.checked_add(1).unwrap_or(1);
        while self.open.len() >= MAX_SNAPSHOTS {
            self.open.pop_front();
        }
        self.open.push_back((self.last, keys));
        self.last
    }

    /// Drops snapshot `id`.
    pub(crate) fn remove(&mut self, id: u32) {
        self.open.retain(|(open, _)| *open != id);
    }

    /// Drops every snapshot.
    pub(crate) fn clear(&mut self) {
        self.open.clear();
    }
}

/// Every live key of the store. Blocks (a live-record scan).
pub(crate) fn all_keys(store: &ByteStore) -> Result<Vec<Vec<u8>>, OpError> {
    store
        .scan()?
        .map(|record| record.map(|(key, _)| key))
        .collect()
}

/// The number of live keys. Blocks (a live-record scan).
pub(crate) fn count_keys(store: &ByteStore) -> Result<u64, OpError> {
    let mut count = 0;
    for record in store.scan()? {
        record?;
        count += 1;
    }
    Ok(count)
}

/// A cursor: snapshot `id`, next position `position`.
pub(crate) fn cursor(id: u32, position: usize) -> u64 {
    (u64::from(id) << 32) | u64::try_from(position).unwrap_or(u64::MAX) & 0xffff_ffff
}

/// The snapshot number and position of a cursor.
pub(crate) fn split_cursor(cursor: u64) -> (u32, usize) {
    let id = u32::try_from(cursor >> 32).unwrap_or(0);
    let position = usize::try_from(cursor & 0xffff_ffff).unwrap_or(0);
    (id, position)
}
