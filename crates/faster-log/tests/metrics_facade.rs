//! The log's statistics through the `metrics` facade: after `publish`, a debugging recorder
//! holds every counter and gauge of the Prometheus page under the same name and labels, and
//! the commit latency's count and sum.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::collections::BTreeMap;

use faster_log::FasterLog;
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
    let dir = tempfile::tempdir().unwrap();
    let log = FasterLog::builder_in_dir(dir.path())
        .page_size_bits(16)
        .open()
        .unwrap();
    for round in 0..4u8 {
        for _ in 0..50 {
            log.enqueue(&[round; 64]).unwrap();
        }
        log.commit().unwrap();
    }
    let stats = log.stats();
    assert_eq!(stats.commits, 4);

    let facade = published(|| stats.publish());
    assert_eq!(without_quantiles(&facade), exposed(&stats.to_prometheus()));
    assert_eq!(
        value(&facade, "faster_log_commit_duration_seconds_count", &[]),
        Some(4.0)
    );
    assert_eq!(
        value(&facade, "faster_log_committed_bytes_total", &[]),
        Some(stats.bytes_committed as f64)
    );
    assert_eq!(
        value(&facade, "faster_log_address", &[("at", "committed")]),
        Some(stats.committed_until.raw() as f64)
    );
}
