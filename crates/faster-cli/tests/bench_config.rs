//! `faster bench --config FILE`: faster-kv's settings from a settings file, shown in the
//! header and the JSON report, winning over the options of the same names; a file with an
//! unknown key or a bad value is refused before anything runs.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking; the values come from our own binary"
)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const TINY: &[&str] = &[
    "--keys",
    "2000",
    "--duration",
    "0.1",
    "--threads",
    "1",
    "--workloads",
    "read",
    "--distribution",
    "uniform",
    "--memory-fraction",
    "2",
    "--no-peers",
    "--memory",
];

fn bench(config: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faster"))
        .arg("bench")
        .args(TINY)
        .arg("--config")
        .arg(config)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn the_files_settings_run_the_store_and_head_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("kv.toml");
    std::fs::write(
        &file,
        "memory_budget = \"96 MiB\"\npage_size_bits = 16\nmutable_fraction = 0.8\n",
    )
    .unwrap();
    // The file's page size wins over the option's.
    let output = bench(&file, &["--page-size-bits", "20"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("settings file"))
        .unwrap_or_else(|| panic!("no settings file line in\n{stdout}"));
    for want in [
        file.display().to_string(),
        "memory_budget = 100663296".into(),
        "page_size_bits = 16".into(),
        "mutable_fraction = 0.8".into(),
    ] {
        assert!(line.contains(&want), "{want:?} missing from {line:?}");
    }
    assert!(stdout.contains("2^16 = 65536 bytes"), "{stdout}");
    assert!(stdout.contains("96.0 MiB"), "{stdout}");

    let output = bench(&file, &["--json"]);
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let settings = &report["settings"];
    assert_eq!(settings["page_size_bits"], 16);
    assert_eq!(settings["memory_budget"], 96u64 << 20);
    assert_eq!(
        settings["settings_file"]["keys"]["mutable_fraction"],
        Value::from(0.8)
    );
    assert_eq!(
        settings["settings_file"]["path"],
        Value::from(file.display().to_string())
    );
}

#[test]
fn a_bad_file_is_refused_before_the_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let unknown = tmp.path().join("unknown.toml");
    std::fs::write(&unknown, "memory_budgett = \"1 GiB\"\n").unwrap();
    let output = bench(&unknown, &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("memory_budgett"), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("faster bench settings"),
        "nothing runs"
    );

    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "page_size_bits = 40\n").unwrap();
    let output = bench(&bad, &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("page_size_bits"), "{stderr}");

    let missing = bench(&tmp.path().join("missing.toml"), &[]);
    assert!(!missing.status.success());
}
