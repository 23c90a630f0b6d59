//! `faster bench` end to end: the built binary, its JSON report, its peers' child processes.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking; the values come from our own binary"
)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Runs `faster bench` with `args` plus `--json`, returning its output and wall time. Unless
/// `args` set the memory, the plan runs once, in memory (`--memory-fraction 2`), so that the
/// output is one report rather than an array of them.
fn bench(args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let mut command = Command::new(env!("CARGO_BIN_EXE_faster"));
    command.arg("bench").args(args).arg("--json");
    // A peer that panics would otherwise symbolise a backtrace of a large binary with debug
    // information, which takes seconds on a loaded machine and could pass `--peer-timeout`.
    command.env("RUST_BACKTRACE", "0");
    if !args
        .iter()
        .any(|a| *a == "--memory-budget" || *a == "--memory-fraction")
    {
        command.args(["--memory-fraction", "2"]);
    }
    let output = command.output().unwrap();
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
        assert_eq!(peers.len(), 7, "{peers:?}");
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

/// sled, fjall and redb on files, two threads on zipfian keys (so that RMWs of the hottest
/// keys collide): every key reads back right, no operation failed, every run did some work.
#[cfg(feature = "peers")]
#[test]
fn sled_fjall_and_redb_verify_every_key_and_report_throughput() {
    let (output, _) = bench(&[
        "--keys",
        "5000",
        "--duration",
        "0.2",
        "--threads",
        "2",
        "--distribution",
        "zipf",
        "--workloads",
        "50-50,rmw",
        "--memory-budget",
        "65536",
        "--page-size-bits",
        "12",
        "--peers",
        "sled,fjall,redb",
    ]);
    let report = json(&output);
    for name in ["sled", "fjall", "redb"] {
        let peer = system(&report, name);
        assert_eq!(peer["status"], "ok", "{peer:#}");
        assert_eq!(peer["failed_ops"], 0, "{peer:#}");
        for phase in ["after_load", "after_runs"] {
            assert_eq!(peer[phase]["checked"], 5000, "{name} {phase}: {peer:#}");
            assert_eq!(peer[phase]["wrong"], 0, "{name} {phase}: {peer:#}");
        }
        let results = peer["results"].as_array().unwrap();
        // The load, then 50/50 and rmw × zipf × 2 threads.
        assert_eq!(results.len(), 3, "{peer:#}");
        for result in results {
            assert!(result["mops"].as_f64().unwrap() > 0.0, "{name}: {result:#}");
        }
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

/// Killed at the same limit, a peer stuck before its load is hung, and one whose load is done
/// but whose timed run goes on past the limit is too slow.
#[test]
fn a_peer_killed_in_a_slow_run_is_too_slow_and_one_that_never_started_hung() {
    let mut args = TINY.to_vec();
    args.extend(["--peers", "sleep-forever,crawl", "--peer-timeout", "4"]);
    let (output, _) = bench(&args);
    let report = json(&output);
    let hung = system(&report, "sleep-forever");
    assert_eq!(hung["status"], "hung", "{hung:#}");
    let slow = system(&report, "crawl");
    assert_eq!(slow["status"], "too_slow", "{slow:#}");
    let detail = slow["detail"].as_str().unwrap();
    assert!(detail.contains("too slow rather than stuck"), "{detail}");
    assert!(
        detail.contains("during 100% read uniform 1 thr"),
        "{detail}"
    );
    // Its load and the check after it did finish.
    assert_eq!(slow["after_load"]["checked"], 20000, "{slow:#}");
}

/// A peer on files killed in the middle of its load leaves no files behind: the parent made
/// its directory and removes it (and faster-kv's temporary directory goes too).
#[cfg(feature = "peers")]
#[test]
fn a_killed_peer_on_files_leaves_no_files_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_faster"))
        .env("TMPDIR", tmp.path())
        .args([
            "bench",
            "--keys",
            "200000",
            "--duration",
            "0.2",
            "--threads",
            "1",
        ])
        .args(["--workloads", "read", "--distribution", "uniform", "--json"])
        .args(["--memory-fraction", "2"])
        // One write transaction per insert: 200,000 of them take seconds.
        .args(["--peers", "redb", "--peer-timeout", "1"])
        .output()
        .unwrap();
    let report = json(&output);
    let redb = system(&report, "redb");
    // Killed in its load: "too_slow" if it had counted keys by then, "hung" if not.
    assert!(
        redb["status"] == "hung" || redb["status"] == "too_slow",
        "{redb:#}"
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
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
        // Room for the crashing peer to print its panic on a loaded machine: within the
        // limit it is "crashed", past it "hung".
        "--peer-timeout",
        "4",
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

#[test]
fn checkpointing_store_is_measured_beside_the_plain_one_and_verified() {
    let (output, _) = bench(&[
        "--keys",
        "20000",
        "--threads",
        "1",
        "--workloads",
        "read,rmw",
        "--no-peers",
        "--duration",
        "0.6",
        "--checkpoint-every",
        "0.1",
        "--prefetch-depth",
        "0",
    ]);
    let report = json(&output);
    assert_eq!(report["settings"]["checkpoint_every"], 0.1);
    assert_eq!(system(&report, "faster-kv")["status"], "ok");
    let ckpt = system(&report, "faster-kv ckpt");
    assert_eq!(ckpt["status"], "ok", "{ckpt:#}");
    assert_eq!(ckpt["after_runs"]["wrong"], 0);
    let runs: Vec<&Value> = ckpt["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["workload"] != "load")
        .collect();
    assert_eq!(runs.len(), 4);
    for run in runs {
        let taken = run["checkpoint_seconds"].as_array().unwrap();
        assert!(!taken.is_empty(), "no checkpoint during {run:#}");
        assert!(taken.iter().all(|s| s.as_f64().unwrap() >= 0.0));
    }
    // The ratios compare with peers only, not with the checkpointing store.
    assert!(
        report["ratios"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["peer"] != "faster-kv ckpt")
    );

    let (refused, _) = bench(&["--memory", "--checkpoint-every", "1", "--no-peers"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("needs files"));
}

/// `faster inspect` and `faster verify` on a directory that a checkpointing store left.
#[test]
fn inspect_and_verify_a_store_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let (output, _) = bench(&[
        "--keys",
        "20000",
        "--no-peers",
        "--duration",
        "0.3",
        "--workloads",
        "rmw",
        "--threads",
        "1",
        "--distribution",
        "uniform",
        "--checkpoint-every",
        "0.05",
        // Fold-over, so that the log has segment files to list.
        "--checkpoint-kind",
        "fold-over",
        "--dir",
        path,
    ]);
    json(&output);
    // The checkpointing store's files stay in its subdirectory.
    let store = dir.path().join("faster-kv-ckpt");
    let path = store.to_str().unwrap();
    let faster = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_faster"))
            .args(args)
            .output()
            .unwrap()
    };
    let listed = faster(&["inspect", path]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{text}");
    assert!(text.contains("segment file(s)"), "{text}");
    assert!(text.contains("recovery would take checkpoint"), "{text}");

    let verified = faster(&["verify", path]);
    let text = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{text}");
    assert!(text.contains("verify: ok"), "{text}");

    // Damage the newest checkpoint's metadata: verify names the file and fails.
    let newest = std::fs::read_dir(store.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .max()
        .unwrap();
    let meta = newest.join("meta.dat");
    let mut bytes = std::fs::read(&meta).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&meta, &bytes).unwrap();
    let verified = faster(&["verify", path]);
    let text = String::from_utf8_lossy(&verified.stdout);
    assert!(!verified.status.success(), "{text}");
    assert!(text.contains("meta.dat: bytes 0.."), "{text}");

    let missing = faster(&["verify", "/nonexistent/faster-store"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such directory"));
}

#[test]
fn a_deep_io_queue_larger_than_memory_verifies_and_reports_memory() {
    // 20,000 keys (480 KB of records) in 64 KiB of log pages: most operations wait for the
    // device, up to 16 at a time per thread; every RMW must be applied exactly once.
    let (output, _) = bench(&[
        "--keys",
        "20000",
        "--duration",
        "0.3",
        "--threads",
        "1,2",
        "--workloads",
        "read,50-50,rmw",
        "--distribution",
        "uniform",
        "--memory-budget",
        "65536",
        "--page-size-bits",
        "12",
        "--io-depth",
        "16",
        "--no-peers",
    ]);
    let report = json(&output);
    let faster = system(&report, "faster-kv");
    assert_eq!(faster["status"], "ok", "{faster:#}");
    assert_eq!(faster["after_runs"]["checked"], 20000);
    assert_eq!(faster["after_runs"]["wrong"], 0, "{faster:#}");
    let memory = &faster["memory"];
    assert_eq!(memory["log_budget"], 65536);
    assert_eq!(memory["log_bytes"], 65536);
    assert!(memory["index_bytes"].as_u64().unwrap() > 0, "{memory:#}");
}

#[test]
fn a_deep_io_queue_with_o_direct_larger_than_memory_reads_from_the_device() {
    // 20,000 keys (480 KB of records) in 64 KiB of log pages, segment files opened with
    // O_DIRECT: most reads go to the disk, up to 8 at a time.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let (output, _) = bench(&[
        "--keys",
        "20000",
        "--duration",
        "0.3",
        "--threads",
        "1",
        "--workloads",
        "read",
        "--distribution",
        "uniform",
        "--memory-budget",
        "65536",
        "--page-size-bits",
        "12",
        "--direct-io",
        "--io-depth",
        "8",
        "--no-peers",
        "--dir",
        path,
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && stderr.contains("refuses O_DIRECT") {
        eprintln!("skipped, nothing measured: {path} refuses O_DIRECT: {stderr}");
        return;
    }
    let report = json(&output);
    assert_eq!(report["settings"]["storage"], "files, O_DIRECT");
    let faster = system(&report, "faster-kv");
    assert_eq!(faster["status"], "ok", "{faster:#}");
    assert_eq!(faster["after_runs"]["wrong"], 0, "{faster:#}");
    let read = faster["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["workload"] == "100% read")
        .unwrap_or_else(|| panic!("no read run in {faster:#}"));
    let mops = read["mops"].as_f64().unwrap();
    assert!(mops > 0.0, "{read:#}");
    eprintln!("O_DIRECT, --io-depth 8, 1 thread: {mops:.4} Mops/s");
}

#[test]
fn the_default_plan_runs_in_memory_then_larger_than_memory() {
    // No --memory-fraction: the default, 2 then 0.1 of the 480 KB of records (48 KB, which
    // the floor of 4 pages of 4 KiB leaves as it is).
    let output = Command::new(env!("CARGO_BIN_EXE_faster"))
        .args([
            "bench",
            "--keys",
            "20000",
            "--duration",
            "0.2",
            "--threads",
            "1",
        ])
        .args(["--workloads", "read,rmw", "--distribution", "uniform"])
        .args(["--page-size-bits", "12", "--no-peers", "--json"])
        .output()
        .unwrap();
    let all = json(&output);
    let reports = all.as_array().unwrap_or_else(|| panic!("{all:#}"));
    assert_eq!(reports.len(), 2, "{all:#}");
    let budgets: Vec<(u64, u64)> = reports
        .iter()
        .map(|r| {
            let s = &r["settings"];
            (
                s["memory_budget"].as_u64().unwrap(),
                s["data_bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        budgets[0],
        (64 << 20, 480_000),
        "in memory: the floor of 64 MiB"
    );
    assert_eq!(budgets[1], (48_000, 480_000), "a tenth of the data");
    for report in reports {
        let faster = system(report, "faster-kv");
        assert_eq!(faster["status"], "ok", "{faster:#}");
        assert_eq!(faster["after_runs"]["checked"], 20000);
        assert_eq!(faster["after_runs"]["wrong"], 0, "{faster:#}");
    }
    // Larger than memory, the store kept the budget's pages (rounded down to a power of two
    // number of them) and no more.
    let memory = &system(&reports[1], "faster-kv")["memory"];
    assert_eq!(memory["log_budget"], 48_000, "{memory:#}");
    assert!(
        memory["log_bytes"].as_u64().unwrap() <= 48_000,
        "{memory:#}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("larger than memory"), "{stderr}");
}

#[test]
fn a_memory_fraction_that_is_not_positive_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_faster"))
        .args([
            "bench",
            "--keys",
            "1000",
            "--no-peers",
            "--memory-fraction",
            "2,0",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--memory-fraction 0"), "{stderr}");
}

#[test]
fn direct_io_is_refused_with_memory() {
    let (output, _) = bench(&["--keys", "100", "--direct-io", "--memory", "--no-peers"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--direct-io needs files"), "{stderr}");
}
