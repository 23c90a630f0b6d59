//! Verification: read every key back and compare it with what the benchmark wrote.
//!
//! After the load every key `k` holds `k`. Upserts store `k` again and RMWs add 1, so after the
//! runs `k` holds `k` plus the RMWs applied to it since its last upsert. Those counts are
//! recomputed, outside the timed part, from each run's requests ([`Plan::requests`] gives the
//! same list every time) and the number of requests each thread completed: thread `t` of a run
//! that completed `done` requests applied the first `done` of its list, cycling through it.
//! Runs never mix upserts with RMWs, so replaying runs in order gives exact counts.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::plan::Plan;
use super::report::{Mismatch, Verification};
use super::runner::{Event, join_reporting};
use super::systems::{Found, Op, System};

/// Wrong keys kept as examples.
const EXAMPLES: usize = 5;
/// Keys read back per call into a worker.
const CHUNK: u64 = 4096;

/// For every key, the RMWs applied to it since its last upsert, given the runs completed in
/// order as (index into `plan.runs`, requests completed by each thread).
pub(crate) fn expected_counts(plan: &Plan, completed: &[(usize, Vec<u64>)]) -> Vec<u64> {
    let mut counts = vec![0u64; usize::try_from(plan.keys).unwrap_or(0)];
    let mut any_rmw = false;
    for (index, thread_ops) in completed {
        let Some(run) = plan.runs.get(*index) else {
            continue;
        };
        // Upserts only matter once some RMW has moved a value away from its key.
        if !run.workload.writes() || !(run.workload.rmw || any_rmw) {
            continue;
        }
        any_rmw |= run.workload.rmw;
        let lists: Vec<Vec<Op>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..thread_ops.len())
                .map(|t| scope.spawn(move || plan.requests(run, t)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (requests, &done) in lists.iter().zip(thread_ops) {
            replay(requests, done, &mut counts);
        }
    }
    counts
}

/// Applies the first `done` requests of `requests`, cycling, to `counts`.
fn replay(requests: &[Op], done: u64, counts: &mut [u64]) {
    let len = requests.len() as u64;
    if len == 0 {
        return;
    }
    let (cycles, rest) = (done / len, done % len);
    for (i, op) in (0u64..).zip(requests) {
        let times = cycles + u64::from(i < rest);
        if times == 0 {
            break;
        }
        match *op {
            Op::Read(_) => {}
            Op::Upsert(k) => {
                if let Some(c) = usize::try_from(k).ok().and_then(|k| counts.get_mut(k)) {
                    *c = 0;
                }
            }
            Op::Rmw(k) => {
                if let Some(c) = usize::try_from(k).ok().and_then(|k| counts.get_mut(k)) {
                    *c += times;
                }
            }
        }
    }
}

/// Reads keys `0..keys` back from `threads` threads and compares each with its number plus its
/// count in `counts` (none: plus 0). Each thread stops, with part of its share unchecked, when
/// `limit` has passed: a system too slow to read back every key is reported as checked in part.
///
/// # Errors
/// When a worker cannot be made or a thread panics; wrong values are not errors.
pub(crate) fn check(
    system: &dyn System,
    keys: u64,
    threads: usize,
    counts: Option<&[u64]>,
    limit: Duration,
    sink: &mut dyn FnMut(Event),
) -> Result<Verification, String> {
    let start = Instant::now();
    // No deadline when `limit` is too long to count.
    let deadline = start.checked_add(limit);
    let share = keys.div_ceil(threads.max(1) as u64).max(1);
    let done = AtomicU64::new(0);
    let parts: Vec<(u64, u64, Vec<Mismatch>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..keys.div_ceil(share))
            .map(|t| {
                let range = t * share..((t + 1) * share).min(keys);
                let done = &done;
                scope.spawn(move || check_range(system, range, counts, deadline, done))
            })
            .collect();
        join_reporting(handles, &done, sink)
    })?;
    let mut verification = Verification {
        keys,
        ..Verification::default()
    };
    for (checked, wrong, examples) in parts {
        verification.checked += checked;
        verification.wrong += wrong;
        verification.examples.extend(examples);
    }
    verification.examples.sort_by_key(|m| m.key);
    verification.examples.truncate(EXAMPLES);
    verification.seconds = start.elapsed().as_secs_f64();
    Ok(verification)
}

fn check_range(
    system: &dyn System,
    range: Range<u64>,
    counts: Option<&[u64]>,
    deadline: Option<Instant>,
    done: &AtomicU64,
) -> Result<(u64, u64, Vec<Mismatch>), String> {
    let mut worker = system.worker()?;
    let mut found = vec![Found::Missing; CHUNK as usize];
    let (mut wrong, mut examples) = (0u64, Vec::new());
    let mut first = range.start;
    while first < range.end && deadline.is_none_or(|d| Instant::now() < d) {
        let n = (range.end - first).min(CHUNK);
        let out = &mut found[..n as usize];
        out.fill(Found::Missing);
        worker.read_back(first, out)?;
        for (key, got) in (first..).zip(out.iter()) {
            let count = counts
                .and_then(|c| usize::try_from(key).ok().and_then(|k| c.get(k)))
                .copied()
                .unwrap_or(0);
            let expected = key.wrapping_add(count);
            if *got != Found::Value(expected) {
                wrong += 1;
                if examples.len() < EXAMPLES {
                    examples.push(Mismatch {
                        key,
                        expected,
                        found: got.clone(),
                    });
                }
            }
        }
        first += n;
        done.fetch_add(n, Ordering::Relaxed);
    }
    Ok((first - range.start, wrong, examples))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::bench::report::{Status, SystemReport};
    use crate::bench::runner;
    use crate::bench::systems::Worker;
    use crate::bench::test_args;

    /// A map behind a lock; when `lossy`, it drops the first RMW asked of it after an upsert
    /// (so that no later upsert hides the loss).
    struct FakeSystem {
        map: Mutex<HashMap<u64, u64>>,
        lossy: bool,
        upserted: AtomicBool,
        dropped: AtomicBool,
    }

    impl FakeSystem {
        fn new(lossy: bool) -> Self {
            Self {
                map: Mutex::new(HashMap::new()),
                lossy,
                upserted: AtomicBool::new(false),
                dropped: AtomicBool::new(false),
            }
        }
    }

    struct FakeWorker<'a>(&'a FakeSystem);

    impl System for FakeSystem {
        fn name(&self) -> String {
            "fake".into()
        }
        fn worker(&self) -> Result<Box<dyn Worker + '_>, String> {
            Ok(Box::new(FakeWorker(self)))
        }
    }

    impl Worker for FakeWorker<'_> {
        fn run(&mut self, ops: &[Op], _: usize, _: &mut Vec<u32>) -> Result<(), String> {
            let mut map = self.0.map.lock().map_err(|e| e.to_string())?;
            for op in ops {
                match *op {
                    Op::Read(_) => {}
                    Op::Upsert(k) => {
                        map.insert(k, k);
                        self.0.upserted.store(true, Ordering::Relaxed);
                    }
                    Op::Rmw(k) => {
                        if self.0.lossy
                            && self.0.upserted.load(Ordering::Relaxed)
                            && !self.0.dropped.swap(true, Ordering::Relaxed)
                        {
                            continue;
                        }
                        *map.entry(k).or_insert(0) += 1;
                    }
                }
            }
            Ok(())
        }
        fn load(&mut self, keys: &[u64]) -> Result<(), String> {
            let mut map = self.0.map.lock().map_err(|e| e.to_string())?;
            map.extend(keys.iter().map(|&k| (k, k)));
            Ok(())
        }
        fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String> {
            let map = self.0.map.lock().map_err(|e| e.to_string())?;
            for (k, slot) in (first..).zip(out) {
                *slot = map.get(&k).map_or(Found::Missing, |&v| Found::Value(v));
            }
            Ok(())
        }
    }

    /// Runs the whole benchmark on `system` with upserts both before and after RMWs, small
    /// request lists (so threads cycle through them many times) and two thread counts.
    fn bench(system: &FakeSystem) -> SystemReport {
        let args = test_args(&[
            "--keys",
            "3000",
            "--duration",
            "0.05",
            "--threads",
            "1,2",
            "--workloads",
            "rmw,50-50,rmw",
            "--requests-per-thread",
            "1000",
        ]);
        let plan = Plan::from_args(&args).unwrap_or_else(|e| panic!("{e}"));
        let mut report = SystemReport::new("fake");
        runner::measure(system, &plan, &mut |e| report.apply(e)).unwrap_or_else(|e| panic!("{e}"));
        report.settle();
        report
    }

    #[test]
    fn replayed_counts_match_a_faithful_system() {
        let report = bench(&FakeSystem::new(false));
        let after_runs = report.after_runs.clone().unwrap_or_default();
        assert_eq!(report.status, Status::Ok, "{}", after_runs.summary());
        assert_eq!(after_runs.checked, 3000);
        let rmw_ops: u64 = report
            .results
            .iter()
            .filter(|r| r.workload == "100% rmw")
            .map(|r| r.ops)
            .sum();
        assert!(rmw_ops > 4 * 1000, "the runs cycled through their requests");
    }

    #[test]
    fn a_dropped_rmw_is_reported_as_wrong_data() {
        let report = bench(&FakeSystem::new(true));
        assert_eq!(report.status, Status::WrongData);
        assert!(report.after_load.as_ref().is_some_and(Verification::ok));
        let after_runs = report.after_runs.unwrap_or_default();
        assert_eq!(after_runs.wrong, 1, "{}", after_runs.summary());
        let [m] = &after_runs.examples[..] else {
            panic!("one example expected: {:?}", after_runs.examples);
        };
        assert_eq!(m.found, Found::Value(m.expected - 1));
    }

    #[test]
    fn replay_cycles_through_the_list() {
        let requests = [Op::Rmw(0), Op::Rmw(1), Op::Read(2), Op::Rmw(0)];
        let mut counts = vec![0; 3];
        replay(&requests, 10, &mut counts);
        // Two full cycles (2 × [0, 1, 0]) and then Rmw(0), Rmw(1).
        assert_eq!(counts, [5, 3, 0]);
        replay(&[Op::Upsert(0), Op::Read(1)], 1, &mut counts);
        assert_eq!(counts, [0, 3, 0]);
    }
}
