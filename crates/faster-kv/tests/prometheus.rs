//! The statistics as Prometheus text: a page that parses, with every family described, whose
//! counters are the numbers `stats()` reports after a known mix of operations.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use faster_kv::{FasterKv, Stats};
use faster_metrics::{Sample, parse};

/// The value of the sample `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
        .map(|s| s.value)
}

fn small_store() -> FasterKv<u64, u64> {
    FasterKv::builder()
        .in_memory()
        .page_size_bits(12)
        .memory_budget(4 << 12)
        .index_buckets(1 << 8)
        .open()
        .unwrap()
}

/// 3000 upserts, 1000 reads of which 600 find their key, 200 RMWs, 100 deletes.
fn known_mix(store: &FasterKv<u64, u64>) -> Stats {
    let mut s = store.session().unwrap();
    for k in 0..3000 {
        s.upsert(&k, &k).unwrap();
    }
    for k in 2400..3400 {
        s.read(&k).unwrap();
    }
    for k in 0..200 {
        s.add(&k, 1).unwrap();
    }
    for k in 0..100 {
        s.delete(&k).unwrap();
    }
    drop(s);
    store.stats()
}

#[test]
fn the_page_parses_and_its_counters_are_the_stats() {
    let store = small_store();
    let stats = known_mix(&store);
    assert_eq!(
        (
            stats.upserts,
            stats.reads,
            stats.reads_found,
            stats.rmws,
            stats.deletes
        ),
        (3000, 1000, 600, 200, 100)
    );
    let text = stats.to_prometheus();
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let op = |kind| value(&samples, "faster_kv_operations_total", &[("op", kind)]);
    assert_eq!(op("upsert"), Some(3000.0));
    assert_eq!(op("read"), Some(1000.0));
    assert_eq!(op("rmw"), Some(200.0));
    assert_eq!(op("delete"), Some(100.0));
    assert_eq!(
        value(&samples, "faster_kv_reads_found_total", &[]),
        Some(600.0)
    );
    assert_eq!(
        value(&samples, "faster_kv_appends_total", &[]),
        Some(stats.appends as f64)
    );
    assert_eq!(
        value(&samples, "faster_kv_log_address", &[("at", "tail")]),
        stats.regions.map(|r| r.tail.raw() as f64)
    );
    assert_eq!(
        value(&samples, "faster_kv_index_buckets", &[]),
        stats.index.map(|i| i.buckets as f64)
    );
    // Every counter's name ends in `_total`.
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        if line.ends_with(" counter") {
            assert!(line.contains("_total "), "{line}");
        }
    }
}

#[test]
fn retries_by_cause_add_up_to_the_total() {
    let store = small_store();
    // Four threads add to the same few keys while each writes new keys into a small log and
    // index: the counters leave the mutable region often, copy-updates race for the same
    // index entries, pages turn and the index grows under them.
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut s = store.session().unwrap();
                for i in 0..10_000u64 {
                    s.add(&(i % 8), 1).unwrap();
                    s.upsert(&(1_000 + t * 10_000 + i), &i).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut s = store.session().unwrap();
    let sum: u64 = (0..8).map(|k| s.read(&k).unwrap().unwrap_or(0)).sum();
    assert_eq!(sum, 40_000);
    let stats = store.stats();
    assert!(stats.retries > 0, "{:?}", stats.retry_causes);
    let samples = parse(&stats.to_prometheus()).unwrap();
    let by_cause: f64 = samples
        .iter()
        .filter(|s| s.name == "faster_kv_retries_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(by_cause, stats.retries as f64);
    let causes = stats.retry_causes;
    for (cause, count) in [
        ("index_growth", causes.index_growth),
        ("page_turn", causes.page_turn),
        ("lost_race", causes.lost_race),
        ("fuzzy_region", causes.fuzzy_region),
        ("record_locked", causes.record_locked),
    ] {
        assert_eq!(
            value(&samples, "faster_kv_retries_total", &[("cause", cause)]),
            Some(count as f64)
        );
    }
}

#[test]
fn checkpoints_are_counted_by_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .dir(dir.path())
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .segment_size(1 << 20)
        .index_buckets(1 << 8)
        .open()
        .unwrap();
    known_mix(&store);
    store.checkpoint().unwrap().wait().unwrap();
    store.checkpoint().unwrap().wait().unwrap();
    let samples = parse(&store.stats().to_prometheus()).unwrap();
    assert_eq!(
        value(
            &samples,
            "faster_kv_checkpoints_total",
            &[("outcome", "completed")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &samples,
            "faster_kv_checkpoints_total",
            &[("outcome", "failed")]
        ),
        Some(0.0)
    );
}
