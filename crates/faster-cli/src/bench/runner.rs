//! One system's benchmark, start to end: load every key, read them all back, run every timed
//! run of the plan, then read every key back again against the values the runs must have
//! left. Progress is a stream of [`Event`]s: the parent turns them into a
//! [`SystemReport`](super::report::SystemReport) directly for faster-kv, and a child process
//! prints them for its parent to read (see [`super::child`]).

use std::io::IsTerminal;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::plan::{Plan, RunSpec};
use super::report::{RunResult, Verification};
use super::systems::System;
use super::verify;

/// Operations per call into a worker.
const BATCH: usize = 256;
/// One operation in this many is timed for the latency percentiles.
pub(crate) const SAMPLE_EVERY: usize = 128;

/// Which verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Phase {
    /// After the load: every key holds its own number.
    AfterLoad,
    /// After all runs: every key holds its number plus the RMWs applied to it.
    AfterRuns,
}

/// A part of a system's benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Stage {
    Load,
    Verify {
        phase: Phase,
    },
    /// `Plan::runs[index]`.
    Run {
        index: usize,
    },
}

impl Stage {
    pub(crate) fn describe(self, plan: &Plan) -> String {
        match self {
            Self::Load => format!("loading {} keys", plan.keys),
            Self::Verify {
                phase: Phase::AfterLoad,
            } => "reading every key back after the load".into(),
            Self::Verify {
                phase: Phase::AfterRuns,
            } => "reading every key back after the runs".into(),
            Self::Run { index } => plan
                .runs
                .get(index)
                .map_or_else(|| format!("run {index}"), |run| plan.describe(run)),
        }
    }
}

/// What a system's benchmark reports as it goes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Event {
    /// A stage starts.
    Stage { stage: Stage },
    /// Keys done so far in a load or verification (every second or so).
    Progress { done: u64 },
    /// The load or a timed run finished.
    Result { result: RunResult },
    /// A verification finished.
    Verified {
        phase: Phase,
        verification: Verification,
    },
    /// The benchmark finished; the operations the system reported as failed.
    Done {
        failed_ops: u64,
        first_failure: Option<String>,
    },
}

/// Runs `plan` on `system`, reporting each step to `sink`.
///
/// # Errors
/// When a worker cannot be made, a thread panics, or faster-kv reports an error.
pub(crate) fn measure(
    system: &dyn System,
    plan: &Plan,
    sink: &mut dyn FnMut(Event),
) -> Result<(), String> {
    prepare(system, plan, sink)?;
    let mut completed = Vec::with_capacity(plan.runs.len());
    for index in 0..plan.runs.len() {
        run_one(system, plan, index, &mut completed, sink)?;
    }
    conclude(system, plan, &completed, sink)
}

/// Runs the same runs on two systems, each run of `a` followed at once by the same run of
/// `b`, so that both see the machine in the same state (this machine's throughput drifts by
/// tens of percent over minutes): the comparison of a store with and without checkpoints.
/// `plan_b` must have `plan_a`'s keys and runs.
///
/// # Errors
/// As [`measure`], for either system.
pub(crate) fn measure_pair(
    (a, plan_a, sink_a): (&dyn System, &Plan, &mut dyn FnMut(Event)),
    (b, plan_b, sink_b): (&dyn System, &Plan, &mut dyn FnMut(Event)),
) -> Result<(), String> {
    if plan_a.runs.len() != plan_b.runs.len() || plan_a.keys != plan_b.keys {
        return Err("paired systems need the same keys and runs".into());
    }
    prepare(a, plan_a, sink_a)?;
    prepare(b, plan_b, sink_b)?;
    let mut completed_a = Vec::with_capacity(plan_a.runs.len());
    let mut completed_b = Vec::with_capacity(plan_b.runs.len());
    for index in 0..plan_a.runs.len() {
        run_one(a, plan_a, index, &mut completed_a, sink_a)?;
        run_one(b, plan_b, index, &mut completed_b, sink_b)?;
    }
    conclude(a, plan_a, &completed_a, sink_a)?;
    conclude(b, plan_b, &completed_b, sink_b)
}

/// Loads every key and reads them all back.
fn prepare(system: &dyn System, plan: &Plan, sink: &mut dyn FnMut(Event)) -> Result<(), String> {
    sink(Event::Stage { stage: Stage::Load });
    let result = load(system, &plan.load_order(), plan.max_threads, sink)?;
    sink(Event::Result { result });

    let phase = Phase::AfterLoad;
    sink(Event::Stage {
        stage: Stage::Verify { phase },
    });
    let verification = verify::check(
        system,
        plan.keys,
        plan.max_threads,
        None,
        plan.verify_limit,
        sink,
    )?;
    sink(Event::Verified {
        phase,
        verification,
    });
    Ok(())
}

/// Timed run `index` of the plan; its per-thread operation counts go to `completed`.
fn run_one(
    system: &dyn System,
    plan: &Plan,
    index: usize,
    completed: &mut Vec<(usize, Vec<u64>)>,
    sink: &mut dyn FnMut(Event),
) -> Result<(), String> {
    let Some(run) = plan.runs.get(index) else {
        return Err(format!("no run {index} in the plan"));
    };
    sink(Event::Stage {
        stage: Stage::Run { index },
    });
    let result = timed_run(system, plan, run)?;
    completed.push((index, result.thread_ops.clone()));
    sink(Event::Result { result });
    Ok(())
}

/// Reads every key back against what the completed runs must have left, and reports the
/// system's failures.
fn conclude(
    system: &dyn System,
    plan: &Plan,
    completed: &[(usize, Vec<u64>)],
    sink: &mut dyn FnMut(Event),
) -> Result<(), String> {
    let phase = Phase::AfterRuns;
    sink(Event::Stage {
        stage: Stage::Verify { phase },
    });
    let counts = verify::expected_counts(plan, completed);
    let verification = verify::check(
        system,
        plan.keys,
        plan.max_threads,
        Some(&counts),
        plan.verify_limit,
        sink,
    )?;
    sink(Event::Verified {
        phase,
        verification,
    });

    let (failed_ops, first_failure) = system.failures();
    sink(Event::Done {
        failed_ops,
        first_failure,
    });
    Ok(())
}

/// Keys loaded, or read back, between two updates of the progress counter.
const PROGRESS_SLICE: usize = 1 << 16;
/// How often a load or verification reports its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Waits for `handles` (threads that add their progress to `done`), reporting `done` to
/// `sink` every [`PROGRESS_EVERY`] meanwhile; returns their results.
pub(crate) fn join_reporting<T>(
    handles: Vec<std::thread::ScopedJoinHandle<'_, Result<T, String>>>,
    done: &AtomicU64,
    sink: &mut dyn FnMut(Event),
) -> Result<Vec<T>, String> {
    let mut last = Instant::now();
    while !handles
        .iter()
        .all(std::thread::ScopedJoinHandle::is_finished)
    {
        std::thread::sleep(Duration::from_millis(20));
        if last.elapsed() >= PROGRESS_EVERY {
            last = Instant::now();
            sink(Event::Progress {
                done: done.load(Ordering::Relaxed),
            });
        }
    }
    handles
        .into_iter()
        .map(|h| h.join().map_err(|_| "a thread panicked".to_string())?)
        .collect()
}

/// Inserts every key of `order` from `threads` threads, each a contiguous share.
fn load(
    system: &dyn System,
    order: &[u64],
    threads: usize,
    sink: &mut dyn FnMut(Event),
) -> Result<RunResult, String> {
    let start = Instant::now();
    let share = order.len().div_ceil(threads).max(1);
    let done = AtomicU64::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = order
            .chunks(share)
            .map(|keys| {
                let done = &done;
                scope.spawn(move || {
                    let mut worker = system.worker()?;
                    for slice in keys.chunks(PROGRESS_SLICE) {
                        worker.load(slice)?;
                        done.fetch_add(slice.len() as u64, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        join_reporting(handles, &done, sink)
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let mut result = RunResult::new(
        system.name(),
        "load",
        "shuffled",
        threads,
        order.len() as u64,
        seconds,
        Vec::new(),
    );
    result.mode = system.mode(true);
    Ok(result)
}

/// One timed run: each thread generates its requests, then all replay theirs in batches
/// until the clock stops them.
fn timed_run(system: &dyn System, plan: &Plan, run: &RunSpec) -> Result<RunResult, String> {
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(run.threads + 1);
    let outcomes = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..run.threads)
            .map(|t| {
                let (stop, barrier) = (&stop, &barrier);
                scope.spawn(move || -> Result<(u64, Vec<u32>), String> {
                    let made = system.worker();
                    let requests = plan.requests(run, t);
                    // Meet the others even on failure, so that no thread waits forever.
                    barrier.wait();
                    let mut worker = made?;
                    let mut samples = Vec::new();
                    let mut done = 0u64;
                    'run: loop {
                        for batch in requests.chunks(BATCH) {
                            if stop.load(Ordering::Relaxed) {
                                break 'run;
                            }
                            worker.run(batch, SAMPLE_EVERY, &mut samples)?;
                            done += batch.len() as u64;
                        }
                    }
                    Ok((done, samples))
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let checkpointer = plan.checkpoint_every.map(|period| {
            let stop = &stop;
            scope.spawn(move || checkpoints(system, period, stop))
        });
        std::thread::sleep(Duration::from_secs_f64(plan.duration));
        stop.store(true, Ordering::Relaxed);
        let outcomes: Result<Vec<_>, String> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| "a benchmark thread panicked".to_string())?
            })
            .collect();
        // The clock stops with the workers; a checkpoint still running finishes after.
        let seconds = start.elapsed().as_secs_f64();
        let taken = match checkpointer {
            Some(h) => h
                .join()
                .map_err(|_| "the checkpoint thread panicked".to_string())??,
            None => Vec::new(),
        };
        outcomes.map(|o| (o, seconds, taken))
    });
    let (outcomes, seconds, checkpoint_seconds) = outcomes?;
    let thread_ops: Vec<u64> = outcomes.iter().map(|(n, _)| *n).collect();
    let samples = outcomes.into_iter().flat_map(|(_, s)| s).collect();
    let mut result = RunResult::new(
        system.name(),
        run.workload.name,
        &plan.distribution_name(run),
        run.threads,
        thread_ops.iter().sum(),
        seconds,
        samples,
    );
    result.thread_ops = thread_ops;
    result.mode = system.mode(false);
    result.checkpoint_seconds = checkpoint_seconds;
    Ok(result)
}

/// Takes a checkpoint every `period` (waiting for each to be durable) until `stop`; the
/// seconds each took. A checkpoint that outlasts the period is followed by the next at once.
fn checkpoints(
    system: &dyn System,
    period: Duration,
    stop: &AtomicBool,
) -> Result<Vec<f64>, String> {
    let mut taken = Vec::new();
    let mut next = Instant::now() + period;
    loop {
        while Instant::now() < next {
            if stop.load(Ordering::Relaxed) {
                return Ok(taken);
            }
            std::thread::sleep(
                Duration::from_millis(5).min(next.saturating_duration_since(Instant::now())),
            );
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(taken);
        }
        let began = Instant::now();
        match system.checkpoint() {
            None => return Ok(taken),
            Some(result) => result?,
        }
        taken.push(began.elapsed().as_secs_f64());
        next = (next + period).max(Instant::now());
    }
}

/// Progress on stderr for one system, driven by its events: a bar when stderr is a
/// terminal, otherwise one plain line per stage started and finished (a timed run's with its
/// throughput).
pub(crate) struct Progress {
    bar: ProgressBar,
    /// The current stage's description.
    stage: String,
    name: String,
    /// The timed run under way (an index into the plan's runs).
    run: Option<usize>,
    /// Plain lines instead of a bar.
    lines: bool,
}

impl Progress {
    /// Progress of `name` drawn among the bars of `group` (two systems measured together).
    pub(crate) fn in_group(group: &indicatif::MultiProgress, name: &str, plan: &Plan) -> Self {
        let mut progress = Self::new(name, plan, false);
        progress.bar = group.add(progress.bar);
        progress
    }

    /// Progress of `name`; none when `hidden` (a child process: its parent shows progress).
    pub(crate) fn new(name: &str, plan: &Plan, hidden: bool) -> Self {
        let steps = plan.runs.len() as u64 + 3;
        let bar = ProgressBar::new(steps).with_style(
            ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let terminal = std::io::stderr().is_terminal();
        if hidden || !terminal {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            stage: String::new(),
            name: name.to_string(),
            run: None,
            lines: !hidden && !terminal,
        }
    }

    pub(crate) fn on(&mut self, plan: &Plan, event: &Event) {
        if self.lines
            && let Some(line) = self.line(plan, event)
        {
            eprintln!("{line}");
        }
        match event {
            Event::Stage { stage } => {
                self.stage = stage.describe(plan);
                self.bar.set_message(self.stage.clone());
            }
            Event::Progress { done } => self
                .bar
                .set_message(format!("{}: {done} keys done", self.stage)),
            Event::Result { .. } | Event::Verified { .. } => self.bar.inc(1),
            Event::Done { .. } => {}
        }
    }

    /// The plain line that reports `event`, if any: "[3/12] faster-kv 95/5 r/u zipf 0.99 1 thr:
    /// 4.05 Mops/s (pipelined)" when a timed run ends.
    fn line(&mut self, plan: &Plan, event: &Event) -> Option<String> {
        let name = &self.name;
        let cell = |index: usize| {
            let what = Stage::Run { index }.describe(plan);
            format!("[{}/{}] {name} {what}", index + 1, plan.runs.len())
        };
        match event {
            Event::Stage {
                stage: Stage::Run { index },
            } => {
                self.run = Some(*index);
                Some(format!("{}: started", cell(*index)))
            }
            Event::Stage { stage } => {
                self.run = None;
                Some(format!("{name}: {}", stage.describe(plan)))
            }
            Event::Result { result } => Some(match self.run.take() {
                Some(index) => format!(
                    "{}: {:.2} Mops/s ({})",
                    cell(index),
                    result.mops,
                    result.mode.label()
                ),
                None => format!(
                    "{name}: {} {} keys in {:.1} s, {:.2} Mops/s",
                    result.workload, result.ops, result.seconds, result.mops
                ),
            }),
            Event::Verified {
                phase,
                verification,
            } => Some(format!(
                "{name}: {}: {}",
                match phase {
                    Phase::AfterLoad => "read back after the load",
                    Phase::AfterRuns => "read back after the runs",
                },
                verification.summary()
            )),
            Event::Progress { .. } | Event::Done { .. } => None,
        }
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_progress_says_which_cell_of_how_many_and_its_throughput() {
        let args = crate::bench::test_args(&["--keys", "1000", "--workloads", "95-5"]);
        let plan = Plan::from_args(&args).unwrap_or_else(|e| panic!("{e}"));
        let mut progress = Progress::new("faster-kv", &plan, true);
        let mut lines = Vec::new();
        let mut feed = |event: Event| lines.push(progress.line(&plan, &event));
        feed(Event::Stage { stage: Stage::Load });
        feed(Event::Progress { done: 10 });
        feed(Event::Result {
            result: RunResult::new("faster-kv".into(), "load", "shuffled", 2, 1000, 0.5, vec![]),
        });
        feed(Event::Stage {
            stage: Stage::Run { index: 2 },
        });
        let mut result = RunResult::new(
            "faster-kv".into(),
            "95/5 r/u",
            "zipf 0.99",
            1,
            4_050_000,
            1.0,
            vec![],
        );
        result.mode = super::super::header::Mode::Pipelined;
        feed(Event::Result { result });
        assert_eq!(
            lines,
            [
                Some("faster-kv: loading 1000 keys".to_string()),
                None,
                Some("faster-kv: load 1000 keys in 0.5 s, 0.00 Mops/s".to_string()),
                Some("[3/4] faster-kv 95/5 r/u zipf 0.99 1 thr: started".to_string()),
                Some(
                    "[3/4] faster-kv 95/5 r/u zipf 0.99 1 thr: 4.05 Mops/s (pipelined)".to_string()
                ),
            ]
        );
    }
}
