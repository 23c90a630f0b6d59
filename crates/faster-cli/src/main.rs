//! `faster`: benchmark, inspect and verify faster-rs stores.
//!
//! `faster bench` (the default job) runs a YCSB-style benchmark of the key-value store; see
//! `faster bench --help`.

mod bench;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// concurrent hash maps).
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("faster: {message}");
            ExitCode::FAILURE
        }
    }
}
