//! Project automation: the one entry point for checks, benchmarks and fuzzing.
//!
//! `cargo xtask ci` is what CI runs (through `.ci/run`); every other subcommand is a piece of
//! it or a job too long for CI. Run `cargo xtask help` for the list.

mod bench;
mod bench_server;
mod ci;
mod cmd;
mod fuzz;
mod metrics;
mod tidy;

use std::process::ExitCode;

const HELP: &str = "\
usage: cargo xtask <command>

  ci            everything CI checks: tidy, fmt, clippy, tests, doctests, loom, rustdoc, deny
  tidy          source hygiene, SAFETY citations, asserting tests, and the crate graph of docs/ARCHITECTURE.md
  metrics [--edges] [--root DIR]  file lengths, import circles and long functions of faster-kv, SAFETY citations
  loom          the loom models (LOOM_MAX_PREEMPTIONS=2 unless set)
  deny          cargo-deny: bans, licenses, sources (installs cargo-deny when missing)
  fuzz [SECS]   every fuzz target for SECS seconds each (default 30; needs nightly + cargo-fuzz)
  crash [--seeds N] [--from S]  the SIGKILL crash tests of the store (crash, crash_stall), N seeds each from S (default 50 from 1)
  bench [WHAT]  benchmarks: epoch | device | hlog | index | checkpoint | checkpoint-load | async | log | all (default all); extra args go to the bench
  bench server [--rounds N] [--requests N] [--memory-budget BYTES] [--modes workers,inline]
                redis-benchmark against redis-server and faster serve, taking turns (needs redis-server, redis-tools)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::ci(),
        Some("tidy") => tidy::run(&cmd::workspace_root()),
        Some("metrics") => metrics::run(&cmd::workspace_root(), &args[1..]),
        Some("loom") => ci::loom(),
        Some("deny") => ci::deny(),
        Some("fuzz") => fuzz::run(args.get(1).map(String::as_str)),
        Some("crash") => ci::crash(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
