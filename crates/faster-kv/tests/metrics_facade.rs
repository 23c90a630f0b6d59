//! The statistics through the `metrics` facade: a debugging recorder holds, after `publish`,
//! every counter and gauge of the Prometheus page under the same name and labels, with the
//! values `stats()` reported.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::collections::BTreeMap;

use faster_kv::FasterKv;
use faster_metrics::parse;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// A sample's name and its labels, sorted.
type Key = (String, Vec<(String, String)>);

/// What `publish` hands to a debugging recorder, counters and gauges by key.
fn published(publish: impl FnOnce()) -> BTreeMap<Key, f64> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, publish);
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect();
            labels.sort();
            let value = match value {
                DebugValue::Counter(v) => v as f64,
                DebugValue::Gauge(v) => v.0,
                DebugValue::Histogram(_) => panic!("{} is published as a histogram", key.name()),
            };
            ((key.name().to_string(), labels), value)
        })
        .collect()
}

/// The samples of a Prometheus page by key, a histogram's buckets left out (the facade has
/// its count, its sum and quantiles instead).
fn exposed(text: &str) -> BTreeMap<Key, f64> {
    let samples = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    samples
        .into_iter()
        .filter(|s| !s.name.ends_with("_bucket"))
        .map(|s| {
            let labels = s.labels.into_iter().collect();
            ((s.name, labels), s.value)
        })
        .collect()
}

/// The published samples that are not a histogram's quantile gauges.
fn without_quantiles(published: &BTreeMap<Key, f64>) -> BTreeMap<Key, f64> {
    published
        .iter()
        .filter(|((_, labels), _)| labels.iter().all(|(k, _)| k != "quantile"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn value(samples: &BTreeMap<Key, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples.get(&(name.to_string(), labels)).copied()
}

#[test]
fn publish_sets_every_metric_of_the_page_to_the_stats() {
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .in_memory()
        .page_size_bits(12)
        .memory_budget(4 << 12)
        .index_buckets(1 << 8)
        .read_cache(256 << 10)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    for k in 0..2000 {
        s.upsert(&k, &k).unwrap();
    }
    for k in 1500..2500 {
        s.read(&k).unwrap();
    }
    for k in 0..100 {
        s.add(&k, 1).unwrap();
        s.delete(&(k + 100)).unwrap();
    }
    drop(s);
    let stats = store.stats();

    let facade = published(|| stats.publish());
    assert_eq!(without_quantiles(&facade), exposed(&stats.to_prometheus()));
    assert_eq!(
        value(&facade, "faster_kv_operations_total", &[("op", "upsert")]),
        Some(2000.0)
    );
    assert_eq!(
        value(&facade, "faster_kv_operations_total", &[("op", "read")]),
        Some(stats.reads as f64)
    );
    assert_eq!(
        value(&facade, "faster_kv_reads_found_total", &[]),
        Some(stats.reads_found as f64)
    );
    assert_eq!(
        value(&facade, "faster_kv_log_address", &[("at", "tail")]),
        stats.regions.as_ref().map(|r| r.tail.raw() as f64)
    );
    assert!(value(&facade, "faster_kv_read_cache_memory_bytes", &[]).is_some());

    // Under another prefix, the same metrics.
    let renamed = published(|| stats.publish_as("hot"));
    assert_eq!(renamed.len(), facade.len());
    assert_eq!(
        value(&renamed, "hot_operations_total", &[("op", "upsert")]),
        Some(2000.0)
    );
}
