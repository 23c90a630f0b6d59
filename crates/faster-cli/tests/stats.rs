//! `faster stats` on a faster-kv store, an F2 store and a FasterLog: a table, and Prometheus
//! text that parses and reports the store's addresses.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::Path;
use std::process::Command;

use faster_f2::F2Kv;
use faster_kv::FasterKv;
use faster_log::FasterLog;
use faster_metrics::{Sample, parse};

/// The binary's success and standard output, or its standard error when it failed.
fn faster(args: &[&str], dir: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_faster"))
        .arg("stats")
        .args(args)
        .arg(dir)
        .output()
        .unwrap();
    let text = if output.status.success() {
        String::from_utf8_lossy(&output.stdout).into_owned()
    } else {
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    (output.status.success(), text)
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
        .map(|s| s.value)
}

#[test]
fn a_store_is_described_as_a_table_and_as_prometheus_text() {
    let tmp = tempfile::tempdir().unwrap();
    let final_address = {
        let store: FasterKv<u64, u64> = FasterKv::builder()
            .dir(tmp.path())
            .page_size_bits(12)
            .memory_budget(8 << 12)
            .segment_size(1 << 16)
            .index_buckets(1 << 10)
            .open()
            .unwrap();
        let mut s = store.session().unwrap();
        for k in 0..3_000u64 {
            s.upsert(&k, &k).unwrap();
        }
        drop(s);
        let info = store.checkpoint().unwrap().wait().unwrap();
        info.final_address.unwrap()
    };
    let (ok, table) = faster(&[], tmp.path());
    assert!(ok, "{table}");
    for row in [
        "(faster-kv)",
        "recovered checkpoint",
        "log addresses",
        "index ",
    ] {
        assert!(table.contains(row), "no {row:?} in\n{table}");
    }
    let (ok, text) = faster(&["--prometheus"], tmp.path());
    assert!(ok, "{text}");
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        value(&samples, "faster_kv_log_address", &[("at", "tail")]),
        Some(final_address.raw() as f64)
    );
    // A fresh process has issued no operations; the recovered index holds the keys.
    assert_eq!(
        value(&samples, "faster_kv_operations_total", &[("op", "upsert")]),
        Some(0.0)
    );
    let entries = value(&samples, "faster_kv_index_entries", &[]).unwrap();
    assert!(entries > 0.0, "{text}");
}

#[test]
fn an_f2_store_shows_its_hot_store_and_cold_log() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let store: F2Kv<u64, u64> = F2Kv::builder(tmp.path())
            .page_size_bits(12)
            .hot_memory(16 << 12)
            .cold_index_chunk_bits(8)
            .cold_index_memory(1 << 20)
            .open()
            .unwrap();
        let mut s = store.session().unwrap();
        for k in 0..5_000u64 {
            s.upsert(&k, &k).unwrap();
        }
        let tail = store.hot().regions().tail;
        assert!(store.migrate(tail).unwrap() > 0);
        store.checkpoint().unwrap();
    }
    let (ok, table) = faster(&[], tmp.path());
    assert!(ok, "{table}");
    for row in [
        "(F2)",
        "hot: log addresses",
        "cold log: commits",
        "migrations",
    ] {
        assert!(table.contains(row), "no {row:?} in\n{table}");
    }
    let (ok, text) = faster(&["--prometheus"], tmp.path());
    assert!(ok, "{text}");
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let cold_tail = value(&samples, "faster_f2_cold_log_address", &[("at", "tail")]).unwrap();
    let cold_begin = value(&samples, "faster_f2_cold_log_address", &[("at", "begin")]).unwrap();
    assert!(
        cold_tail > cold_begin,
        "the cold log holds the migrated records"
    );
    assert!(value(&samples, "faster_f2_hot_log_address", &[("at", "tail")]).is_some());
}

#[test]
fn a_log_reports_its_committed_address() {
    let tmp = tempfile::tempdir().unwrap();
    let committed = {
        let log = FasterLog::builder_in_dir(tmp.path()).open().unwrap();
        for i in 0..100u32 {
            log.enqueue(&i.to_le_bytes()).unwrap();
        }
        log.commit().unwrap()
    };
    let (ok, table) = faster(&[], tmp.path());
    assert!(ok, "{table}");
    assert!(table.contains("(FasterLog)"), "{table}");
    let (ok, text) = faster(&["--prometheus"], tmp.path());
    assert!(ok, "{text}");
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        value(&samples, "faster_log_address", &[("at", "committed")]),
        Some(committed.raw() as f64)
    );
}

#[test]
fn a_directory_without_a_store_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "hello").unwrap();
    let (ok, text) = faster(&[], tmp.path());
    assert!(!ok);
    assert!(text.contains("no MANIFEST"), "{text}");
    let (ok, _) = faster(&[], &tmp.path().join("missing"));
    assert!(!ok);
}
