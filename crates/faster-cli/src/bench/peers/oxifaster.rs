//! oxifaster (crate `oxifaster` 0.1.3): another Rust port of FASTER's key-value store, as its
//! `FasterKv<u64, u64>` with one session per thread.
//!
//! Its log lives on its file device when the benchmark runs on files, like faster-kv's, with
//! the same memory budget, page size and index size. With `--memory` it runs on its `NullDisk`,
//! which keeps nothing it is given: so that no record is lost, its log is then sized to hold
//! everything the runs append. Sessions refresh their epoch once per batch of 256 operations,
//! as FASTER's benchmark does. Reads that return `Pending` are completed together at the end of
//! their batch with `complete_pending(true)`, then asked again, which returns the completed
//! values (so a sampled latency of such a read is that of its first part only, as in FASTER's
//! benchmark); a write's `Pending` is completed at once. Any other status than `Ok` (or
//! `NotFound` for a read) counts as a failed operation.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use oxifaster::device::{FileSystemDisk, NullDisk, StorageDevice};
use oxifaster::status::Status;
use oxifaster::store::{FasterKv, FasterKvConfig, Session};

use super::FailureLog;
use crate::bench::systems::{Found, Op, System, Worker, drive};

/// The store's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    /// Bytes of log in memory.
    pub(crate) log_memory_bytes: u64,
    pub(crate) page_size_bits: u32,
    /// Hash buckets (a power of two).
    pub(crate) index_buckets: u64,
}

/// oxifaster on one of its devices.
pub(crate) struct OxifasterSystem<D: StorageDevice> {
    store: Arc<FasterKv<u64, u64, D>>,
    failures: FailureLog,
}

/// Opens oxifaster on its `NullDisk`.
pub(crate) fn in_memory(config: Config) -> OxifasterSystem<NullDisk> {
    OxifasterSystem::new(config, NullDisk::new())
}

/// Opens oxifaster on its file device, in a file in `dir`.
pub(crate) fn on_file(
    config: Config,
    dir: &Path,
) -> Result<OxifasterSystem<FileSystemDisk>, String> {
    let path = dir.join("oxifaster.log");
    let device = FileSystemDisk::single_file(&path)
        .map_err(|e| format!("oxifaster: cannot open {}: {e}", path.display()))?;
    Ok(OxifasterSystem::new(config, device))
}

impl<D: StorageDevice> OxifasterSystem<D> {
    fn new(config: Config, device: D) -> Self {
        let config = FasterKvConfig {
            table_size: config.index_buckets,
            log_memory_size: config.log_memory_bytes,
            page_size_bits: config.page_size_bits,
            mutable_fraction: 0.9,
        };
        Self {
            store: Arc::new(FasterKv::new(config, device)),
            failures: FailureLog::default(),
        }
    }
}

impl<D: StorageDevice + Send + Sync> System for OxifasterSystem<D> {
    fn name(&self) -> String {
        "oxifaster".into()
    }

    fn worker(&self) -> Result<Box<dyn Worker + '_>, String> {
        let session = self
            .store
            .start_session()
            .map_err(|s| format!("oxifaster: start_session: {s:?}"))?;
        Ok(Box::new(OxifasterWorker {
            session,
            failures: &self.failures,
        }))
    }

    fn failures(&self) -> (u64, Option<String>) {
        self.failures.snapshot()
    }
}

struct OxifasterWorker<'a, D: StorageDevice> {
    session: Session<u64, u64, D>,
    failures: &'a FailureLog,
}

impl<D: StorageDevice> OxifasterWorker<'_, D> {
    /// Completes the reads of `keys` that returned `Pending`: waits for all of them at once,
    /// then asks again, which returns the completed values. `got` sees each key's result.
    fn complete_reads(
        &mut self,
        keys: &[u64],
        mut got: impl FnMut(usize, Result<Option<u64>, Status>),
    ) {
        if keys.is_empty() {
            return;
        }
        self.session.complete_pending(true);
        for (i, k) in keys.iter().enumerate() {
            got(i, self.session.read(k));
        }
    }

    /// Completes a write's `Pending`; counts any other status than `Ok` as a failure.
    fn settle(&mut self, what: &str, key: u64, status: Status) {
        let status = if status == Status::Pending {
            if self.session.complete_pending(true) {
                Status::Ok
            } else {
                Status::Pending
            }
        } else {
            status
        };
        if status != Status::Ok {
            self.failures
                .record(|| format!("{what} of key {key} returned {status:?}"));
        }
    }
}

/// A failed read's description.
fn read_failure(key: u64, status: Status) -> String {
    format!("read of key {key} returned {status:?}")
}

impl<D: StorageDevice> Worker for OxifasterWorker<'_, D> {
    fn run(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String> {
        let mut pending = Vec::new();
        drive(ops, sample_every, samples, |op| {
            match op {
                Op::Read(k) => match self.session.read(&k) {
                    Ok(v) => {
                        black_box(v);
                    }
                    Err(Status::Pending) => pending.push(k),
                    Err(status) => self.failures.record(|| read_failure(k, status)),
                },
                Op::Upsert(k) => {
                    let status = self.session.upsert(k, k);
                    self.settle("upsert", k, status);
                }
                Op::Rmw(k) => {
                    let status = self.session.rmw(k, |v| {
                        *v = v.wrapping_add(1);
                        true
                    });
                    self.settle("rmw", k, status);
                }
            }
            Ok(())
        })?;
        let failures = self.failures;
        self.complete_reads(&pending, |i, result| match result {
            Ok(v) => {
                black_box(v);
            }
            Err(status) => failures.record(|| read_failure(pending[i], status)),
        });
        self.session.refresh();
        Ok(())
    }

    fn load(&mut self, keys: &[u64]) -> Result<(), String> {
        for batch in keys.chunks(256) {
            for &k in batch {
                let status = self.session.upsert(k, k);
                self.settle("load upsert", k, status);
            }
            self.session.refresh();
        }
        Ok(())
    }

    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String> {
        let found = |result: Result<Option<u64>, Status>| match result {
            Ok(Some(v)) => Found::Value(v),
            Ok(None) => Found::Missing,
            Err(status) => Found::Error(format!("{status:?}")),
        };
        for start in (0..out.len()).step_by(256) {
            let mut pending = Vec::new();
            for i in start..(start + 256).min(out.len()) {
                let k = first + i as u64;
                match self.session.read(&k) {
                    Err(Status::Pending) => pending.push(i),
                    result => out[i] = found(result),
                }
            }
            let keys: Vec<u64> = pending.iter().map(|&i| first + i as u64).collect();
            self.complete_reads(&keys, |j, result| out[pending[j]] = found(result));
            self.session.refresh();
        }
        Ok(())
    }
}
