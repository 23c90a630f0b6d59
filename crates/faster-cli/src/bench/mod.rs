//! `faster bench`: a YCSB-style benchmark of the store, like FASTER's own benchmark, with its
//! peers measured in the same run.
//!
//! Load: every key once, in shuffled order, from all threads. Then, for each workload,
//! distribution and thread count, a timed run of operations on keys drawn uniformly or from a
//! scrambled zipfian. As in FASTER's benchmark, each thread's requests are generated before
//! the clock starts (a fixed-seed generator, [`REQUESTS_PER_THREAD`] of them, replayed in a
//! loop), so the run measures the store, not the random-number generator. Requests run in
//! batches of 256 (a pinned session, refreshed every 64 operations); one operation in 128 is
//! timed for the latency percentiles.
//!
//! Every system is checked, untimed: after the load every key must read back as its own number,
//! and after the runs as its number plus the RMWs applied to it ([`verify`]). faster-kv runs in
//! this process; each peer (cargo feature `peers`) in a child process with a time limit
//! ([`child`]), so that one that hangs or crashes is reported as such and the run goes on.
//! The report gives every system's runs, its checks and status, and faster-kv's throughput
//! divided by each peer's, cell by cell ([`table`]).

mod budgets;
mod child;
pub(crate) mod compaction;
mod f2;
mod faster;
mod header;
mod keys;
mod peers;
mod plan;
mod plot;
mod report;
mod runner;
mod settings_file;
mod systems;
mod table;
mod verify;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use faster_kv::{CheckpointOptions, LogCheckpointKind};

use faster::{bench_faster, bench_faster_pair};
pub(crate) use faster::{index_buckets, log_budget};
use header::Settings;
use plan::Plan;
use report::SystemReport;

/// Requests generated per thread before a run (replayed in a loop): 4M, 64 MiB per thread.
pub(crate) const REQUESTS_PER_THREAD: usize = 1 << 22;

/// Options of `faster bench`.
#[derive(Debug, Clone, Args)]
pub(crate) struct BenchArgs {
    /// Number of keys (loaded once, in shuffled order).
    #[arg(long, default_value_t = 10_000_000)]
    keys: u64,
    /// Value size in bytes, at least 8 (8: `u64` values updated in place atomically; larger:
    /// the number in the first 8 bytes, then padding). Peers run with 8 only.
    #[arg(long, default_value_t = 8)]
    value_size: usize,
    /// Thread counts to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
    /// Seconds per run.
    #[arg(long, default_value_t = 2.0)]
    duration: f64,
    /// Key distributions, comma-separated: uniform, zipf.
    #[arg(long, value_delimiter = ',', default_value = "uniform,zipf")]
    distribution: Vec<String>,
    /// Zipfian skew.
    #[arg(long, default_value_t = 0.99)]
    theta: f64,
    /// Workloads, comma-separated: read (100% reads), 95-5 and 50-50 (read/upsert), rmw.
    #[arg(long, value_delimiter = ',', default_value = "read,95-5,50-50,rmw")]
    workloads: Vec<String>,
    /// Bytes of log pages in memory (faster-kv, and oxifaster on files). Default: twice the
    /// loaded data, so the log stays in memory (eight times with --checkpoint-every); set it
    /// lower to run larger than memory.
    #[arg(long)]
    memory_budget: Option<u64>,
    /// Give faster-kv a read cache of this many bytes (outside the memory budget): records
    /// read from the device are copied into memory and serve later reads. Reported as the
    /// system `faster-kv rc`. Peers are unaffected.
    #[arg(long, value_name = "BYTES")]
    read_cache: Option<u64>,
    /// Also measure F2 (`faster-f2`: a hot faster-kv store with a read cache over a cold
    /// store) in this process after faster-kv, its hot log given the same memory budget and
    /// migrating past twice it; 8-byte values on files.
    #[arg(long)]
    f2: bool,
    /// Memory budgets to run the whole plan at, comma-separated, each as a multiple of the
    /// loaded data's size (the records of every key once): at 1 and above the log stays in
    /// memory (at least 64 MiB of it), below 1 the store runs larger than memory, and each
    /// peer's cache gets the same budget. Ignored with --memory-budget, and with
    /// --checkpoint-every (which runs in memory).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2,0.1",
        value_name = "LIST"
    )]
    memory_fraction: Vec<f64>,
    /// Log page size as a power of two.
    #[arg(long, default_value_t = 22)]
    page_size_bits: u32,
    /// Index buckets (power of two). Default: half the next power of two above `--keys`.
    #[arg(long)]
    index_buckets: Option<u64>,
    /// Keep the log on an in-memory device instead of files in a temporary directory
    /// (oxifaster: its NullDisk instead of its file device).
    #[arg(long)]
    memory: bool,
    /// Open faster-kv's segment files with `O_DIRECT` (reads and writes bypass the page
    /// cache), so that reads of keys not in memory go to the disk. Refused with --memory, and
    /// when the file system of the directory refuses `O_DIRECT` (tmpfs, for one). Peers are
    /// unaffected.
    #[arg(long)]
    direct_io: bool,
    /// faster-kv's load and timed runs hint the CPU to load the index bucket of the operation this many
    /// places ahead, and the record of the one half as far ahead, so that the memory misses of
    /// several operations overlap (`Pinned::prefetch_bucket` / `prefetch_record`). The
    /// operations, their order and results are unchanged. 0: no hints, every operation waits
    /// for its own misses.
    #[arg(long, default_value_t = 16)]
    prefetch_depth: usize,
    /// faster-kv's timed runs of 8-byte values keep up to this many operations waiting for the
    /// device per thread, through the pending API (`start_read`, `start_rmw`,
    /// `complete_pending`), instead of one operation at a time (0). Upserts never wait. Each
    /// batch of operations finishes before the next starts, so reads back are unchanged; the
    /// latency columns then measure starting an operation, not finishing it.
    #[arg(long, default_value_t = 0)]
    io_depth: usize,
    /// Also measure faster-kv taking a checkpoint every SECONDS during each timed run (waiting
    /// for each to be durable before the period starts again), on a second store loaded the
    /// same way, and compare its throughput with the store that takes none; each run of the
    /// plain store is followed at once by the same run of the checkpointing one. Needs files
    /// (not --memory).
    #[arg(long, value_name = "SECONDS")]
    checkpoint_every: Option<f64>,
    /// Kind of those checkpoints: snapshot (copy the in-memory log to a file; the store's
    /// default), incremental (only pages changed since the last snapshot), fold-over (flush the
    /// log and make it read-only).
    #[arg(long, default_value = "snapshot", value_parser = ["snapshot", "incremental", "fold-over"])]
    checkpoint_kind: String,
    /// Write an index snapshot with every checkpoint, not only with the first.
    #[arg(long)]
    checkpoint_index: bool,
    /// Directory for the store's files (default: a fresh temporary directory). With
    /// --checkpoint-every, the two stores use its subdirectories `faster-kv` and
    /// `faster-kv-ckpt`. Peers on files use its subdirectory named after them (default: a
    /// temporary directory that the parent removes once the peer's child process ended).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Peers to measure beside the store, comma-separated: oxifaster, feoxdb, sled, fjall, redb,
    /// scc, dashmap.
    /// Default: all (with cargo feature `peers`).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    peers: Option<Vec<String>>,
    /// Measure no peers.
    #[arg(long)]
    no_peers: bool,
    /// Seconds a peer's child process may run in all before it is killed and reported as
    /// too slow (when it was still making progress) or hung. Default: the load allowance
    /// (30 s + 5 s per million keys), twice the verification's (25 s + 2 s per million keys)
    /// and 4 × --duration + 10 s per run.
    /// Whatever it is, a child is also killed when a timed run has not ended within
    /// 4 × --duration + 10 s, or its load or a verification has made no progress for 15 s;
    /// without this option, also when its load takes longer than its allowance. (Reading
    /// every key back stops by itself after 10 s + 2 s per million keys, for every peer.)
    #[arg(long, value_name = "SECS")]
    peer_timeout: Option<f64>,
    /// Print the results as JSON on stdout instead of a table: one report, or an array of
    /// them when several memory budgets run (--memory-fraction).
    #[arg(long)]
    json: bool,
    /// Also write the JSON report (as --json prints it) to FILE, and beside it, named as FILE
    /// with the extension `svg`, a bar chart of every system's throughput in every cell.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// faster-kv's settings from a TOML file of `FasterKvConfig` keys, with `FASTER_*`
    /// environment variables over it, as `faster load --config` reads it (docs/operating.md).
    /// Its memory_budget, page_size_bits, index_buckets, read_cache and direct_io win over
    /// the options of the same names; its dir and in_memory are used when --dir and --memory
    /// are not given; its other keys go to faster-kv's builder. The header lists the keys set.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The settings read from --config (set by the benchmark, not an option).
    #[arg(skip)]
    kv_config: Option<faster_kv::FasterKvConfig>,
    /// Seed of the load order and the key choices.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Requests generated per thread before a run.
    #[arg(long, default_value_t = REQUESTS_PER_THREAD, hide = true)]
    requests_per_thread: usize,
    /// Run only this peer and print its events (the parent's child process).
    #[arg(long, hide = true)]
    child_peer: Option<String>,
}

/// The options a child process running `peer` gets: the same benchmark.
fn child_args(args: &BenchArgs, peer: &str) -> Vec<OsString> {
    let list = |v: &[String]| v.join(",");
    let mut out: Vec<OsString> = vec![
        "--keys".into(),
        args.keys.to_string().into(),
        "--value-size".into(),
        args.value_size.to_string().into(),
        "--threads".into(),
        args.threads
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
            .into(),
        "--duration".into(),
        args.duration.to_string().into(),
        "--distribution".into(),
        list(&args.distribution).into(),
        "--theta".into(),
        args.theta.to_string().into(),
        "--workloads".into(),
        list(&args.workloads).into(),
        "--page-size-bits".into(),
        args.page_size_bits.to_string().into(),
        "--seed".into(),
        args.seed.to_string().into(),
        "--requests-per-thread".into(),
        args.requests_per_thread.to_string().into(),
        "--json".into(),
        "--child-peer".into(),
        peer.into(),
    ];
    if let Some(budget) = args.memory_budget {
        out.extend(["--memory-budget".into(), budget.to_string().into()]);
    }
    if let Some(buckets) = args.index_buckets {
        out.extend(["--index-buckets".into(), buckets.to_string().into()]);
    }
    if args.memory {
        out.push("--memory".into());
    }
    if let Some(dir) = &args.dir {
        out.extend(["--dir".into(), dir.clone().into_os_string()]);
    }
    out
}

/// The name of faster-kv taking checkpoints during timed runs (`--checkpoint-every`).
pub(crate) const CHECKPOINTING: &str = "faster-kv ckpt";

/// Runs the benchmark, once per memory budget ([`budgets`]), and prints its reports: a table
/// per budget, or with `--json` the report of the one budget or an array of them.
pub(crate) fn run(args: &BenchArgs) -> Result<(), String> {
    let args = &settings_file::fold(args)?;
    let plans = budgets::plans(args)?;
    let mut reports = Vec::new();
    for sub in &plans {
        if let Some(report) = run_plan(sub)? {
            reports.push(report);
        }
    }
    if let Some(path) = &args.out {
        plot::write_beside(path, &reports)?;
    }
    if args.json {
        report::print_json(&reports)?;
    }
    Ok(())
}

/// Runs the benchmark at one memory budget, its settings printed first (on stderr with
/// `--json`); with `--json` or `--out`, returns its report (`None` in a peer's child
/// process, which prints its events itself), and without `--json` prints it as a table.
fn run_plan(args: &BenchArgs) -> Result<Option<report::Report>, String> {
    if args.value_size < 8 {
        return Err("--value-size must be at least 8".into());
    }
    let peers: Vec<String> = if args.no_peers {
        Vec::new()
    } else {
        args.peers
            .clone()
            .unwrap_or_else(|| peers::ALL.iter().map(ToString::to_string).collect())
    };
    peers::check_names(&peers)?;
    let plan = Plan::from_args(args)?;
    if let Some(seconds) = args.checkpoint_every {
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err("--checkpoint-every must be a positive number of seconds".into());
        }
        if args.memory {
            return Err("--checkpoint-every needs files: drop --memory".into());
        }
    }
    if args.direct_io && args.memory {
        return Err("--direct-io needs files: drop --memory".into());
    }
    if let Some(peer) = &args.child_peer {
        return child::serve(args, &plan, peer).map(|()| None);
    }
    let settings = Settings::new(args, &plan, peers.clone());
    let header = header::render(args, &settings);
    if args.json {
        eprint!("{header}");
    } else {
        println!("{header}");
    }

    // faster-kv runs in this process: its read-back is never cut short (the limit is for
    // peers that may hang).
    let own = Plan {
        verify_limit: Duration::MAX,
        ..plan.clone()
    };
    let mut systems = Vec::new();
    if let Some(seconds) = args.checkpoint_every {
        let options = CheckpointOptions {
            log: match args.checkpoint_kind.as_str() {
                "fold-over" => LogCheckpointKind::FoldOver,
                "incremental" => LogCheckpointKind::IncrementalSnapshot,
                _ => LogCheckpointKind::Snapshot,
            },
            index: args.checkpoint_index,
        };
        let checkpointing = Plan {
            checkpoint_every: Some(Duration::from_secs_f64(seconds)),
            ..own.clone()
        };
        let (plain, with) = bench_faster_pair(args, &own, &checkpointing, options)?;
        systems.extend([plain, with]);
    } else {
        systems.push(bench_faster(args, &own)?);
    }
    if args.f2 {
        systems.push(f2::bench_f2(args, &own)?);
    }
    let limits = child::Limits::new(args.peer_timeout, &plan);
    for peer in &peers {
        systems.push(if args.value_size == 8 {
            child::run_peer(args, &plan, peer, &limits)
        } else {
            SystemReport::skipped(
                peers::display_name(peer),
                "peers run with 8-byte values only (--value-size 8)",
            )
        });
    }
    if !args.json {
        table::print(&systems, &settings);
    }
    Ok((args.json || args.out.is_some()).then(|| report::Report::new(settings, systems)))
}

/// `faster bench` options parsed from `list` (tests).
#[cfg(test)]
pub(crate) fn test_args(list: &[&str]) -> BenchArgs {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }
    let argv = std::iter::once("bench").chain(list.iter().copied());
    Cli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{e}"))
        .args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_gets_the_same_benchmark() {
        let args = test_args(&[
            "--keys",
            "1234",
            "--value-size",
            "8",
            "--threads",
            "3,1",
            "--duration",
            "0.25",
            "--distribution",
            "zipf",
            "--theta",
            "0.8",
            "--workloads",
            "rmw,read",
            "--memory-budget",
            "99999999",
            "--page-size-bits",
            "20",
            "--index-buckets",
            "256",
            "--memory",
            "--dir",
            "/tmp/x y",
            "--peers",
            "scc",
            "--peer-timeout",
            "5",
            "--seed",
            "9",
            "--requests-per-thread",
            "77",
        ]);
        let argv: Vec<String> = child_args(&args, "scc")
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let child = test_args(&argv);
        // The child runs one peer and reports in JSON; everything else is the same.
        assert_eq!(child.child_peer.as_deref(), Some("scc"));
        assert!(child.json);
        let same = BenchArgs {
            child_peer: Some("scc".into()),
            json: true,
            peers: None,
            peer_timeout: None,
            out: None,
            ..args
        };
        assert_eq!(format!("{child:?}"), format!("{same:?}"));
    }
}
