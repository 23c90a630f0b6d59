//! `cargo xtask fuzz`: run every fuzz target for a bounded time with nightly cargo-fuzz.

use crate::cmd::{self, available, workspace_root};

/// Runs each target listed by `cargo fuzz list` for `seconds` (default 30).
pub(crate) fn run(seconds: Option<&str>) -> Result<(), String> {
    let seconds: u64 = seconds
        .unwrap_or("30")
        .parse()
        .map_err(|e| format!("fuzz: seconds must be a number: {e}"))?;
    let fuzz_dir = workspace_root().join("fuzz");
    if !fuzz_dir.join("Cargo.toml").exists() {
        return Err("fuzz: no fuzz/ crate yet".into());
    }
    if !available("cargo-fuzz", &["--version"]) {
        cmd::run(
            "install cargo-fuzz",
            std::process::Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]),
        )?;
    }
    let output = std::process::Command::new("cargo")
        .args(["+nightly", "fuzz", "list"])
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("fuzz: cargo fuzz list: {e}"))?;
    let targets = String::from_utf8_lossy(&output.stdout).into_owned();
    for target in targets.lines().map(str::trim).filter(|t| !t.is_empty()) {
        let max_time = format!("-max_total_time={seconds}");
        // libFuzzer adds what it finds to the first corpus directory: a scratch one (ignored by
        // git), so the committed corpus in fuzz/corpus stays a short, hand-made set.
        let scratch = fuzz_dir.join("corpus-work").join(target);
        std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
        let committed = fuzz_dir.join("corpus").join(target);
        cmd::run(
            &format!("fuzz {target} ({seconds}s)"),
            std::process::Command::new("cargo")
                .args(["+nightly", "fuzz", "run", target])
                .arg(&scratch)
                .arg(&committed)
                .args(["--", &max_time])
                .current_dir(workspace_root()),
        )?;
    }
    Ok(())
}
