//! `faster bench` explains itself: its settings before the runs, plain progress lines on a
//! stderr that is not a terminal, a `mode` column, and with `--out` a JSON report and a plot
//! of the same figures beside it.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking; the values come from our own binary"
)]

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
    "read,rmw",
    "--memory-fraction",
    "2",
    "--no-peers",
];

fn bench(extra: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_faster"))
        .arg("bench")
        .args(TINY)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "faster bench failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn the_table_is_headed_by_every_setting_and_piped_progress_is_plain_lines() {
    let output = bench(&[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let header_at = stdout.find("faster bench settings:").unwrap();
    let table_at = stdout.find("system ").unwrap();
    assert!(header_at < table_at, "{stdout}");
    for want in [
        "keys            2000 ",
        "workloads       100% read, 100% rmw",
        "distributions   uniform, zipf 0.99",
        "duration        0.1 s per cell",
        "power-of-two number of pages",
        "faster-kv       pipelined",
        "peers           none",
    ] {
        assert!(stdout.contains(want), "{want:?} missing from\n{stdout}");
    }
    let columns: Vec<&str> = stdout[table_at..]
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        columns[..5],
        ["system", "workload", "dist", "thr", "mode"],
        "{stdout}"
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("faster-kv ") && !l.contains("load"))
        .collect();
    assert_eq!(rows.len(), 4, "{stdout}");
    assert!(rows.iter().all(|r| r.contains(" pipelined ")), "{stdout}");
    assert!(stdout.contains("\nLatency: "), "{stdout}");
    // stderr is a pipe: one line per cell started and per cell finished, no bar.
    for cell in 1..=4 {
        let prefix = format!("[{cell}/4] faster-kv ");
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with(&prefix)).collect();
        assert_eq!(lines.len(), 2, "cell {cell}: {stderr}");
        assert!(lines[0].ends_with(": started"), "{stderr}");
        assert!(lines[1].ends_with(" Mops/s (pipelined)"), "{stderr}");
    }
    assert!(!stderr.contains('\r'), "{stderr}");
}

#[test]
fn single_operations_are_labelled_single() {
    let output = bench(&["--prefetch-depth", "0"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("faster-kv       single"), "{stdout}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("faster-kv ") && l.contains(" single "))
        .collect();
    assert_eq!(rows.len(), 5, "the load and 4 cells: {stdout}");
    assert!(!stdout.contains("\nLatency: "), "{stdout}");
}

#[test]
fn out_writes_the_report_and_a_plot_of_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let output = bench(&["--out", path.to_str().unwrap()]);
    // Without --json the table still goes to stdout.
    assert!(String::from_utf8_lossy(&output.stdout).contains("faster bench settings:"));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let settings = &report["settings"];
    assert_eq!(settings["keys"], 2000);
    assert_eq!(settings["faster_kv_mode"], "pipelined");
    assert_eq!(settings["peer_mode"], "single");
    assert_eq!(settings["workloads"][1], "100% rmw");
    let kept = settings["log_memory_bytes"].as_u64().unwrap();
    let budget = settings["memory_budget"].as_u64().unwrap();
    let page = 1u64 << settings["page_size_bits"].as_u64().unwrap();
    assert!(
        kept <= budget && (kept / page).is_power_of_two(),
        "{settings:#}"
    );

    let svg = std::fs::read_to_string(dir.path().join("report.svg")).unwrap();
    let labels: Vec<&str> = svg
        .split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>')?.1.split("</text>").next())
        .map(str::trim)
        .collect();
    let results = report["systems"][0]["results"].as_array().unwrap();
    let mut plotted = 0;
    for r in results.iter().filter(|r| r["workload"] != "load") {
        assert_eq!(r["mode"], "pipelined", "{r:#}");
        let value = format!("{:.2}", r["mops"].as_f64().unwrap());
        assert!(labels.contains(&value.as_str()), "{value}: {labels:?}");
        plotted += 1;
    }
    assert_eq!(plotted, 4);
    // One value label per cell of the one system, and no other number of two decimals.
    let values = labels
        .iter()
        .filter(|l| l.split_once('.').is_some_and(|(_, d)| d.len() == 2))
        .count();
    assert_eq!(values, plotted, "{labels:?}");
}
