//! F2's statistics through the `metrics` facade: the hot store's, the cold log's and F2's own
//! counters and gauges, published under the names and labels of the Prometheus page with the
//! values `stats()` reported.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use faster_f2::F2Kv;
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
    let tmp = tempfile::tempdir().unwrap();
    // No background migration: the test migrates by hand.
    let store: F2Kv<u64, u64> = common::tiny(tmp.path())
        .check_every(Duration::from_secs(3600))
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    for k in 0..3000 {
        s.upsert(&k, &common::value(k, 0)).unwrap();
    }
    drop(s);
    let until = store.hot().regions().tail;
    let moved = store.migrate(until).unwrap();
    assert!(moved > 0);
    let stats = store.stats();

    let facade = published(|| stats.publish());
    assert_eq!(without_quantiles(&facade), exposed(&stats.to_prometheus()));
    assert_eq!(
        value(&facade, "faster_f2_migrated_records_total", &[]),
        Some(stats.migrated_records as f64)
    );
    assert_eq!(
        value(
            &facade,
            "faster_f2_hot_operations_total",
            &[("op", "upsert")]
        ),
        Some(3000.0)
    );
    assert_eq!(
        value(&facade, "faster_f2_cold_log_appended_bytes_total", &[]),
        Some(stats.cold_log.bytes_appended as f64)
    );
}
