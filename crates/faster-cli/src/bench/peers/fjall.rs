//! fjall (crate `fjall` 3.1.13): an embedded log-structured merge tree (LSM) store, on files.
//!
//! Keys are the numbers' 8 big-endian bytes (so that the tree's order is the numbers'),
//! values their 8 little-endian bytes, in one keyspace of fjall's single-writer transactional
//! database. A read is the keyspace's `get` (no lock: the newest committed value); an upsert
//! is its `insert` and an RMW its `update_fetch`, each one write transaction. Write
//! transactions take the database's writer lock, so concurrent RMWs of one key lose no
//! increment, and an RMW racing an upsert cannot overwrite it with a stale sum.
//!
//! Memory: the knob set is the database's block cache (`cache_size`, default 32 MiB), to
//! faster-kv's log budget. Two more settings keep fjall within that budget and usable in it:
//! - the keyspace's memtable, where writes wait to be flushed into tables and which is outside
//!   that cache, is capped at the same number when it is below fjall's default 64 MiB
//!   (`max_memtable_size`), so that a small budget is not 64 MiB in practice;
//! - filter and index blocks are partitioned at every level (`filter_block_partitioning_policy`
//!   and `index_block_partitioning_policy`; fjall's default partitions them from the fourth
//!   level on). Unpartitioned, a table of two million keys has a filter block of megabytes,
//!   which a cache of a few megabytes cannot keep: every lookup read it again, and reads
//!   took 0.16 ms instead of 6 µs (2,000,000 keys, 4 MB; pinning those blocks outside the
//!   cache, the other way out, would take memory beyond the budget).
//!
//! Durability: fjall's default for a transaction (`PersistMode::Buffer`): its journal entry is
//! written to the operating system (a `write`, no fsync) before the commit returns, so a
//! committed operation survives a crash of the process but not of the machine or a power
//! loss, until something syncs the journal (nothing in the benchmark asks for it).

use std::path::Path;

use fjall::config::PartitioningPolicy;
use fjall::{KeyspaceCreateOptions, SingleWriterTxDatabase, SingleWriterTxKeyspace, Slice};

use super::calls::{Calls, added, number};

/// fjall's default memtable size.
const MEMTABLE_BYTES_MAX: u64 = 64 << 20;

/// A fjall database with one keyspace.
pub(crate) struct Fjall {
    /// Holds the database open (the keyspace refers to it too).
    _db: SingleWriterTxDatabase,
    keyspace: SingleWriterTxKeyspace,
}

impl Fjall {
    /// Opens a new database in `dir` with a block cache of `cache_bytes`.
    pub(crate) fn open(dir: &Path, cache_bytes: u64) -> Result<Self, String> {
        let fail = |e: fjall::Error| format!("fjall: cannot open {}: {e}", dir.display());
        let db = SingleWriterTxDatabase::builder(dir)
            .cache_size(cache_bytes)
            .open()
            .map_err(fail)?;
        let memtable_bytes = cache_bytes.min(MEMTABLE_BYTES_MAX);
        let keyspace = db
            .keyspace("bench", || {
                KeyspaceCreateOptions::default()
                    .max_memtable_size(memtable_bytes)
                    .filter_block_partitioning_policy(PartitioningPolicy::all(true))
                    .index_block_partitioning_policy(PartitioningPolicy::all(true))
            })
            .map_err(fail)?;
        Ok(Self { _db: db, keyspace })
    }
}

impl Calls for Fjall {
    fn read(&self, key: u64) -> Result<Option<u64>, String> {
        match self.keyspace.get(key.to_be_bytes()) {
            Ok(Some(bytes)) => number(&bytes).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn upsert(&self, key: u64, value: u64) -> Result<(), String> {
        self.keyspace
            .insert(key.to_be_bytes(), value.to_le_bytes())
            .map_err(|e| e.to_string())
    }

    fn add_one(&self, key: u64) -> Result<u64, String> {
        let mut wrong = None;
        let new = self
            .keyspace
            .update_fetch(key.to_be_bytes(), |old| {
                match old.map(|v| number(v)).transpose() {
                    Ok(n) => Some(Slice::from(n.unwrap_or(0).wrapping_add(1).to_le_bytes())),
                    Err(e) => {
                        // Left as it is.
                        wrong = Some(e);
                        old.cloned()
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        added(wrong, new.as_deref())
    }
}
