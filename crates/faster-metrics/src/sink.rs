//! [`MetricSink`]: where a store's statistics are written, family by family, so that the
//! Prometheus text ([`Exposition`]) and the `metrics` facade (`Publisher`, feature
//! `metrics`) get the same names from the same code.

use crate::exposition::{Exposition, Labels};
use crate::histogram::HistogramSnapshot;

/// A receiver of metric families. Each call is one whole family: its name, its help text
/// and its samples, one per label set.
pub trait MetricSink {
    /// A counter family with a sample per label set: `name` should end in `_total`.
    fn counters(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, u64)]);

    /// A gauge family with a sample per label set.
    fn gauge(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, u64)]);

    /// A histogram family of latencies in seconds.
    fn histogram(&mut self, name: &str, help: &str, histogram: &HistogramSnapshot);

    /// A counter family with one sample.
    fn counter(&mut self, name: &str, help: &str, labels: Labels<'_>, value: u64) {
        self.counters(name, help, &[(labels, value)]);
    }
}

impl MetricSink for Exposition {
    fn counters(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, u64)]) {
        Exposition::counters(self, name, help, samples);
    }

    fn gauge(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, u64)]) {
        Exposition::gauge(self, name, help, samples);
    }

    fn histogram(&mut self, name: &str, help: &str, histogram: &HistogramSnapshot) {
        Exposition::histogram(self, name, help, histogram);
    }
}
