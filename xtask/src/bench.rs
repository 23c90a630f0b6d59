//! `cargo xtask bench`: the benchmarks, always in release mode.

use crate::cmd::{self, cargo};

/// (name, crate, bench target) of every benchmark but `log`, which is `faster bench log`.
const BENCHES: &[(&str, &str, &str)] = &[
    ("epoch", "faster-epoch", "epoch"),
    ("device", "faster-device", "device"),
    ("hlog", "faster-hlog", "hlog"),
    ("index", "faster-index", "index"),
    ("checkpoint", "faster-kv", "checkpoint"),
    ("checkpoint-load", "faster-kv", "checkpoint_load"),
    ("async", "faster-kv", "async_cost"),
];

/// Runs the benchmark named by `args[0]` (or all), passing the remaining args through.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let which = args.first().map(String::as_str).unwrap_or("all");
    let extra: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    if which == "server" {
        // Not part of `all`: it needs redis-server and redis-benchmark.
        return crate::bench_server::run(&extra);
    }
    let selected: Vec<_> = BENCHES
        .iter()
        .filter(|(name, _, _)| which == "all" || *name == which)
        .collect();
    let log = which == "all" || which == "log";
    if selected.is_empty() && !log {
        let mut names: Vec<_> = BENCHES.iter().map(|(n, _, _)| *n).collect();
        names.extend(["log", "server"]);
        return Err(format!(
            "unknown benchmark `{which}`; one of: {}",
            names.join(", ")
        ));
    }
    for (name, krate, target) in selected {
        let mut args = vec!["bench", "-p", krate, "--all-features", "--bench", target];
        if !extra.is_empty() {
            args.push("--");
            args.extend(extra.iter().copied());
        }
        cmd::run(&format!("bench {name}"), &mut cargo(&args))?;
    }
    if log {
        // FasterLog's benchmark is a command of the `faster` binary.
        let mut args = vec!["run", "--release", "-p", "faster-cli", "--", "bench", "log"];
        args.extend(extra.iter().copied());
        cmd::run("bench log", &mut cargo(&args))?;
    }
    Ok(())
}
