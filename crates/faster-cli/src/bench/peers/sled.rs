//! sled (crate `sled` 0.34.7, its last release; the 1.0 alphas are a rewrite): an embedded
//! ordered key-value store, a lock-free B+ tree over a log-structured page store, on files.
//!
//! Keys are the numbers' 8 big-endian bytes (so that the tree's order is the numbers'),
//! values their 8 little-endian bytes. A read is `get`, an upsert `insert`, an RMW
//! `update_and_fetch`, which retries its compare-and-swap until no other thread changed the
//! value in between, so concurrent RMWs of one key lose no increment.
//!
//! Memory: the knob set is `cache_capacity`, sled's page cache (default 1 GB), to faster-kv's
//! log budget. Everything else is sled's default (`Mode::LowSpace`).
//!
//! Durability: no operation waits for the disk. Writes go to sled's in-memory I/O buffers; a
//! background thread writes them to its log file and fsyncs it every 500 ms (the default
//! `flush_every_ms`). A crash of the process or the machine loses what was not yet flushed,
//! up to about the last half second of operations.

use std::path::Path;

use ::sled::{Config, Db, IVec};

use super::calls::{Calls, added, number};

/// A sled database.
pub(crate) struct Sled(Db);

impl Sled {
    /// Opens a new database in `dir` with a page cache of `cache_bytes`.
    pub(crate) fn open(dir: &Path, cache_bytes: u64) -> Result<Self, String> {
        Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()
            .map(Self)
            .map_err(|e| format!("sled: cannot open {}: {e}", dir.display()))
    }
}

impl Calls for Sled {
    fn read(&self, key: u64) -> Result<Option<u64>, String> {
        match self.0.get(key.to_be_bytes()) {
            Ok(Some(bytes)) => number(&bytes).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn upsert(&self, key: u64, value: u64) -> Result<(), String> {
        self.0
            .insert(key.to_be_bytes(), &value.to_le_bytes())
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn add_one(&self, key: u64) -> Result<u64, String> {
        let mut wrong = None;
        let new = self
            .0
            .update_and_fetch(key.to_be_bytes(), |old| {
                wrong = None;
                match old.map(number).transpose() {
                    Ok(n) => Some(IVec::from(&n.unwrap_or(0).wrapping_add(1).to_le_bytes())),
                    Err(e) => {
                        // Left as it is.
                        wrong = Some(e);
                        old.map(IVec::from)
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        added(wrong, new.as_deref())
    }
}
