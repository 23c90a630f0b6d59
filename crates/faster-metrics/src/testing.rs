//! What tests of the stores' `publish` compare (feature `testing`): the counters and gauges a
//! publisher hands to the `metrics` facade, and the samples of a Prometheus page, both keyed
//! by name and sorted labels. Its functions panic on what a test should fail on.

use std::collections::BTreeMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};

use crate::parse;

/// A sample's name and its labels, sorted.
pub type Key = (String, Vec<(String, String)>);

/// What `publish` hands to a debugging recorder installed for its duration on this thread:
/// counters and gauges by key.
///
/// # Panics
/// If something is published as a histogram (the stores publish quantile gauges instead).
pub fn published(publish: impl FnOnce()) -> BTreeMap<Key, f64> {
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
///
/// # Panics
/// If the page does not parse.
pub fn exposed(text: &str) -> BTreeMap<Key, f64> {
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
pub fn without_quantiles(published: &BTreeMap<Key, f64>) -> BTreeMap<Key, f64> {
    published
        .iter()
        .filter(|((_, labels), _)| labels.iter().all(|(k, _)| k != "quantile"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// The value of the sample `name` with exactly `labels`.
pub fn value(samples: &BTreeMap<Key, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.sort();
    samples.get(&(name.to_string(), labels)).copied()
}
