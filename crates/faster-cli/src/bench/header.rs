//! Every setting of a benchmark, worked out once from its options: printed as the header
//! before the runs (on stdout above the table, on stderr with `--json`) and echoed in the
//! JSON report, so that both say the same.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::plan::Plan;
use super::{BenchArgs, budgets, index_buckets, log_budget};

/// How a system's threads issue their operations in a cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    /// faster-kv with `--prefetch-depth` above 0 (the memory loads of the operations up to
    /// that many places ahead are started early) or `--io-depth` above 0 (up to that many
    /// operations wait for the device per thread).
    Pipelined,
    /// One operation at a time, each finished before the next starts: the peers, F2, and
    /// faster-kv with `--prefetch-depth 0 --io-depth 0`.
    #[default]
    Single,
}

impl Mode {
    /// The word in the table's `mode` column.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Pipelined => "pipelined",
            Self::Single => "single",
        }
    }
}

/// How faster-kv runs the timed cells of `args`: `--io-depth` applies to 8-byte values only.
pub(crate) fn faster_kv_mode(args: &BenchArgs) -> Mode {
    if args.prefetch_depth > 0 || (args.io_depth > 0 && args.value_size == 8) {
        Mode::Pipelined
    } else {
        Mode::Single
    }
}

/// The bytes of log pages faster-kv keeps for a budget of `budget` bytes: the budget rounded
/// down to a power-of-two number of pages (the store refuses fewer than 4).
pub(crate) fn kept_log_bytes(budget: u64, page_size_bits: u32) -> u64 {
    let page = 1u64 << page_size_bits.min(40);
    let pages = budget / page;
    if pages == 0 {
        return 0;
    }
    (1u64 << (63 - pages.leading_zeros())) * page
}

/// The benchmark's settings, as the header prints them and the JSON echoes them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Settings {
    pub(crate) keys: u64,
    pub(crate) value_size: usize,
    /// The workloads' names, in the order they run.
    pub(crate) workloads: Vec<String>,
    /// The key distributions' names (zipf with its skew).
    pub(crate) distributions: Vec<String>,
    pub(crate) threads: Vec<usize>,
    /// Seconds per timed run (cell).
    pub(crate) duration: f64,
    pub(crate) seed: u64,
    /// "files" or "memory": where faster-kv's log (and oxifaster's) lives.
    pub(crate) storage: &'static str,
    /// `--dir`, or none: a fresh temporary directory.
    pub(crate) dir: Option<String>,
    /// Bytes of log pages asked of faster-kv (and each peer's cache).
    pub(crate) memory_budget: u64,
    /// Bytes of log pages faster-kv keeps: the budget rounded down to a power-of-two number
    /// of pages.
    pub(crate) log_memory_bytes: u64,
    /// Bytes of the loaded records (every key once), which the budget is compared with.
    pub(crate) data_bytes: u64,
    pub(crate) page_size_bits: u32,
    pub(crate) index_buckets: u64,
    /// faster-kv's read cache in bytes (`--read-cache`), outside the budget.
    pub(crate) read_cache: Option<u64>,
    /// faster-kv's `--prefetch-depth` (0: no prefetch hints).
    pub(crate) prefetch_depth: usize,
    /// faster-kv's `--io-depth` (0: no operation waits for the device while others start).
    pub(crate) io_depth: usize,
    /// How faster-kv runs the timed cells.
    pub(crate) faster_kv_mode: Mode,
    /// How the peers (and F2) run them: always one operation at a time.
    pub(crate) peer_mode: Mode,
    /// One operation in this many is timed for the latency percentiles.
    pub(crate) latency_sample_every: usize,
    /// `--checkpoint-every` (seconds), when a checkpointing store was measured too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) checkpoint_every: Option<f64>,
    pub(crate) f2: bool,
    pub(crate) peers: Vec<String>,
    /// `--peer-timeout` (seconds), when given.
    pub(crate) peer_timeout: Option<f64>,
    /// `--config`: the settings file and the keys it set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) settings_file: Option<super::settings_file::SettingsFile>,
}

impl Settings {
    /// The settings of `args` and its `plan`, with the peers that will run.
    pub(crate) fn new(args: &BenchArgs, plan: &Plan, peers: Vec<String>) -> Self {
        let budget = log_budget(args);
        let mut workloads: Vec<String> = Vec::new();
        for run in &plan.runs {
            if !workloads.iter().any(|w| w == run.workload.name) {
                workloads.push(run.workload.name.to_string());
            }
        }
        Self {
            keys: args.keys,
            value_size: args.value_size,
            workloads,
            distributions: plan
                .distributions
                .iter()
                .map(super::keys::Distribution::name)
                .collect(),
            threads: args.threads.clone(),
            duration: args.duration,
            seed: args.seed,
            storage: if args.memory {
                "memory"
            } else if args.direct_io {
                "files, O_DIRECT"
            } else {
                "files"
            },
            dir: args.dir.as_ref().map(|d| d.display().to_string()),
            memory_budget: budget.memory_bytes,
            log_memory_bytes: kept_log_bytes(budget.memory_bytes, args.page_size_bits),
            data_bytes: budget.data_bytes,
            page_size_bits: args.page_size_bits,
            index_buckets: index_buckets(args),
            read_cache: args.read_cache,
            prefetch_depth: args.prefetch_depth,
            io_depth: if args.value_size == 8 {
                args.io_depth
            } else {
                0
            },
            faster_kv_mode: faster_kv_mode(args),
            peer_mode: Mode::Single,
            latency_sample_every: super::runner::SAMPLE_EVERY,
            checkpoint_every: args.checkpoint_every,
            f2: args.f2,
            peers,
            peer_timeout: args.peer_timeout,
            settings_file: super::settings_file::echo(args),
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// The header printed before the runs: one line per setting.
pub(crate) fn render(args: &BenchArgs, s: &Settings) -> String {
    let mut out = String::from("faster bench settings:\n");
    let mut line = |name: &str, text: String| {
        let _ = writeln!(out, "  {name:<15} {text}");
    };
    line(
        "keys",
        format!(
            "{} (loaded once in shuffled order, then read back), values of {} bytes",
            s.keys, s.value_size
        ),
    );
    line("workloads", s.workloads.join(", "));
    line("distributions", s.distributions.join(", "));
    let threads: Vec<String> = s.threads.iter().map(ToString::to_string).collect();
    line(
        "threads",
        format!(
            "{} (the load and the checks use the most)",
            threads.join(", ")
        ),
    );
    line("duration", format!("{} s per cell", s.duration));
    line("memory", budgets::describe(args));
    let kept = if s.log_memory_bytes == s.memory_budget {
        format!(
            "faster-kv keeps all {} (a power-of-two number of pages)",
            mib(s.memory_budget)
        )
    } else {
        format!(
            "faster-kv keeps {} of log pages: the budget rounded down to a power-of-two number \
             of pages",
            mib(s.log_memory_bytes)
        )
    };
    line("", kept);
    line(
        "read cache",
        s.read_cache.map_or_else(
            || "none".to_string(),
            |b| format!("{} for faster-kv, outside the budget", mib(b)),
        ),
    );
    line(
        "page size",
        format!(
            "2^{} = {} bytes; index {} buckets",
            s.page_size_bits,
            1u64 << s.page_size_bits.min(40),
            s.index_buckets
        ),
    );
    line(
        "storage",
        match (&s.dir, s.storage) {
            (_, "memory") => "an in-memory device".to_string(),
            (Some(dir), kind) => format!("{kind} in {dir}"),
            (None, kind) => format!("{kind} in a temporary directory"),
        },
    );
    line("faster-kv", describe_mode(s));
    if let Some(file) = &s.settings_file {
        line("settings file", file.describe());
    }
    if let Some(every) = s.checkpoint_every {
        line(
            "checkpoints",
            format!("every {every} s, on a second store measured beside the plain one"),
        );
    }
    if s.f2 {
        line("F2", "one operation at a time, in this process".into());
    }
    line(
        "peers",
        if s.peers.is_empty() {
            "none".to_string()
        } else {
            format!(
                "{}: one operation at a time, each in a child process{}",
                s.peers.join(", "),
                s.peer_timeout
                    .map_or_else(String::new, |t| format!(" (limit {t} s in all)"))
            )
        },
    );
    line(
        "latency",
        format!(
            "one operation in {} is timed; {}",
            s.latency_sample_every,
            latency_note(s)
        ),
    );
    line("seed", s.seed.to_string());
    out
}

/// How faster-kv runs its operations.
fn describe_mode(s: &Settings) -> String {
    let mut parts = Vec::new();
    if s.prefetch_depth > 0 {
        parts.push(format!(
            "the index bucket of the operation {} places ahead and the record of the one {} \
             ahead are prefetched, so the memory misses of several operations overlap; each \
             operation still finishes before the next starts",
            s.prefetch_depth,
            (s.prefetch_depth / 2).max(1)
        ));
    }
    if s.io_depth > 0 {
        parts.push(format!(
            "up to {} reads and RMWs per thread wait for the device while later ones start \
             (--io-depth)",
            s.io_depth
        ));
    }
    match s.faster_kv_mode {
        Mode::Pipelined => format!("pipelined: {}", parts.join("; ")),
        Mode::Single => "single: one operation at a time (--prefetch-depth 0)".into(),
    }
}

/// What a latency sample of each mode measures.
pub(crate) fn latency_note(s: &Settings) -> String {
    let pipelined = if s.io_depth > 0 {
        "a pipelined cell's sample is the time to start an operation (an operation that waits \
         for the device finishes later, untimed)"
    } else {
        "a pipelined cell's sample is the operation's own call, its memory loads started \
         earlier by the prefetch hints (the hints are not timed)"
    };
    match s.faster_kv_mode {
        Mode::Pipelined => format!(
            "a single cell's sample is one whole operation; {pipelined}: the latencies of \
             pipelined and single cells are not comparable"
        ),
        Mode::Single => "each sample is one whole operation".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(list: &[&str]) -> (BenchArgs, Settings) {
        let args = crate::bench::test_args(list);
        let plan = Plan::from_args(&args).unwrap_or_else(|e| panic!("{e}"));
        let s = Settings::new(&args, &plan, vec!["scc".into()]);
        (args, s)
    }

    #[test]
    fn the_kept_log_is_the_budget_rounded_down_to_a_power_of_two_of_pages() {
        assert_eq!(kept_log_bytes(7 << 20, 20), 4 << 20);
        assert_eq!(kept_log_bytes(8 << 20, 20), 8 << 20);
        assert_eq!(kept_log_bytes((8 << 20) + 5, 20), 8 << 20);
        assert_eq!(kept_log_bytes(100, 20), 0);
    }

    #[test]
    fn the_header_names_every_setting_and_the_rounding() {
        let (args, s) = settings(&[
            "--keys",
            "1000",
            "--memory-budget",
            "7340032",
            "--page-size-bits",
            "20",
            "--workloads",
            "read,95-5",
            "--threads",
            "1,3",
            "--read-cache",
            "1048576",
        ]);
        assert_eq!(s.log_memory_bytes, 4 << 20);
        assert_eq!(s.faster_kv_mode, Mode::Pipelined);
        assert_eq!(s.workloads, ["100% read", "95/5 r/u"]);
        assert_eq!(s.distributions, ["uniform", "zipf 0.99"]);
        let text = render(&args, &s);
        for want in [
            "keys            1000 ",
            "values of 8 bytes",
            "workloads       100% read, 95/5 r/u",
            "distributions   uniform, zipf 0.99",
            "threads         1, 3 ",
            "duration        2 s per cell",
            "memory budget 7.0 MiB",
            "faster-kv keeps 4.0 MiB of log pages: the budget rounded down",
            "read cache      1.0 MiB for faster-kv",
            "page size       2^20 = 1048576 bytes",
            "storage         files in a temporary directory",
            "faster-kv       pipelined: the index bucket of the operation 16 places ahead",
            "peers           scc: one operation at a time",
            "not comparable",
        ] {
            assert!(text.contains(want), "{want:?} missing from\n{text}");
        }
    }

    #[test]
    fn without_prefetch_faster_kv_runs_single_operations() {
        let (args, s) = settings(&["--prefetch-depth", "0", "--memory"]);
        assert_eq!(s.faster_kv_mode, Mode::Single);
        let text = render(&args, &s);
        assert!(text.contains("faster-kv       single"), "{text}");
        assert!(text.contains("an in-memory device"), "{text}");
        // Deep I/O queues are for 8-byte values only.
        let (_, s) = settings(&["--prefetch-depth", "0", "--io-depth", "8"]);
        assert_eq!(s.faster_kv_mode, Mode::Pipelined);
        assert!(latency_note(&s).contains("time to start an operation"));
        let (_, s) = settings(&[
            "--prefetch-depth",
            "0",
            "--io-depth",
            "8",
            "--value-size",
            "16",
        ]);
        assert_eq!(s.faster_kv_mode, Mode::Single);
    }
}
