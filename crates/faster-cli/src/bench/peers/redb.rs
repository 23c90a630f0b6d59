//! redb (crate `redb` 5.0.0): an embedded copy-on-write B-tree store in one file, with
//! serialized write transactions and MVCC reads.
//!
//! One table of `u64` keys and values (redb's own encoding of them). A read is one read
//! transaction (the newest committed state); an upsert and an RMW are each one write
//! transaction (the RMW reads, adds 1, writes and commits inside it). redb runs one write
//! transaction at a time, so concurrent RMWs of one key lose no increment.
//!
//! Memory: the knob set is `set_cache_size` (default 1 GiB), to faster-kv's log budget. It
//! bounds redb's cache of pages read and its buffer of pages written.
//!
//! Durability: every write transaction commits with `Durability::None`: no fsync; the commit is
//! visible to later transactions at once, and its pages stay in redb's write buffer until
//! they are evicted to the file. Such a commit becomes durable only with a later commit of
//! `Durability::Immediate`, and the benchmark makes none: a crash of the process loses every
//! operation since the database was created, as a crash of faster-kv loses everything since its
//! last checkpoint (the benchmark takes none).

use std::path::Path;

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, StorageError, Table, TableDefinition,
};

use super::calls::Calls;

/// The benchmark's table.
const TABLE: TableDefinition<'_, u64, u64> = TableDefinition::new("bench");

/// A redb database with the benchmark's table.
pub(crate) struct Redb(Database);

impl Redb {
    /// Creates a database in `dir` with a cache of `cache_bytes`, and its table.
    pub(crate) fn open(dir: &Path, cache_bytes: u64) -> Result<Self, String> {
        let path = dir.join("bench.redb");
        let db = Database::builder()
            .set_cache_size(usize::try_from(cache_bytes).unwrap_or(usize::MAX))
            .create(&path)
            .map_err(|e| format!("redb: cannot create {}: {e}", path.display()))?;
        let db = Self(db);
        db.write(|_| Ok(()))
            .map_err(|e| format!("redb: cannot create its table: {e}"))?;
        Ok(db)
    }

    /// Runs `f` on the table in one write transaction, committed without waiting for the disk.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Table<'_, u64, u64>) -> Result<T, StorageError>,
    ) -> Result<T, String> {
        let mut tx = self.0.begin_write().map_err(|e| e.to_string())?;
        tx.set_durability(Durability::None)
            .map_err(|e| e.to_string())?;
        // An error drops the transaction uncommitted: redb aborts it.
        let out = {
            let mut table = tx.open_table(TABLE).map_err(|e| e.to_string())?;
            f(&mut table).map_err(|e| e.to_string())?
        };
        tx.commit().map_err(|e| e.to_string())?;
        Ok(out)
    }
}

impl Calls for Redb {
    fn read(&self, key: u64) -> Result<Option<u64>, String> {
        let tx = self.0.begin_read().map_err(|e| e.to_string())?;
        let table = tx.open_table(TABLE).map_err(|e| e.to_string())?;
        let value = table.get(key).map_err(|e| e.to_string())?;
        Ok(value.map(|v| v.value()))
    }

    fn upsert(&self, key: u64, value: u64) -> Result<(), String> {
        self.write(|table| table.insert(key, value).map(drop))
    }

    fn add_one(&self, key: u64) -> Result<u64, String> {
        self.write(|table| {
            let old = table.get(key)?.map(|v| v.value());
            let new = old.unwrap_or(0).wrapping_add(1);
            table.insert(key, new)?;
            Ok(new)
        })
    }
}
