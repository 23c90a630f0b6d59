//! `cargo xtask ci` and its pieces that need more than one cargo call.

use crate::cmd::{available, cargo, run, workspace_root};
use crate::tidy;

/// Crates that have loom models in `tests/loom.rs`.
const LOOM_CRATES: &[&str] = &["faster-epoch", "faster-hlog", "faster-index"];

/// Every check CI runs, in order of increasing cost, stopping at the first failure.
pub(crate) fn ci() -> Result<(), String> {
    let started = std::time::Instant::now();
    println!("==> tidy");
    tidy::run(&workspace_root())?;
    run("rustfmt", &mut cargo(&["fmt", "--all", "--check"]))?;
    run(
        "clippy",
        &mut cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    tests()?;
    run(
        "doctests",
        &mut cargo(&["test", "--workspace", "--all-features", "--doc"]),
    )?;
    loom()?;
    let mut doc = cargo(&["doc", "--workspace", "--all-features", "--no-deps"]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    run("rustdoc", &mut doc)?;
    deny()?;
    println!(
        "\nci: all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The test suites, through cargo-nextest when it is installed.
fn tests() -> Result<(), String> {
    if available("cargo-nextest", &["nextest", "--version"]) {
        run(
            "tests (nextest)",
            &mut cargo(&[
                "nextest",
                "run",
                "--workspace",
                "--all-features",
                "--profile",
                "ci",
            ]),
        )
    } else {
        run(
            "tests (cargo test)",
            // Not `--all-targets`: that would run the `harness = false` benchmarks as tests.
            &mut cargo(&[
                "test",
                "--workspace",
                "--all-features",
                "--lib",
                "--bins",
                "--tests",
                "--examples",
            ]),
        )
    }
}

/// The loom models, built into their own target directory so they do not invalidate the
/// normal build.
pub(crate) fn loom() -> Result<(), String> {
    for krate in LOOM_CRATES {
        let mut command = cargo(&["test", "--release", "-p", krate, "--test", "loom"]);
        command
            .env("RUSTFLAGS", "--cfg loom")
            .env(
                "LOOM_MAX_PREEMPTIONS",
                std::env::var("LOOM_MAX_PREEMPTIONS").unwrap_or_else(|_| "2".into()),
            )
            .env("CARGO_TARGET_DIR", workspace_root().join("target/loom"));
        run(&format!("loom ({krate})"), &mut command)?;
    }
    Ok(())
}

/// cargo-deny's offline checks. Installs cargo-deny first when it is missing.
pub(crate) fn deny() -> Result<(), String> {
    if !available("cargo-deny", &["--version"]) {
        run(
            "install cargo-deny",
            &mut cargo(&["install", "cargo-deny", "--locked"]),
        )?;
    }
    run(
        "cargo-deny (bans licenses sources)",
        &mut cargo(&[
            "deny",
            "--all-features",
            "check",
            "bans",
            "licenses",
            "sources",
        ]),
    )
}

/// The crash tests (`crash`: sessions in pinned loops; `crash_stall`: sessions that stall,
/// start and end while checkpoints run) with many seeds each: `cargo xtask crash --seeds N`
/// (default 50). CI runs a few seeds as part of the normal tests.
pub(crate) fn crash(args: &[String]) -> Result<(), String> {
    const USAGE: &str = "usage: cargo xtask crash [--seeds N] [--from S]";
    let (mut seeds, mut from) = (50u64, 1u64);
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(USAGE)?;
        let number = value.parse().map_err(|e| format!("{flag}: {e}"))?;
        match flag.as_str() {
            "--seeds" => seeds = number,
            "--from" => from = number,
            _ => return Err(USAGE.into()),
        }
    }
    let mut command = cargo(&[
        "test",
        "--release",
        "-p",
        "faster-kv",
        "--no-fail-fast",
        "--test",
        "crash",
        "--test",
        "crash_stall",
        "--",
        "--nocapture",
    ]);
    command
        .env("FASTER_CRASH_SEEDS", seeds.to_string())
        .env("FASTER_CRASH_FIRST_SEED", from.to_string());
    run(
        &format!("crash tests, seeds {from}..{}", from + seeds),
        &mut command,
    )
}
