//! `faster bench` end to end: the built binary, its JSON report, its peers' child processes.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking; the values come from our own binary"
)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Runs `faster bench` with `args` plus `--json`, returning its output and wall time.
fn bench(args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_faster"))
        .arg("bench")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    (output, start.elapsed())
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "faster bench failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn system<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["systems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no system {name} in {report:#}"))
}

const TINY: &[&str] = &[
    "--keys",
    "20000",
    "--duration",
    "0.2",
    "--threads",
    "1",
    "--workloads",
    "read,rmw",
];

#[test]
fn tiny_bench_verifies_faster_kv_and_reports_every_peer() {
    let (output, _) = bench(TINY);
    let report = json(&output);
    let faster = system(&report, "faster-kv");
    assert_eq!(faster["status"], "ok", "{faster:#}");
    assert_eq!(faster["after_load"]["checked"], 20000);
    assert_eq!(faster["after_load"]["wrong"], 0);
    assert_eq!(faster["after_runs"]["checked"], 20000);
    assert_eq!(faster["after_runs"]["wrong"], 0);
    // The load, then read and rmw × uniform and zipf × 1 thread.
    assert_eq!(faster["results"].as_array().unwrap().len(), 5);

    let peers = report["settings"]["peers"].as_array().unwrap();
    if cfg!(feature = "peers") {
        assert_eq!(peers.len(), 4, "{peers:?}");
    }
    let statuses = ["ok", "wrong_data", "hung", "crashed"];
    for peer in peers {
        let name = match peer.as_str().unwrap() {
            "scc" => "scc::HashMap",
            other => other,
        };
        let status = &system(&report, name)["status"];
        assert!(
            statuses.iter().any(|s| status == s),
            "{name}: status {status}"
        );
    }
    if cfg!(feature = "peers") {
        // The ceiling has no excuse: it must be right.
        assert_eq!(system(&report, "scc::HashMap")["status"], "ok");
        let ratios = report["ratios"].as_array().unwrap();
        assert!(
            ratios.iter().any(|r| r["peer"] == "scc::HashMap"
                && r["workload"] == "100% rmw"
                && r["ratio"].as_f64().unwrap() > 0.0),
            "{ratios:?}"
        );
    }
}

#[test]
fn a_peer_that_hangs_is_killed_and_reported_as_hung() {
    let mut args = TINY.to_vec();
    args.extend(["--peers", "sleep-forever", "--peer-timeout", "1"]);
    let (output, took) = bench(&args);
    let report = json(&output);
    let hung = system(&report, "sleep-forever");
    assert_eq!(hung["status"], "hung", "{hung:#}");
    assert!(
        hung["detail"].as_str().unwrap().contains("killed after"),
        "{hung:#}"
    );
    assert_eq!(system(&report, "faster-kv")["status"], "ok");
    assert!(took < Duration::from_secs(40), "took {took:?}");
}

#[test]
fn a_peer_that_panics_is_reported_as_crashed_and_the_run_goes_on() {
    let (output, _) = bench(&[
        "--keys",
        "20000",
        "--duration",
        "0.2",
        "--threads",
        "1",
        "--workloads",
        "read",
        "--peers",
        "crash,sleep-forever",
        "--peer-timeout",
        "1",
    ]);
    let report = json(&output);
    let crashed = system(&report, "crash");
    assert_eq!(crashed["status"], "crashed", "{crashed:#}");
    assert!(
        crashed["detail"]
            .as_str()
            .unwrap()
            .contains("panics on purpose"),
        "{crashed:#}"
    );
    assert_eq!(system(&report, "sleep-forever")["status"], "hung");
}

#[test]
fn an_unknown_peer_is_refused_before_anything_runs() {
    let (output, took) = bench(&["--peers", "nosuchpeer"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown peer `nosuchpeer`"));
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
