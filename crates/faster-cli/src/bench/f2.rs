//! F2 (`faster-f2`) as a system of the benchmark: measured in this process after faster-kv,
//! on its own directory, with the same memory budget for its hot store's log (`--f2`).

use std::hint::black_box;

use faster_f2::{F2Kv, F2Session};

use super::BenchArgs;
use super::faster::{log_budget, measure_alone};
use super::plan::Plan;
use super::report::{MemoryReport, SystemReport};
use super::systems::{Found, Op, System, Worker};

/// F2 with 8-byte values (the only shape it is benchmarked with).
struct F2System {
    store: F2Kv<u64, u64>,
}

struct F2Worker {
    session: F2Session<u64, u64>,
}

impl System for F2System {
    fn name(&self) -> String {
        "faster-f2".into()
    }

    fn worker(&self) -> Result<Box<dyn Worker + '_>, String> {
        Ok(Box::new(F2Worker {
            session: self.store.session().map_err(|e| e.to_string())?,
        }))
    }
}

impl Worker for F2Worker {
    fn run(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String> {
        let s = &mut self.session;
        super::systems::drive_ahead(ops, 0, sample_every, samples, |step| {
            if let super::systems::Step::Run(op) = step {
                match op {
                    Op::Read(k) => {
                        black_box(s.read(&k).map_err(|e| e.to_string())?);
                    }
                    Op::Upsert(k) => s.upsert(&k, &k).map_err(|e| e.to_string())?,
                    Op::Rmw(k) => {
                        black_box(s.add(&k, 1).map_err(|e| e.to_string())?);
                    }
                }
            }
            Ok(())
        })
    }

    fn load(&mut self, keys: &[u64]) -> Result<(), String> {
        for &k in keys {
            self.session.upsert(&k, &k).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String> {
        for (key, slot) in (first..).zip(out.iter_mut()) {
            *slot = match self.session.read(&key) {
                Ok(Some(v)) => Found::Value(v),
                Ok(None) => Found::Missing,
                Err(e) => Found::Error(e.to_string()),
            };
        }
        Ok(())
    }
}

/// Opens F2 in a subdirectory of `--dir` or a temporary directory: its hot store keeps the
/// memory budget faster-kv's log gets, migrates past twice that, reads through a read cache of
/// `--read-cache` bytes (a quarter of the budget by default), and sizes its cold index at
/// a chunk per 16 to 32 keys (the cold ones seldom outnumber its 32 slots).
pub(super) fn bench_f2(args: &BenchArgs, plan: &Plan) -> Result<SystemReport, String> {
    if args.value_size != 8 {
        return Ok(SystemReport::skipped(
            "faster-f2",
            "faster-f2 runs with 8-byte values only (--value-size 8)",
        ));
    }
    if args.memory {
        return Ok(SystemReport::skipped(
            "faster-f2",
            "faster-f2 needs files: drop --memory",
        ));
    }
    let temp = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let dir = args
        .dir
        .as_ref()
        .map_or_else(|| temp.path().to_path_buf(), |d| d.join("faster-f2"));
    let memory = log_budget(args).memory_bytes;
    // Up to 32 keys a chunk if every key were cold: the hot store keeps part of them, so a
    // chunk's cold keys seldom outnumber its 32 slots.
    let chunk_bits = (args.keys / 16).max(16).ilog2().clamp(4, 24);
    let store: F2Kv<u64, u64> = F2Kv::builder(&dir)
        .hot_memory(memory)
        .hot_log_budget(memory * 2)
        .page_size_bits(args.page_size_bits)
        .read_cache(Some(args.read_cache.unwrap_or(memory / 4).max(256 << 10)))
        .cold_index_chunk_bits(chunk_bits)
        .cold_index_memory((memory / 8).max(1 << 20))
        .open()
        .map_err(|e| e.to_string())?;
    let system = F2System { store };
    let mut report = measure_alone(&system, plan)?;
    let stats = system.store.stats();
    let hot = system.store.hot().memory();
    report.memory = Some(MemoryReport {
        log_budget: hot.log_budget,
        log_bytes: hot.log_bytes,
        index_bytes: hot.index_bytes,
        read_cache_bytes: hot.read_cache_bytes,
        read_cache_hits: stats.hot.read_cache.map(|c| (c.hits, c.misses)),
        peak_rss_bytes: super::report::peak_rss(),
    });
    eprintln!(
        "faster-f2: {} migrations moved {} records; cold log {:.1} MiB; cold index {:.2} MiB \
         of memory ({:.2} bytes per key of the store, {:.2} per record migrated) beside \
         {:.1} MiB of chunk-store pages",
        stats.migrations,
        stats.migrated_records,
        stats.cold_log_bytes as f64 / f64::from(1 << 20),
        stats.cold_index_bytes as f64 / f64::from(1 << 20),
        stats.cold_index_bytes as f64 / args.keys.max(1) as f64,
        stats.cold_index_bytes as f64 / stats.migrated_records.max(1) as f64,
        stats.cold_index_log_bytes as f64 / f64::from(1 << 20),
    );
    drop(system);
    drop(temp);
    report.settle();
    Ok(report)
}
