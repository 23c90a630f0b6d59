//! [`LogStats`] in the Prometheus text exposition format (feature `prometheus`).

use faster_metrics::Exposition;

use crate::stats::LogStats;

impl LogStats {
    /// The statistics as a page of Prometheus text, every metric named `faster_log_…`.
    pub fn to_prometheus(&self) -> String {
        let mut out = Exposition::new();
        self.write_prometheus(&mut out, "faster_log");
        out.finish()
    }

    /// Writes the statistics to `out`, every metric named `{prefix}_…`.
    pub fn write_prometheus(&self, out: &mut Exposition, prefix: &str) {
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
