//! The log's statistics and their Prometheus text: commits counted once per round, a
//! latency histogram as full as the commits, bytes that follow the addresses.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use faster_log::FasterLog;
use faster_metrics::{Sample, parse};

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
        .map(|s| s.value)
}

#[test]
fn five_commits_of_a_hundred_entries_are_counted_and_exposed() {
    let dir = tempfile::tempdir().unwrap();
    let log = FasterLog::builder_in_dir(dir.path())
        .page_size_bits(16)
        .open()
        .unwrap();
    let start = log.tail_address().raw();
    for round in 0..5u8 {
        for _ in 0..100 {
            log.enqueue(&[round; 100]).unwrap();
        }
        log.commit().unwrap();
    }
    let stats = log.stats();
    assert_eq!(stats.commits, 5);
    assert_eq!(stats.commit_latency.count, 5);
    assert_eq!(stats.commit_latency.counts.iter().sum::<u64>(), 5);
    // Each entry is its 100 bytes and a 16-byte header.
    assert!(stats.bytes_committed >= 500 * 116, "{stats:?}");
    assert_eq!(stats.bytes_appended, stats.tail_address.raw() - start);
    assert_eq!(stats.committed_until, log.committed_until());

    let text = stats.to_prometheus();
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let commits: f64 = samples
        .iter()
        .filter(|s| s.name == "faster_log_commits_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(commits, 5.0);
    assert_eq!(
        value(&samples, "faster_log_commit_duration_seconds_count", &[]),
        Some(5.0)
    );
    assert_eq!(
        value(
            &samples,
            "faster_log_commit_duration_seconds_bucket",
            &[("le", "+Inf")]
        ),
        Some(5.0)
    );
    assert_eq!(
        value(&samples, "faster_log_committed_bytes_total", &[]),
        Some(stats.bytes_committed as f64)
    );
    assert_eq!(
        value(&samples, "faster_log_appended_bytes_total", &[]),
        Some(stats.bytes_appended as f64)
    );
    assert_eq!(
        value(&samples, "faster_log_address", &[("at", "committed")]),
        Some(log.committed_until().raw() as f64)
    );
}

#[test]
fn a_commit_with_nothing_new_is_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let log = FasterLog::builder_in_dir(dir.path()).open().unwrap();
    log.enqueue(b"one").unwrap();
    log.commit().unwrap();
    log.commit().unwrap();
    assert_eq!(log.stats().commits, 1);
}
