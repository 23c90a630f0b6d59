//! `cargo xtask bench`: the benchmarks, always in release mode.

use crate::cmd::{self, cargo};

/// (name, crate, bench target) of every benchmark.
const BENCHES: &[(&str, &str, &str)] = &[
    ("epoch", "faster-epoch", "epoch"),
    ("device", "faster-device", "device"),
    ("hlog", "faster-hlog", "hlog"),
    ("index", "faster-index", "index"),
    ("checkpoint", "faster-kv", "checkpoint"),
    ("log", "faster-log", "log"),
];

/// Runs the benchmark named by `args[0]` (or all), passing the remaining args through.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let which = args.first().map(String::as_str).unwrap_or("all");
    let extra: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let selected: Vec<_> = BENCHES
        .iter()
        .filter(|(name, _, _)| which == "all" || *name == which)
        .collect();
    if selected.is_empty() {
        let names: Vec<_> = BENCHES.iter().map(|(n, _, _)| *n).collect();
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
    Ok(())
}
