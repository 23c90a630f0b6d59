//! The benchmark's results: measured runs, verification outcomes and each system's status,
//! gathered from the events of [`super::runner::measure`] (in this process or a child's), then
//! printed as a table for people ([`super::table`]) or as JSON for machines.

use serde::{Deserialize, Serialize};

use super::header::{Mode, Settings};
use super::runner::{Event, Phase};
use super::systems::Found;

/// One measured run (or the load).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunResult {
    pub(crate) system: String,
    pub(crate) workload: String,
    pub(crate) distribution: String,
    pub(crate) threads: usize,
    pub(crate) ops: u64,
    pub(crate) seconds: f64,
    pub(crate) mops: f64,
    /// Median latency of the sampled operations, in nanoseconds.
    pub(crate) p50_ns: Option<u32>,
    /// 99th percentile latency of the sampled operations, in nanoseconds.
    pub(crate) p99_ns: Option<u32>,
    /// Whether the operations ran pipelined or one at a time (what the latencies mean
    /// depends on it).
    #[serde(default)]
    pub(crate) mode: Mode,
    /// Requests each thread completed (timed runs only): what verification replays.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) thread_ops: Vec<u64>,
    /// Seconds each checkpoint taken during the run lasted, from start to durable
    /// (`--checkpoint-every`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) checkpoint_seconds: Vec<f64>,
}

impl RunResult {
    pub(crate) fn new(
        system: String,
        workload: &str,
        distribution: &str,
        threads: usize,
        ops: u64,
        seconds: f64,
        samples: Vec<u32>,
    ) -> Self {
        let latencies: crate::latency::Latencies = samples.into_iter().map(u64::from).collect();
        let percentile = |p: f64| {
            latencies
                .quantile_nanos(p)
                .map(|ns| u32::try_from(ns).unwrap_or(u32::MAX))
        };
        Self {
            system,
            workload: workload.to_string(),
            distribution: distribution.to_string(),
            threads,
            ops,
            seconds,
            mops: ops as f64 / seconds.max(1e-9) / 1e6,
            p50_ns: percentile(0.50),
            p99_ns: percentile(0.99),
            mode: Mode::Single,
            thread_ops: Vec::new(),
            checkpoint_seconds: Vec::new(),
        }
    }

    /// Whether `self` and `other` measure the same cell (workload, distribution, threads).
    pub(crate) fn same_cell(&self, other: &Self) -> bool {
        self.workload == other.workload
            && self.distribution == other.distribution
            && self.threads == other.threads
    }
}

/// A key that read back wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Mismatch {
    pub(crate) key: u64,
    pub(crate) expected: u64,
    pub(crate) found: Found,
}

/// The outcome of reading every key back.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Verification {
    /// Keys to check.
    pub(crate) keys: u64,
    /// Keys read back: all of them, unless the time allowed ran out.
    pub(crate) checked: u64,
    /// Keys whose value was not the expected one (missing, wrong or an error).
    pub(crate) wrong: u64,
    /// The first few wrong keys.
    pub(crate) examples: Vec<Mismatch>,
    pub(crate) seconds: f64,
}

impl Verification {
    /// No key read back wrong.
    pub(crate) fn ok(&self) -> bool {
        self.wrong == 0
    }

    /// Every key was read back.
    pub(crate) fn complete(&self) -> bool {
        self.checked == self.keys
    }

    /// "20000 keys ok", or "3 of 20000 keys wrong (key 5: expected 6, found 5; …)".
    pub(crate) fn summary(&self) -> String {
        let scope = if self.complete() {
            format!("{} keys", self.keys)
        } else {
            format!(
                "{} of {} keys checked (the {:.0} s allowed ran out)",
                self.checked, self.keys, self.seconds
            )
        };
        if self.ok() {
            return format!("{scope}: ok");
        }
        let examples: Vec<String> = self
            .examples
            .iter()
            .map(|m| {
                let found = match &m.found {
                    Found::Value(v) => format!("found {v}"),
                    Found::Missing => "missing".to_string(),
                    Found::Error(e) => format!("error: {e}"),
                };
                format!("key {}: expected {}, {found}", m.key, m.expected)
            })
            .collect();
        format!("{scope}: {} wrong ({})", self.wrong, examples.join("; "))
    }
}

/// How a system's benchmark ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// Every run finished and every key read back right.
    Ok,
    /// Some key read back wrong (the throughput is still reported, flagged).
    WrongData,
    /// Its child process made no progress within the time limit and was killed.
    Hung,
    /// Its child process was killed at a time limit while still making progress: counting
    /// keys in its load or a check, or in a timed run after its load had finished.
    TooSlow,
    /// Its child process exited with an error or panicked.
    Crashed,
    /// Not run (peers need 8-byte values).
    Skipped,
}

impl Status {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::WrongData => "WRONG DATA",
            Self::Hung => "HUNG",
            Self::TooSlow => "TOO SLOW",
            Self::Crashed => "CRASHED",
            Self::Skipped => "skipped",
        }
    }
}

/// Everything measured and checked about one system.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SystemReport {
    pub(crate) name: String,
    pub(crate) status: Status,
    /// Why it hung, crashed or was skipped (with a crashed child's stderr tail).
    pub(crate) detail: Option<String>,
    /// Every key read back after the load (each must hold its own number).
    pub(crate) after_load: Option<Verification>,
    /// Every key read back after all runs (key + the RMWs applied to it).
    pub(crate) after_runs: Option<Verification>,
    /// Operations the system reported as failed during the runs.
    pub(crate) failed_ops: u64,
    pub(crate) first_failure: Option<String>,
    pub(crate) results: Vec<RunResult>,
    /// Wall-clock seconds of the system's whole benchmark: load, runs and checks.
    pub(crate) seconds: f64,
    /// What faster-kv held in memory, beside its budget (faster-kv only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) memory: Option<MemoryReport>,
    /// Whether the system reported the end of its benchmark.
    #[serde(skip)]
    pub(crate) done: bool,
}

/// The memory faster-kv held at the end of its runs.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct MemoryReport {
    /// The log's memory budget asked for.
    pub(crate) log_budget: u64,
    /// Bytes of log pages it kept (a power-of-two number of pages).
    pub(crate) log_bytes: u64,
    /// Bytes of its hash index, outside the log budget.
    pub(crate) index_bytes: u64,
    /// Bytes of its read cache (0 without one), outside the log budget.
    #[serde(default)]
    pub(crate) read_cache_bytes: u64,
    /// The read cache's hits and misses, when it has one.
    #[serde(default)]
    pub(crate) read_cache_hits: Option<(u64, u64)>,
    /// The benchmark process's peak resident set (`VmHWM`), when the system reports it.
    pub(crate) peak_rss_bytes: Option<u64>,
}

impl MemoryReport {
    /// One line for the table's notes.
    pub(crate) fn line(&self) -> String {
        let mib = |b: u64| b as f64 / f64::from(1 << 20);
        let rss = self.peak_rss_bytes.map_or_else(
            || "peak RSS unknown".to_string(),
            |b| format!("peak RSS of the process {:.1} MiB", mib(b)),
        );
        let cache = match self.read_cache_hits {
            Some((hits, misses)) => format!(
                ", read cache {:.1} MiB outside it ({hits} hits, {misses} misses)",
                mib(self.read_cache_bytes)
            ),
            None => String::new(),
        };
        format!(
            "log pages {:.1} MiB of a {:.1} MiB budget (a power-of-two number of pages), index \
             {:.1} MiB outside it{cache}, {rss}",
            mib(self.log_bytes),
            mib(self.log_budget),
            mib(self.index_bytes)
        )
    }
}

/// This process's peak resident set size, from `/proc/self/status`.
pub(crate) fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl SystemReport {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            status: Status::Ok,
            detail: None,
            after_load: None,
            after_runs: None,
            failed_ops: 0,
            first_failure: None,
            results: Vec::new(),
            seconds: 0.0,
            memory: None,
            done: false,
        }
    }

    pub(crate) fn skipped(name: &str, why: &str) -> Self {
        Self {
            status: Status::Skipped,
            detail: Some(why.to_string()),
            ..Self::new(name)
        }
    }

    /// Takes in one event of the system's benchmark.
    pub(crate) fn apply(&mut self, event: Event) {
        match event {
            Event::Stage { .. } | Event::Progress { .. } => {}
            Event::Result { result } => self.results.push(result),
            Event::Verified {
                phase,
                verification,
            } => match phase {
                Phase::AfterLoad => self.after_load = Some(verification),
                Phase::AfterRuns => self.after_runs = Some(verification),
            },
            Event::Done {
                failed_ops,
                first_failure,
            } => {
                self.failed_ops = failed_ops;
                self.first_failure = first_failure;
                self.done = true;
            }
        }
    }

    /// Whether some key read back wrong.
    pub(crate) fn wrong_data(&self) -> bool {
        [&self.after_load, &self.after_runs]
            .iter()
            .any(|v| v.as_ref().is_some_and(|v| !v.ok()))
    }

    /// Settles the status once the benchmark ended: a hang or crash stays; otherwise wrong
    /// data if any key read back wrong.
    pub(crate) fn settle(&mut self) {
        if self.status == Status::Ok && self.wrong_data() {
            self.status = Status::WrongData;
        }
    }

    /// The mark of this system's rows: whether its values were verified.
    pub(crate) fn data_mark(&self) -> &'static str {
        let complete = [&self.after_load, &self.after_runs]
            .iter()
            .all(|v| v.as_ref().is_some_and(Verification::complete));
        if self.wrong_data() {
            "WRONG"
        } else if complete {
            "ok"
        } else if self.after_runs.is_some() {
            "ok, partly"
        } else if self.after_load.is_some() {
            "load ok"
        } else {
            "-"
        }
    }
}

/// faster-kv's throughput divided by a peer's in one cell.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Ratio {
    pub(crate) peer: String,
    pub(crate) workload: String,
    pub(crate) distribution: String,
    pub(crate) threads: usize,
    pub(crate) faster_kv_mops: f64,
    pub(crate) peer_mops: f64,
    /// faster-kv Mops/s ÷ peer Mops/s: above 1, faster-kv is faster.
    pub(crate) ratio: f64,
    /// The peer returned wrong data, so its figure is suspect.
    pub(crate) peer_wrong_data: bool,
}

/// The ratios of faster-kv (the first report) to every other system, cell by cell.
pub(crate) fn ratios(systems: &[SystemReport]) -> Vec<Ratio> {
    let Some((faster, peers)) = systems.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for peer in peers.iter().filter(|p| p.name != super::CHECKPOINTING) {
        for ours in &faster.results {
            if let Some(theirs) = peer.results.iter().find(|r| r.same_cell(ours)) {
                out.push(Ratio {
                    peer: peer.name.clone(),
                    workload: ours.workload.clone(),
                    distribution: ours.distribution.clone(),
                    threads: ours.threads,
                    faster_kv_mops: ours.mops,
                    peer_mops: theirs.mops,
                    ratio: ours.mops / theirs.mops.max(1e-12),
                    peer_wrong_data: peer.wrong_data(),
                });
            }
        }
    }
    out
}

/// One plan's results, as `--json` prints them.
#[derive(Serialize)]
pub(crate) struct Report {
    settings: Settings,
    systems: Vec<SystemReport>,
    ratios: Vec<Ratio>,
}

impl Report {
    pub(crate) fn new(settings: Settings, systems: Vec<SystemReport>) -> Self {
        let ratios = ratios(&systems);
        Self {
            settings,
            systems,
            ratios,
        }
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn systems(&self) -> &[SystemReport] {
        &self.systems
    }
}

/// The JSON of the reports as `--json` prints it: the one report, or an array of several
/// (one per memory budget).
pub(crate) fn json_text(reports: &[Report]) -> Result<String, String> {
    match reports {
        [one] => serde_json::to_string_pretty(one),
        many => serde_json::to_string_pretty(many),
    }
    .map_err(|e| e.to_string())
}

/// Prints the reports as JSON on stdout.
pub(crate) fn print_json(reports: &[Report]) -> Result<(), String> {
    println!("{}", json_text(reports)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_percentiles_are_read_from_a_histogram_of_its_samples() {
        // Shuffled 1..=1000 ns: below 2048 ns the histogram keeps every nanosecond apart, so
        // the median is the 500th sample and the 99th percentile the 990th.
        let samples: Vec<u32> = (1..=1000u32).map(|i| (i * 7919) % 1000 + 1).collect();
        let run = RunResult::new("s".into(), "a", "uniform", 1, 1000, 1.0, samples);
        assert_eq!((run.p50_ns, run.p99_ns), (Some(500), Some(990)));
        let none = RunResult::new("s".into(), "a", "uniform", 1, 0, 1.0, Vec::new());
        assert_eq!((none.p50_ns, none.p99_ns), (None, None));
    }
}
