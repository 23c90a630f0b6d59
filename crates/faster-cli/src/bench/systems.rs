//! The systems a benchmark drives, and faster-kv as one of them.
//!
//! Every system gives the workloads the same meaning: an upsert stores value = key, an RMW adds
//! 1 to the stored value, a read returns it. So after the load every key `k` holds `k`, and
//! verification can tell from the requests a system completed what each key must hold.
//! Peers (feature `peers`, in [`super::peers`]) implement the same traits.

use std::hint::black_box;
use std::time::Instant;

use faster_kv::{CheckpointOptions, FasterKv, Session};
use serde::{Deserialize, Serialize};

use super::header::Mode;

/// One operation of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Read(u64),
    Upsert(u64),
    Rmw(u64),
}

/// What reading a key back returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Found {
    Value(u64),
    Missing,
    /// The system reported an error (or a value of the wrong shape).
    Error(String),
}

/// A thread's handle on a system.
pub(crate) trait Worker {
    /// Runs `ops`; times every `sample_every`-th one into `samples` (nanoseconds).
    fn run(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String>;
    /// Inserts `keys` with value = key (the load phase).
    fn load(&mut self, keys: &[u64]) -> Result<(), String>;
    /// Reads keys `first..first + out.len()` into `out`, for verification (untimed).
    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String>;
}

/// A system under test, shared by the benchmark's threads.
pub(crate) trait System: Sync {
    /// The name in reports.
    fn name(&self) -> String;
    /// A worker for the calling thread.
    fn worker(&self) -> Result<Box<dyn Worker + '_>, String>;
    /// Operations the system reported as failed during timed runs. Peers count these rather
    /// than stop, so that a misbehaving peer is still measured and then verified.
    fn failures(&self) -> (u64, Option<String>) {
        (0, None)
    }
    /// Takes a checkpoint and waits until it is durable; `None` for a system that does not
    /// checkpoint during runs.
    fn checkpoint(&self) -> Option<Result<(), String>> {
        None
    }
    /// How its workers issue the operations of the load (`load`) or of a timed run: one at a
    /// time unless the system says otherwise.
    fn mode(&self, load: bool) -> Mode {
        let _ = load;
        Mode::Single
    }
}

impl Op {
    /// The key the operation touches.
    pub(crate) fn key(self) -> u64 {
        match self {
            Self::Read(k) | Self::Upsert(k) | Self::Rmw(k) => k,
        }
    }
}

/// A step of [`drive_ahead`]: an operation, or a hint about a later one's key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    Run(Op),
    /// Start loading this key's index bucket.
    PrefetchBucket(u64),
    /// Start loading this key's newest record (its bucket was prefetched earlier).
    PrefetchRecord(u64),
}

/// Runs `f` on every op, timing every `sample_every`-th, with the misses of later operations
/// started early: before operation `i`, the bucket of operation `i + depth` and the record of
/// operation `i + depth / 2` are prefetched. A `depth` of 0 issues no hints. Latency samples time the operation alone.
#[inline]
pub(crate) fn drive_ahead(
    ops: &[Op],
    depth: usize,
    sample_every: usize,
    samples: &mut Vec<u32>,
    f: impl FnMut(Step) -> Result<(), String>,
) -> Result<(), String> {
    drive_ahead_then(ops, depth, sample_every, samples, f, || Ok(()))
}

/// [`drive_ahead`], calling `after` (untimed) after each operation.
#[inline]
pub(crate) fn drive_ahead_then(
    ops: &[Op],
    depth: usize,
    sample_every: usize,
    samples: &mut Vec<u32>,
    mut f: impl FnMut(Step) -> Result<(), String>,
    mut after: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    if depth == 0 {
        for (i, op) in ops.iter().enumerate() {
            if i % sample_every == 0 {
                let start = Instant::now();
                f(Step::Run(*op))?;
                samples.push(u32::try_from(start.elapsed().as_nanos()).unwrap_or(u32::MAX));
            } else {
                f(Step::Run(*op))?;
            }
            after()?;
        }
        return Ok(());
    }
    let half = (depth / 2).max(1);
    for op in ops.iter().take(depth) {
        f(Step::PrefetchBucket(op.key()))?;
    }
    for op in ops.iter().take(half) {
        f(Step::PrefetchRecord(op.key()))?;
    }
    for (i, op) in ops.iter().enumerate() {
        if let Some(later) = ops.get(i + depth) {
            f(Step::PrefetchBucket(later.key()))?;
        }
        if let Some(later) = ops.get(i + half) {
            f(Step::PrefetchRecord(later.key()))?;
        }
        if i % sample_every == 0 {
            let start = Instant::now();
            f(Step::Run(*op))?;
            samples.push(u32::try_from(start.elapsed().as_nanos()).unwrap_or(u32::MAX));
        } else {
            f(Step::Run(*op))?;
        }
        after()?;
    }
    Ok(())
}

/// Runs `f` on every op, timing every `sample_every`-th (the peers' one-at-a-time loop): the
/// loop of [`drive_ahead_then`] with no hints and nothing after each operation.
#[cfg(feature = "peers")]
#[inline]
pub(crate) fn drive(
    ops: &[Op],
    sample_every: usize,
    samples: &mut Vec<u32>,
    mut f: impl FnMut(Op) -> Result<(), String>,
) -> Result<(), String> {
    let run = |step| match step {
        Step::Run(op) => f(op),
        // Not issued with a depth of 0.
        Step::PrefetchBucket(_) | Step::PrefetchRecord(_) => Ok(()),
    };
    drive_ahead_then(ops, 0, sample_every, samples, run, || Ok(()))
}

/// faster-kv. 8-byte values are `u64` words updated in place atomically; larger values are
/// byte strings whose first 8 bytes hold the number (little-endian), padded with 0xAB.
/// The load and timed runs issue prefetch hints `prefetch_depth` operations ahead (0: none).
/// With `checkpoint`, timed runs take checkpoints of that kind (see [`System::checkpoint`]).
pub(crate) struct FasterSystem {
    pub(crate) name: String,
    pub(crate) store: FasterStore,
    pub(crate) prefetch_depth: usize,
    /// Operations kept waiting for the device per thread (0: one operation at a time); 8-byte
    /// values only.
    pub(crate) io_depth: usize,
    pub(crate) checkpoint: Option<CheckpointOptions>,
}

impl FasterSystem {
    /// What the store holds in memory now, and the process's peak resident set.
    pub(crate) fn memory(&self) -> super::report::MemoryReport {
        let (m, cache) = match &self.store {
            FasterStore::Word(store) => (store.memory(), store.stats().read_cache),
            FasterStore::Bytes(store, _) => (store.memory(), store.stats().read_cache),
        };
        super::report::MemoryReport {
            log_budget: m.log_budget,
            log_bytes: m.log_bytes,
            index_bytes: m.index_bytes,
            read_cache_bytes: m.read_cache_bytes,
            read_cache_hits: cache.map(|c| (c.hits, c.misses)),
            peak_rss_bytes: super::report::peak_rss(),
        }
    }
}

/// The store, by value shape.
pub(crate) enum FasterStore {
    Word(FasterKv<u64, u64>),
    Bytes(FasterKv<u64, [u8]>, usize),
}

impl System for FasterSystem {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn mode(&self, load: bool) -> Mode {
        // Byte-string values load one at a time and never wait for the device in a run.
        let ahead = match (&self.store, load) {
            (FasterStore::Word(_), true) => self.prefetch_depth > 0,
            (FasterStore::Word(_), false) => self.prefetch_depth > 0 || self.io_depth > 0,
            (FasterStore::Bytes(..), true) => false,
            (FasterStore::Bytes(..), false) => self.prefetch_depth > 0,
        };
        if ahead { Mode::Pipelined } else { Mode::Single }
    }

    fn checkpoint(&self) -> Option<Result<(), String>> {
        let options = self.checkpoint?;
        let started = match &self.store {
            FasterStore::Word(store) => store.checkpoint_with(options),
            FasterStore::Bytes(store, _) => store.checkpoint_with(options),
        };
        Some(match started {
            Ok(handle) => handle
                .wait()
                .map(drop)
                .map_err(|e| format!("checkpoint: {e}")),
            Err(e) => Err(format!("checkpoint: {e}")),
        })
    }

    fn worker(&self) -> Result<Box<dyn Worker + '_>, String> {
        let depth = self.prefetch_depth;
        Ok(match &self.store {
            FasterStore::Word(store) => Box::new(WordWorker {
                session: store.session().map_err(|e| e.to_string())?,
                depth,
                io_depth: self.io_depth,
            }),
            FasterStore::Bytes(store, size) => Box::new(BytesWorker {
                session: store.session().map_err(|e| e.to_string())?,
                value: vec![0xAB; *size],
                depth,
            }),
        })
    }
}

struct WordWorker {
    session: Session<u64, u64>,
    depth: usize,
    io_depth: usize,
}

impl WordWorker {
    /// `ops` with up to `io_depth` of them waiting for the device at once, all finished on
    /// return, with the same prefetch hints as one operation at a time (`depth` ahead).
    /// `samples` get the time to start an operation, every `sample_every`.
    fn run_deep(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String> {
        let io_depth = self.io_depth;
        let s = std::cell::RefCell::new(self.session.pin());
        let check = |completions: Vec<faster_kv::PendingCompletion<u64>>| {
            completions.into_iter().try_for_each(|c| {
                black_box(c.result.map_err(|e| e.to_string())?);
                Ok::<(), String>(())
            })
        };
        let start = |step| {
            let mut s = s.borrow_mut();
            match step {
                Step::PrefetchBucket(k) => s.prefetch_bucket(&k).map_err(|e| e.to_string())?,
                Step::PrefetchRecord(k) => s.prefetch_record(&k).map_err(|e| e.to_string())?,
                Step::Run(Op::Read(k)) => {
                    black_box(s.start_read(&k).map_err(|e| e.to_string())?);
                }
                Step::Run(Op::Upsert(k)) => s.upsert(&k, &k).map_err(|e| e.to_string())?,
                Step::Run(Op::Rmw(k)) => {
                    let add = |v: Option<&u64>| v.copied().unwrap_or(0).wrapping_add(1);
                    black_box(s.start_rmw(&k, add).map_err(|e| e.to_string())?);
                }
            }
            Ok(())
        };
        // Untimed: finishing what the device completed once the queue is full.
        let drain = || {
            let mut s = s.borrow_mut();
            while s.pending_count() >= io_depth {
                check(s.complete_pending(false))?;
                if s.pending_count() >= io_depth {
                    // Let flushes and evictions go on while the device works.
                    s.refresh();
                    std::thread::yield_now();
                }
            }
            Ok(())
        };
        drive_ahead_then(ops, self.depth, sample_every, samples, start, drain)?;
        check(s.borrow_mut().complete_pending(true))
    }
}

impl Worker for WordWorker {
    fn run(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String> {
        if self.io_depth > 0 {
            return self.run_deep(ops, sample_every, samples);
        }
        let mut s = self.session.pin();
        drive_ahead(ops, self.depth, sample_every, samples, |step| {
            match step {
                Step::PrefetchBucket(k) => s.prefetch_bucket(&k).map_err(|e| e.to_string())?,
                Step::PrefetchRecord(k) => s.prefetch_record(&k).map_err(|e| e.to_string())?,
                Step::Run(Op::Read(k)) => {
                    black_box(s.read(&k).map_err(|e| e.to_string())?);
                }
                Step::Run(Op::Upsert(k)) => s.upsert(&k, &k).map_err(|e| e.to_string())?,
                Step::Run(Op::Rmw(k)) => {
                    black_box(s.add(&k, 1).map_err(|e| e.to_string())?);
                }
            }
            Ok(())
        })
    }

    fn load(&mut self, keys: &[u64]) -> Result<(), String> {
        let ops: Vec<Op> = keys.iter().map(|&k| Op::Upsert(k)).collect();
        self.run(&ops, usize::MAX, &mut Vec::new())
    }

    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String> {
        let mut s = self.session.pin();
        for (key, slot) in (first..).zip(out.iter_mut()) {
            *slot = match s.read(&key) {
                Ok(Some(v)) => Found::Value(v),
                Ok(None) => Found::Missing,
                Err(e) => Found::Error(e.to_string()),
            };
        }
        Ok(())
    }
}

struct BytesWorker {
    session: Session<u64, [u8]>,
    /// The value buffer: the number in the first 8 bytes, then padding.
    value: Vec<u8>,
    depth: usize,
}

/// The number held in a byte-string value's first 8 bytes.
fn number(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// Stores `n` in a byte-string value's first 8 bytes.
fn set_number(bytes: &mut [u8], n: u64) {
    if let Some(head) = bytes.get_mut(..8) {
        head.copy_from_slice(&n.to_le_bytes());
    }
}

impl Worker for BytesWorker {
    fn run(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String> {
        let Self {
            session,
            value,
            depth,
        } = self;
        let padding = value.clone();
        let mut s = session.pin();
        drive_ahead(ops, *depth, sample_every, samples, |step| {
            let op = match step {
                Step::PrefetchBucket(k) => return s.prefetch_bucket(&k).map_err(|e| e.to_string()),
                Step::PrefetchRecord(k) => return s.prefetch_record(&k).map_err(|e| e.to_string()),
                Step::Run(op) => op,
            };
            match op {
                Op::Read(k) => {
                    black_box(s.read(&k).map_err(|e| e.to_string())?);
                }
                Op::Upsert(k) => {
                    set_number(value, k);
                    s.upsert(&k, value).map_err(|e| e.to_string())?;
                }
                Op::Rmw(k) => {
                    let bumped = s.rmw(&k, |old: Option<&[u8]>| {
                        let mut v = old.map_or_else(|| padding.clone(), <[u8]>::to_vec);
                        set_number(&mut v, old.and_then(number).unwrap_or(0).wrapping_add(1));
                        v
                    });
                    black_box(bumped.map_err(|e| e.to_string())?);
                }
            }
            Ok(())
        })
    }

    fn load(&mut self, keys: &[u64]) -> Result<(), String> {
        let Self { session, value, .. } = self;
        let mut s = session.pin();
        for &k in keys {
            set_number(value, k);
            s.upsert(&k, value).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String> {
        let mut s = self.session.pin();
        for (key, slot) in (first..).zip(out.iter_mut()) {
            *slot = match s.read(&key) {
                Ok(Some(v)) => number(&v).map_or_else(
                    || Found::Error(format!("a {}-byte value", v.len())),
                    Found::Value,
                ),
                Ok(None) => Found::Missing,
                Err(e) => Found::Error(e.to_string()),
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Op, Step, drive_ahead, drive_ahead_then};
    use std::cell::RefCell;

    /// Every operation runs once, in order, and its key was prefetched (bucket, then record)
    /// before it ran; latency samples time operations only.
    #[test]
    fn drive_ahead_runs_every_op_in_order_after_its_hints() {
        let ops: Vec<Op> = (0..100u64)
            .map(|k| if k % 3 == 0 { Op::Read(k) } else { Op::Rmw(k) })
            .collect();
        for depth in [0, 1, 2, 16, 500] {
            let mut steps = Vec::new();
            let mut samples = Vec::new();
            drive_ahead(&ops, depth, 10, &mut samples, |step| {
                steps.push(step);
                Ok(())
            })
            .unwrap();
            let ran: Vec<Op> = steps
                .iter()
                .filter_map(|s| match s {
                    Step::Run(op) => Some(*op),
                    _ => None,
                })
                .collect();
            assert_eq!(ran, ops, "depth {depth}");
            assert_eq!(samples.len(), 10, "depth {depth}");
            for op in &ops {
                let k = op.key();
                let at = |want: &dyn Fn(&Step) -> bool| steps.iter().position(want);
                let run = at(&|s| matches!(s, Step::Run(o) if o == op)).unwrap();
                let bucket = at(&|s| matches!(s, Step::PrefetchBucket(x) if *x == k));
                let record = at(&|s| matches!(s, Step::PrefetchRecord(x) if *x == k));
                if depth == 0 {
                    assert_eq!((bucket, record), (None, None));
                } else {
                    let (bucket, record) = (bucket.unwrap(), record.unwrap());
                    assert!(bucket < record && record < run, "depth {depth} key {k}");
                }
            }
        }
    }

    /// `after` runs once after each operation, before the next operation or hint.
    #[test]
    fn drive_ahead_then_follows_each_operation_with_after() {
        let ops: Vec<Op> = (0..50u64).map(Op::Read).collect();
        for depth in [0, 1, 16] {
            // `None` marks a call of `after`.
            let log = RefCell::new(Vec::new());
            drive_ahead_then(
                &ops,
                depth,
                usize::MAX,
                &mut Vec::new(),
                |step| {
                    log.borrow_mut().push(Some(step));
                    Ok(())
                },
                || {
                    log.borrow_mut().push(None);
                    Ok(())
                },
            )
            .unwrap();
            let log = log.into_inner();
            let afters = log.iter().filter(|s| s.is_none()).count();
            assert_eq!(afters, ops.len(), "depth {depth}");
            for (i, step) in log.iter().enumerate() {
                let is_run = matches!(step, Some(Step::Run(_)));
                assert_eq!(
                    is_run,
                    log.get(i + 1).is_some_and(Option::is_none),
                    "depth {depth} step {i}"
                );
            }
        }
    }
}
