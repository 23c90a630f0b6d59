//! [`LogStats`] as metrics: Prometheus text (feature `prometheus`) or the `metrics` facade
//! (feature `metrics`), written by the same code.

#[cfg(feature = "prometheus")]
use faster_metrics::Exposition;
use faster_metrics::MetricSink;

use crate::stats::LogStats;

impl LogStats {
    /// The statistics as a page of Prometheus text, every metric named `faster_log_…`.
    #[cfg(feature = "prometheus")]
    pub fn to_prometheus(&self) -> String {
        let mut out = Exposition::new();
        self.write_prometheus(&mut out, "faster_log");
        out.finish()
    }

    /// Writes the statistics to `out`, every metric named `{prefix}_…`.
    #[cfg(feature = "prometheus")]
    pub fn write_prometheus(&self, out: &mut Exposition, prefix: &str) {
        self.write_metrics(out, prefix);
    }

    /// Publishes the statistics through the `metrics` facade, to the recorder in force,
    /// every metric named `faster_log_…` as in the Prometheus text: counters set to their
    /// absolute value, gauges to theirs, the commit latency as `_count`, `_sum` and
    /// quantile gauges. Call it when you poll; nothing is published between calls.
    #[cfg(feature = "metrics")]
    pub fn publish(&self) {
        self.publish_as("faster_log");
    }

    /// [`publish`](Self::publish) with every metric named `{prefix}_…`.
    #[cfg(feature = "metrics")]
    pub fn publish_as(&self, prefix: &str) {
        self.write_metrics(&mut faster_metrics::Publisher::new(), prefix);
    }

    /// Writes the statistics to any sink, every metric named `{prefix}_…`.
    pub fn write_metrics(&self, out: &mut impl MetricSink, prefix: &str) {
        out.counter(
            &format!("{prefix}_appended_bytes_total"),
            "Bytes the log grew by since it was opened (entries with their headers, padding, commit entries).",
            &[],
            self.bytes_appended,
        );
        out.counter(
            &format!("{prefix}_committed_bytes_total"),
            "Bytes made durable by commits since the log was opened.",
            &[],
            self.bytes_committed,
        );
        out.counters(
            &format!("{prefix}_commits_total"),
            "Commit rounds that made something new durable, by where the commit record went.",
            &[
                (&[("record", "log")], self.fast_commits),
                (
                    &[("record", "metadata")],
                    self.commits.saturating_sub(self.fast_commits),
                ),
            ],
        );
        out.histogram(
            &format!("{prefix}_commit_duration_seconds"),
            "Time of a commit round, from snapshotting the tail to the durable commit record.",
            &self.commit_latency,
        );
        out.gauge(
            &format!("{prefix}_address"),
            "The log's addresses: begin, committed and tail.",
            &[
                (&[("at", "begin")], self.begin_address.raw()),
                (&[("at", "committed")], self.committed_until.raw()),
                (&[("at", "tail")], self.tail_address.raw()),
            ],
        );
    }
}
