//! feoxdb (crate `feoxdb` 0.6.0): an embedded key-value store on `scc` and a skip list, in its
//! memory-only mode and without a memory limit (its default 1 GiB cannot hold ten million
//! keys). Keys and values are the numbers' 8 little-endian bytes; RMW is its
//! `atomic_increment` (the value as a little-endian `i64`). Errors count as failed operations.

use std::hint::black_box;

use feoxdb::FeoxStore;

use super::FailureLog;
use crate::bench::systems::{Found, Op, System, Worker, drive};

/// feoxdb, memory-only.
pub(crate) struct FeoxdbSystem {
    store: FeoxStore,
    failures: FailureLog,
}

impl FeoxdbSystem {
    pub(crate) fn new() -> Result<Self, String> {
        let store = FeoxStore::builder()
            .no_memory_limit()
            .build()
            .map_err(|e| format!("feoxdb: {e}"))?;
        Ok(Self {
            store,
            failures: FailureLog::default(),
        })
    }

    fn get(&self, key: u64) -> Found {
        match self.store.get_bytes(&key.to_le_bytes()) {
            Ok(bytes) => match <[u8; 8]>::try_from(&bytes[..]) {
                Ok(word) => Found::Value(u64::from_le_bytes(word)),
                Err(_) => Found::Error(format!("a {}-byte value", bytes.len())),
            },
            Err(feoxdb::FeoxError::KeyNotFound) => Found::Missing,
            Err(e) => Found::Error(e.to_string()),
        }
    }
}

impl System for FeoxdbSystem {
    fn name(&self) -> String {
        "feoxdb".into()
    }

    fn worker(&self) -> Result<Box<dyn Worker + '_>, String> {
        Ok(Box::new(FeoxdbWorker(self)))
    }

    fn failures(&self) -> (u64, Option<String>) {
        self.failures.snapshot()
    }
}

struct FeoxdbWorker<'a>(&'a FeoxdbSystem);

impl Worker for FeoxdbWorker<'_> {
    fn run(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String> {
        let FeoxdbSystem { store, failures } = self.0;
        drive(ops, sample_every, samples, |op| {
            match op {
                Op::Read(k) => match store.get_bytes(&k.to_le_bytes()) {
                    Ok(v) => {
                        black_box(v);
                    }
                    Err(e) => failures.record(|| format!("get of key {k}: {e}")),
                },
                Op::Upsert(k) => {
                    let bytes = k.to_le_bytes();
                    if let Err(e) = store.insert(&bytes, &bytes) {
                        failures.record(|| format!("insert of key {k}: {e}"));
                    }
                }
                Op::Rmw(k) => match store.atomic_increment(&k.to_le_bytes(), 1) {
                    Ok(v) => {
                        black_box(v);
                    }
                    Err(e) => failures.record(|| format!("atomic_increment of key {k}: {e}")),
                },
            }
            Ok(())
        })
    }

    fn load(&mut self, keys: &[u64]) -> Result<(), String> {
        let FeoxdbSystem { store, failures } = self.0;
        for &k in keys {
            let bytes = k.to_le_bytes();
            if let Err(e) = store.insert(&bytes, &bytes) {
                failures.record(|| format!("load insert of key {k}: {e}"));
            }
        }
        Ok(())
    }

    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String> {
        for (k, slot) in (first..).zip(out) {
            *slot = self.0.get(k);
        }
        Ok(())
    }
}
