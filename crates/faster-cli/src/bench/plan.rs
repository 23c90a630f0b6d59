//! What a benchmark runs: the workloads, key distributions and thread counts, in order, and
//! each thread's requests.
//!
//! Requests are a pure function of (seed, thread, workload, distribution, key count): a run
//! generates them before its clock starts, and verification generates them again afterwards to
//! work out what the run wrote. Nothing else in the benchmark may draw from these generators.

use std::time::Duration;

use super::BenchArgs;
use super::keys::{self, Distribution, Rng, Zipf};
use super::systems::Op;

/// A mix of operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Workload {
    /// The name in reports.
    pub(crate) name: &'static str,
    /// Percent of reads; the rest are upserts, unless `rmw`.
    pub(crate) read_percent: u64,
    /// Every operation is a read-modify-write (add 1).
    pub(crate) rmw: bool,
}

impl Workload {
    /// The workload named `name` on the command line: read, 95-5, 50-50 or rmw.
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "read" => Self {
                name: "100% read",
                read_percent: 100,
                rmw: false,
            },
            "95-5" => Self {
                name: "95/5 r/u",
                read_percent: 95,
                rmw: false,
            },
            "50-50" => Self {
                name: "50/50 r/u",
                read_percent: 50,
                rmw: false,
            },
            "rmw" => Self {
                name: "100% rmw",
                read_percent: 0,
                rmw: true,
            },
            other => {
                return Err(format!(
                    "unknown workload `{other}` (read, 95-5, 50-50, rmw)"
                ));
            }
        })
    }

    /// Whether a run of this workload can change stored values.
    pub(crate) fn writes(&self) -> bool {
        self.rmw || self.read_percent < 100
    }
}

/// One timed run: a workload on a distribution with a number of threads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunSpec {
    pub(crate) workload: Workload,
    /// Index into [`Plan::distributions`].
    pub(crate) distribution: usize,
    pub(crate) threads: usize,
}

/// Everything a system's benchmark needs, shared by the parent and its child processes.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) keys: u64,
    pub(crate) seed: u64,
    /// Seconds per timed run.
    pub(crate) duration: f64,
    pub(crate) distributions: Vec<Distribution>,
    /// The timed runs, in the order they run.
    pub(crate) runs: Vec<RunSpec>,
    /// Threads of the load and of verification: the largest thread count.
    pub(crate) max_threads: usize,
    /// Requests generated per thread before a run (replayed in a loop).
    pub(crate) requests_per_thread: usize,
    /// How long reading every key back may take: 10 s + 2 s per million keys for peers;
    /// faster-kv reads every key back, however long it takes.
    pub(crate) verify_limit: Duration,
    /// Take a checkpoint this often during timed runs (systems that can).
    pub(crate) checkpoint_every: Option<Duration>,
}

impl Plan {
    /// The plan of `faster bench`'s options.
    pub(crate) fn from_args(args: &BenchArgs) -> Result<Self, String> {
        let keys = args.keys;
        if keys < 2 {
            return Err("--keys must be at least 2".into());
        }
        if args.threads.is_empty() || args.threads.contains(&0) {
            return Err("--threads needs positive counts".into());
        }
        if !(args.duration.is_finite() && args.duration > 0.0) {
            return Err("--duration must be a positive number of seconds".into());
        }
        if args.requests_per_thread == 0 {
            return Err("--requests-per-thread must be positive".into());
        }
        let (workloads, distributions, threads) =
            (&args.workloads, &args.distribution, &args.threads);
        let workloads: Vec<Workload> = workloads
            .iter()
            .map(|w| Workload::parse(w))
            .collect::<Result<_, _>>()?;
        let mut zipf = None;
        let distributions: Vec<Distribution> = distributions
            .iter()
            .map(|d| match d.as_str() {
                "uniform" => Ok(Distribution::Uniform),
                "zipf" => Ok(Distribution::Zipfian(
                    zipf.get_or_insert_with(|| Zipf::new(keys, args.theta))
                        .clone(),
                )),
                other => Err(format!("unknown distribution `{other}` (uniform, zipf)")),
            })
            .collect::<Result<_, _>>()?;
        let mut runs = Vec::new();
        for &workload in &workloads {
            for distribution in 0..distributions.len() {
                for &threads in threads {
                    runs.push(RunSpec {
                        workload,
                        distribution,
                        threads,
                    });
                }
            }
        }
        Ok(Self {
            keys,
            seed: args.seed,
            duration: args.duration,
            distributions,
            runs,
            max_threads: threads.iter().copied().max().unwrap_or(1),
            requests_per_thread: args.requests_per_thread,
            verify_limit: Duration::from_secs_f64(10.0 + 2.0 * keys as f64 / 1e6),
            checkpoint_every: None,
        })
    }

    /// The keys `0..keys` in the order the load inserts them.
    pub(crate) fn load_order(&self) -> Vec<u64> {
        keys::shuffled(self.keys, self.seed)
    }

    /// A short description of `run` for reports and progress.
    pub(crate) fn describe(&self, run: &RunSpec) -> String {
        format!(
            "{} {} {} thr",
            run.workload.name,
            self.distribution_name(run),
            run.threads
        )
    }

    /// The name of `run`'s distribution.
    pub(crate) fn distribution_name(&self, run: &RunSpec) -> String {
        self.distributions
            .get(run.distribution)
            .map_or_else(|| "?".into(), Distribution::name)
    }

    /// The requests of thread `thread` in `run`: the same list every time it is asked for.
    pub(crate) fn requests(&self, run: &RunSpec, thread: usize) -> Vec<Op> {
        let Some(distribution) = self.distributions.get(run.distribution) else {
            return Vec::new();
        };
        let mut rng = Rng::new(self.seed ^ (thread as u64 + 1).wrapping_mul(0x1234_5678_9ABC));
        (0..self.requests_per_thread)
            .map(|_| {
                let key = distribution.key(&mut rng, self.keys);
                if run.workload.rmw {
                    Op::Rmw(key)
                } else if rng.below(100) < run.workload.read_percent {
                    Op::Read(key)
                } else {
                    Op::Upsert(key)
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let args = crate::bench::test_args(&[
            "--keys",
            "1000",
            "--seed",
            "7",
            "--workloads",
            "50-50,rmw",
            "--requests-per-thread",
            "500",
        ]);
        Plan::from_args(&args).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn runs_are_workload_major_then_distribution_then_threads() {
        let plan = plan();
        let described: Vec<String> = plan.runs.iter().map(|r| plan.describe(r)).collect();
        assert_eq!(
            described,
            [
                "50/50 r/u uniform 1 thr",
                "50/50 r/u uniform 2 thr",
                "50/50 r/u zipf 0.99 1 thr",
                "50/50 r/u zipf 0.99 2 thr",
                "100% rmw uniform 1 thr",
                "100% rmw uniform 2 thr",
                "100% rmw zipf 0.99 1 thr",
                "100% rmw zipf 0.99 2 thr",
            ]
        );
        assert_eq!(plan.max_threads, 2);
    }

    #[test]
    fn requests_repeat_exactly_and_differ_by_thread() {
        let plan = plan();
        let run = plan.runs[0];
        let key = |op: &Op| match *op {
            Op::Read(k) | Op::Upsert(k) | Op::Rmw(k) => k,
        };
        let first: Vec<u64> = plan.requests(&run, 0).iter().map(key).collect();
        let again: Vec<u64> = plan.requests(&run, 0).iter().map(key).collect();
        let other: Vec<u64> = plan.requests(&run, 1).iter().map(key).collect();
        assert_eq!(first.len(), 500);
        assert_eq!(first, again);
        assert_ne!(first, other);
        assert!(first.iter().all(|&k| k < 1000));
        let upserts = plan
            .requests(&run, 0)
            .iter()
            .filter(|op| matches!(op, Op::Upsert(_)))
            .count();
        assert!((150..350).contains(&upserts), "{upserts} upserts of 500");
    }
}
