//! `faster`: benchmark, inspect and verify faster-rs stores.
//!
//! `faster bench` (the default job) runs a YCSB-style benchmark of the key-value store; see
//! `faster bench --help`; `faster bench log` measures FasterLog, and `faster bench compaction`
//! disk usage and throughput under sustained updates. `faster inspect DIR` lists a store
//! directory (manifest, lock, log segments, checkpoints) and the checkpoint recovery would
//! take; `faster verify DIR` also checks every header, checksum and needed log byte.
//! `faster dump DIR`, `faster load DUMP DIR` and `faster compact DIR` work on a store whose
//! types this program cannot name, through byte codecs. `faster stats DIR` prints the
//! statistics of a store or a log, as a table or (`--prometheus`) as Prometheus text, or
//! serves that text at `GET /metrics` (`--listen ADDR`). `faster serve DIR` serves a store
//! over the Redis protocol until SIGINT or SIGTERM.

mod bar;
mod bench;
mod bytes;
mod compact;
mod dump;
mod inspect;
mod latency;
mod load;
mod logbench;
mod serve;
mod stats;
mod stats_http;
mod usage;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Benchmark, inspect and verify faster-rs stores.
#[derive(Debug, Parser)]
#[command(name = "faster", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// YCSB-style benchmark of the key-value store, beside its peers (other stores and plain
    /// concurrent hash maps); `faster bench log` measures FasterLog instead.
    Bench(Box<BenchCommand>),
    /// List a store directory — its manifest, whether it is open, its log segments and
    /// checkpoints — and the checkpoint recovery would take, found by recovery's own checks.
    /// Reads only: works while the store is open (except `--live`). Also prints the bytes of
    /// log the recovered checkpoint spans and the bytes on disk. Exit status 1 for a path
    /// that is not a store's directory.
    Inspect(inspect::InspectArgs),
    /// What `inspect` prints, then check the manifest, every segment file's header, the log
    /// segments each checkpoint needs, and every checksum of the checkpoints (metadata,
    /// completion markers, index snapshots, snapshot files); report the first bad byte range
    /// of each damaged file. Reads only. Exit status 1 on any problem, when recovery would
    /// fail, or for a path that is not a store's directory.
    Verify(inspect::DirArgs),
    /// Write the live records of a store (each key's newest value) to a dump: a versioned,
    /// checksummed file naming the store's key and value codecs. Progress on standard error.
    Dump(dump::DumpArgs),
    /// Create a new store in DIR, with the codecs a dump names, and load the dump's records
    /// into it; then take a checkpoint. The program that owns the data opens the store with
    /// its own types.
    Load(load::LoadArgs),
    /// Compact the oldest part of a store's log (copying its live records to the tail), take
    /// checkpoints so that its space is given back, and report the disk bytes before and
    /// after.
    Compact(compact::CompactArgs),
    /// Open a faster-kv store, an F2 store or a FasterLog (recovering it) and print its
    /// statistics: operation counters since the open, retries by cause, compactions,
    /// checkpoints, the log's addresses, the index's fill and the memory held; with
    /// `--prometheus`, the same in the Prometheus text exposition format.
    Stats(stats::StatsArgs),
    /// Serve a store over the Redis protocol (RESP2 and RESP3): any Redis client or
    /// `redis-cli` can use it. Creates the store in DIR when empty, recovers it otherwise;
    /// SIGINT or SIGTERM stops accepting, finishes the connections and takes a final
    /// checkpoint. Keys may carry an expiry (SET EX, EXPIRE, TTL and the rest).
    Serve(serve::ServeArgs),
}

/// `faster bench`: the key-value store's benchmark, or another one named after `bench`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
struct BenchCommand {
    #[command(subcommand)]
    which: Option<BenchWhich>,
    #[command(flatten)]
    kv: bench::BenchArgs,
}

#[derive(Debug, Subcommand)]
enum BenchWhich {
    /// FasterLog: enqueue throughput (64 B, 1 KiB, 16 KiB entries; 1 and 2 threads; commits
    /// every 1 and 10 ms) beside the disk's raw sequential write, and commit latency beside
    /// a raw write + fdatasync, all measured in the same run.
    Log(logbench::LogBenchArgs),
    /// Disk usage and throughput of a long run of uniform upserts on a key set larger than
    /// memory, in four variants one after the other: compaction off or automatic, with or
    /// without fold-over checkpoints; also the live-record scan's rate beside a sequential
    /// read of the same files.
    Compaction(bench::compaction::CompactionArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(bench) => match bench.which {
            Some(BenchWhich::Log(args)) => logbench::run(&args),
            Some(BenchWhich::Compaction(args)) => bench::compaction::run(&args),
            None => bench::run(&bench.kv),
        },
        Command::Inspect(args) => inspect::run_inspect(&args),
        Command::Verify(args) => inspect::run_verify(&args),
        Command::Dump(args) => dump::run(&args),
        Command::Load(args) => load::run(&args),
        Command::Compact(args) => compact::run(&args),
        Command::Stats(args) => stats::run(&args),
        Command::Serve(args) => serve::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("faster: {message}");
            ExitCode::FAILURE
        }
    }
}
