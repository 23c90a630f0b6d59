//! [`Publisher`]: statistics published through the [`metrics`] facade, polled from a
//! snapshot. Counters are set to their absolute value, gauges to theirs; nothing is recorded
//! per operation, so publishing costs the stores' hot paths nothing.

use metrics::{Label, SharedString};

use crate::exposition::Labels;
use crate::histogram::HistogramSnapshot;
use crate::sink::MetricSink;

/// A [`MetricSink`] that hands each sample to the `metrics` recorder in force on this thread
/// (a local one set with `metrics::with_local_recorder`, or else the global one; with none
/// installed, nothing happens).
///
/// The names and labels are those of the Prometheus text. A histogram, which the facade can
/// only fill one value at a time, is published from its snapshot as `{name}_count` (a
/// counter), `{name}_sum` (a gauge, in seconds) and `{name}` with a `quantile` label of
/// `0.5`, `0.99`, `0.999` and `1` (the maximum): gauges in seconds, as a Prometheus summary
/// has them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Publisher;

impl Publisher {
    /// A publisher to the recorder in force.
    pub fn new() -> Self {
        Self
    }
}

/// The labels as the facade takes them (owned: a sink's labels are borrowed).
fn labels(labels: Labels<'_>) -> Vec<Label> {
    labels
        .iter()
        .map(|(key, value)| Label::new(key.to_string(), value.to_string()))
        .collect()
}

fn help_text(help: &str) -> SharedString {
    SharedString::from(help.to_string())
}

impl MetricSink for Publisher {
    fn counters(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, u64)]) {
        metrics::describe_counter!(name.to_string(), help_text(help));
        for (l, value) in samples {
            metrics::counter!(name.to_string(), labels(l)).absolute(*value);
        }
    }

    fn gauge(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, u64)]) {
        metrics::describe_gauge!(name.to_string(), help_text(help));
        for (l, value) in samples {
            metrics::gauge!(name.to_string(), labels(l)).set(*value as f64);
        }
    }

    fn histogram(&mut self, name: &str, help: &str, histogram: &HistogramSnapshot) {
        let count = format!("{name}_count");
        metrics::describe_counter!(count.clone(), help_text(help));
        metrics::counter!(count).absolute(histogram.count);
        let sum = format!("{name}_sum");
        metrics::describe_gauge!(sum.clone(), help_text(help));
        metrics::gauge!(sum).set(histogram.sum_micros as f64 / 1e6);
        metrics::describe_gauge!(name.to_string(), help_text(help));
        for (quantile, micros) in [
            ("0.5", histogram.p50_micros),
            ("0.99", histogram.p99_micros),
            ("0.999", histogram.p999_micros),
            ("1", histogram.max_micros),
        ] {
            metrics::gauge!(name.to_string(), "quantile" => quantile).set(micros as f64 / 1e6);
        }
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;
    use crate::histogram::Histogram;

    /// Every sample the recorder holds: name, labels as `k=v` joined by commas, value.
    fn published(f: impl FnOnce()) -> Vec<(String, String, f64)> {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, f);
        let mut out: Vec<_> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                let value = match value {
                    DebugValue::Counter(v) => v as f64,
                    DebugValue::Gauge(v) => v.0,
                    DebugValue::Histogram(v) => v.len() as f64,
                };
                (key.name().to_string(), labels.join(","), value)
            })
            .collect();
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out
    }

    #[test]
    fn counters_are_set_absolute_and_gauges_set_with_their_labels() {
        let samples = published(|| {
            let mut p = Publisher::new();
            p.counters(
                "demo_ops_total",
                "Ops.",
                &[(&[("op", "read")], 7), (&[("op", "upsert")], 3)],
            );
            // A second poll replaces the value: it is not added to the first.
            p.counter("demo_ops_total", "Ops.", &[("op", "read")], 9);
            p.gauge("demo_sessions", "Sessions.", &[(&[], 2)]);
        });
        let s = |n: &str, l: &str, v: f64| (n.to_string(), l.to_string(), v);
        assert_eq!(
            samples,
            vec![
                s("demo_ops_total", "op=read", 9.0),
                s("demo_ops_total", "op=upsert", 3.0),
                s("demo_sessions", "", 2.0),
            ]
        );
    }

    #[test]
    fn a_histogram_is_published_as_its_count_sum_and_quantiles() {
        let h = Histogram::new();
        h.record(std::time::Duration::from_micros(1_500));
        h.record(std::time::Duration::from_micros(500));
        let snapshot = h.snapshot();
        let samples = published(|| Publisher::new().histogram("demo_seconds", "D.", &snapshot));
        let value = |name: &str, labels: &str| {
            samples
                .iter()
                .find(|(n, l, _)| n == name && l == labels)
                .map(|s| s.2)
        };
        assert_eq!(value("demo_seconds_count", ""), Some(2.0));
        assert_eq!(value("demo_seconds_sum", ""), Some(0.002));
        assert_eq!(value("demo_seconds", "quantile=0.5"), Some(0.0005));
        // 1500 µs is kept exactly: below 2048 µs every microsecond has its own slot.
        assert_eq!(value("demo_seconds", "quantile=1"), Some(0.0015));
    }
}
