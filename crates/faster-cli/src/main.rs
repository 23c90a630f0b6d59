//! `faster`: benchmark, inspect and verify faster-rs stores.
//!
//! `faster bench` (the default job) runs a YCSB-style benchmark of the key-value store; see
//! `faster bench --help`; `faster bench log` measures FasterLog. `faster inspect DIR` lists a
//! store directory (manifest, lock, log segments, checkpoints) and the checkpoint recovery
//! would take; `faster verify DIR` also checks every header, checksum and needed log byte.

mod bench;
mod inspect;
mod logbench;

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
    /// Reads only: works while the store is open. Exit status 1 for a path that is not a
    /// store's directory.
    Inspect(inspect::DirArgs),
    /// What `inspect` prints, then check the manifest, every segment file's header, the log
    /// segments each checkpoint needs, and every checksum of the checkpoints (metadata,
    /// completion markers, index snapshots, snapshot files); report the first bad byte range
    /// of each damaged file. Reads only. Exit status 1 on any problem, when recovery would
    /// fail, or for a path that is not a store's directory.
    Verify(inspect::DirArgs),
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(bench) => match bench.which {
            Some(BenchWhich::Log(args)) => logbench::run(&args),
            None => bench::run(&bench.kv),
        },
        Command::Inspect(args) => inspect::run_inspect(&args),
        Command::Verify(args) => inspect::run_verify(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("faster: {message}");
            ExitCode::FAILURE
        }
    }
}
