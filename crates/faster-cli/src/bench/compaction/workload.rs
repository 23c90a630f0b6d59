//! One variant: open a store in a fresh directory, load every key, then upsert random keys
//! from every thread for the run's duration while this thread samples disk usage (in the
//! checkpointing variants, the store takes fold-over checkpoints in the background: one every
//! `checkpoint_every`, and with compaction a log-only one after each compaction, which lets
//! the space the compaction freed go).

use std::path::Path;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use faster_kv::{CheckpointOptions, CompactionPolicy, FasterKv, LogCheckpointKind, Session};

use super::disk;
use super::summary::{Sample, Settings, VariantRun};
use crate::bench::keys::{Rng, shuffled};

/// Upserts per pinned batch.
const BATCH: usize = 256;
/// How often the disk cap is checked between samples.
const CAP_CHECK: Duration = Duration::from_millis(100);
/// A progress line on stderr this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// What a variant turns on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Variant {
    /// "a" to "d".
    pub(super) id: &'static str,
    /// Automatic compaction with the log budget.
    pub(super) compaction: bool,
    /// Background fold-over checkpoints: one (with an index snapshot) every
    /// `checkpoint_every`, and, with compaction, the log-only ones its policy makes due.
    pub(super) checkpoints: bool,
}

impl Variant {
    pub(super) const ALL: [Self; 4] = [
        Self::new("a", false, false),
        Self::new("b", true, false),
        Self::new("c", false, true),
        Self::new("d", true, true),
    ];

    const fn new(id: &'static str, compaction: bool, checkpoints: bool) -> Self {
        Self {
            id,
            compaction,
            checkpoints,
        }
    }

    pub(super) fn named(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.id == id)
    }

    /// "compaction off, no checkpoints", and so on.
    pub(super) fn describe(&self) -> String {
        format!(
            "compaction {}, {}",
            if self.compaction { "on" } else { "off" },
            if self.checkpoints {
                "fold-over checkpoints"
            } else {
                "no checkpoints"
            }
        )
    }

    pub(super) fn dir_name(&self) -> &'static str {
        match self.id {
            "a" => "a-plain",
            "b" => "b-compaction",
            "c" => "c-checkpoints",
            _ => "d-compaction-checkpoints",
        }
    }
}

type Store = FasterKv<u64, [u8]>;

/// Opens the variant's store in `dir`, loads it, runs it; returns what was measured and the
/// store, still open (for the scan measurement).
pub(super) fn run_variant(
    s: &Settings,
    variant: &Variant,
    dir: &Path,
) -> Result<(VariantRun, Store), String> {
    let mut builder = FasterKv::builder()
        .dir(dir)
        .memory_budget(s.memory_budget)
        .page_size_bits(s.page_size_bits)
        .segment_size(s.segment_size)
        .index_buckets(s.index_buckets);
    if variant.compaction {
        builder = builder.compaction(CompactionPolicy::with_budget(s.log_budget));
    }
    if variant.checkpoints {
        builder = builder
            .checkpoint_every(Duration::from_secs_f64(s.checkpoint_every))
            .checkpoint_options(CheckpointOptions {
                log: LogCheckpointKind::FoldOver,
                index: true,
            });
    }
    let store: Store = builder
        .open()
        .map_err(|e| format!("opening the store: {e}"))?;
    let tag = format!("({}) {}", variant.id, variant.describe());
    let mut run = VariantRun::new(variant, loadavg());

    let started = Instant::now();
    load(&store, s)?;
    run.load_seconds = started.elapsed().as_secs_f64();
    run.loaded_log_bytes = log_bytes(&store);
    eprintln!(
        "{tag}: loaded {} keys in {:.1} s ({} MB of log); upserting for {} s",
        s.keys,
        run.load_seconds,
        super::mb(run.loaded_log_bytes),
        s.duration
    );

    let stop = AtomicBool::new(false);
    let ops = AtomicU64::new(0);
    let barrier = Barrier::new(s.threads + 1);
    let outcome = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..s.threads)
            .map(|t| {
                let (store, stop, ops, barrier) = (&store, &stop, &ops, &barrier);
                let seed = s.seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                scope.spawn(move || {
                    let session = store.session().map_err(|e| e.to_string());
                    // Meet the others even on failure, so that no thread waits forever.
                    barrier.wait();
                    upsert_until(session?, s, seed, stop, ops)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let checkpoints_before = store.stats().checkpoints.completed;
        let monitored = monitor(&store, s, dir, &tag, start, &ops, &stop, &mut run);
        stop.store(true, Ordering::Relaxed);
        let mut first_error = monitored.err();
        for w in workers {
            let joined = w
                .join()
                .map_err(|_| "an upsert thread panicked".to_string());
            if let Err(e) = joined.and_then(|r| r) {
                first_error.get_or_insert(e);
            }
        }
        // The end of the run: every upsert has returned.
        run.samples.push(sample(&store, dir, start.elapsed(), &ops));
        let checkpoints = store.stats().checkpoints;
        run.checkpoints_taken = checkpoints.completed - checkpoints_before;
        if checkpoints.failed > 0 {
            first_error.get_or_insert(format!("{} checkpoints failed", checkpoints.failed));
        }
        first_error.map_or(Ok(()), Err)
    });
    outcome?;
    run.loadavg_after = loadavg();
    run.settle(s);
    eprintln!("{tag}: {}", run.summary_line());
    Ok((run, store))
}

/// Inserts every key once, in shuffled order, each thread a contiguous share.
fn load(store: &Store, s: &Settings) -> Result<(), String> {
    let order = shuffled(s.keys, s.seed);
    let share = order.len().div_ceil(s.threads).max(1);
    std::thread::scope(|scope| {
        let loaders: Vec<_> = order
            .chunks(share)
            .map(|keys| {
                scope.spawn(move || -> Result<(), String> {
                    let mut session = store.session().map_err(|e| e.to_string())?;
                    let mut value = vec![0xAB; s.value_size];
                    for batch in keys.chunks(BATCH) {
                        let mut pinned = session.pin();
                        for &k in batch {
                            set_number(&mut value, k);
                            pinned
                                .upsert(&k, &value)
                                .map_err(|e| format!("load: {e}"))?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        loaders
            .into_iter()
            .map(|h| h.join().map_err(|_| "a load thread panicked".to_string())?)
            .collect::<Result<Vec<()>, String>>()
    })
    .map(drop)
}

/// One thread's share of the run: batches of uniform random upserts until `stop`.
fn upsert_until(
    mut session: Session<u64, [u8]>,
    s: &Settings,
    seed: u64,
    stop: &AtomicBool,
    ops: &AtomicU64,
) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let mut value = vec![0xCD; s.value_size];
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let mut pinned = session.pin();
        for _ in 0..BATCH {
            let k = rng.below(s.keys);
            set_number(&mut value, k ^ (round << 32));
            pinned
                .upsert(&k, &value)
                .map_err(|e| format!("upsert: {e}"))?;
        }
        drop(pinned);
        ops.fetch_add(BATCH as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Writes `n` into a value's first bytes (as many as fit).
fn set_number(value: &mut [u8], n: u64) {
    let bytes = n.to_le_bytes();
    let len = value.len().min(8);
    value[..len].copy_from_slice(&bytes[..len]);
}

/// Samples every `s.sample` seconds, checks the disk cap every [`CAP_CHECK`], prints
/// progress, until the duration is over or the cap is passed (then `run.stopped_at` says
/// when).
#[allow(
    clippy::too_many_arguments,
    reason = "the run's shared state, borrowed"
)]
fn monitor(
    store: &Store,
    s: &Settings,
    dir: &Path,
    tag: &str,
    start: Instant,
    ops: &AtomicU64,
    stop: &AtomicBool,
    run: &mut VariantRun,
) -> Result<(), String> {
    let duration = Duration::from_secs_f64(s.duration);
    let every = Duration::from_secs_f64(s.sample);
    run.samples.push(sample(store, dir, Duration::ZERO, ops));
    let mut next_sample = every;
    let mut next_progress = PROGRESS_EVERY;
    loop {
        let now = start.elapsed();
        if now >= duration || stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let wake = next_sample.min(duration).min(now + CAP_CHECK);
        std::thread::sleep(wake.saturating_sub(now));
        let now = start.elapsed();
        if now >= duration {
            return Ok(());
        }
        if now >= next_sample {
            run.samples.push(sample(store, dir, now, ops));
            while next_sample <= now {
                next_sample += every;
            }
        }
        let disk = disk::allocated(dir);
        if disk > s.disk_cap_bytes {
            run.samples.push(sample(store, dir, start.elapsed(), ops));
            run.stopped_at = Some(now.as_secs_f64());
            eprintln!(
                "{tag}: stopping early at {:.1} s: {} MB on disk, past the cap of {} MB \
                 ({} × the live data)",
                now.as_secs_f64(),
                super::mb(disk),
                super::mb(s.disk_cap_bytes),
                s.disk_cap
            );
            return Ok(());
        }
        if now >= next_progress {
            next_progress += PROGRESS_EVERY;
            if let Some(last) = run.samples.last() {
                eprintln!("{tag}: {}", last.progress_line(s, &run.samples));
            }
        }
    }
}

/// The store and its directory now.
fn sample(store: &Store, dir: &Path, at: Duration, ops: &AtomicU64) -> Sample {
    let ops = ops.load(Ordering::Relaxed);
    let stats = store.stats();
    let usage = disk::usage(dir);
    let log = stats
        .regions
        .map_or(0, |r| r.tail.raw().saturating_sub(r.begin.raw()));
    Sample {
        seconds: super::secs(at),
        ops,
        disk_bytes: usage.total,
        checkpoint_bytes: usage.checkpoints,
        log_bytes: log,
        compactions: stats.compaction.runs,
        compaction_records_read: stats.compaction.records_read,
        compaction_copied: stats.compaction.copied,
        compaction_bytes_dropped: stats.compaction.bytes_dropped,
        compactions_skipped: stats.compaction.skipped,
        throttled: stats.throttled,
    }
}

fn log_bytes(store: &Store) -> u64 {
    let r = store.regions();
    r.tail.raw().saturating_sub(r.begin.raw())
}

/// `/proc/loadavg`'s first three fields, when readable.
fn loadavg() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}
