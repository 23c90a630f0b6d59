//! [`F2Stats`] as metrics, Prometheus text (feature `prometheus`) or the `metrics` facade
//! (feature `metrics`): the hot store's statistics as `faster_f2_hot_…`, the cold log's as
//! `faster_f2_cold_log_…`, and F2's own as `faster_f2_…`.

#[cfg(feature = "prometheus")]
use faster_metrics::Exposition;
use faster_metrics::MetricSink;

use crate::store::F2Stats;

impl F2Stats {
    /// The statistics as a page of Prometheus text.
    #[cfg(feature = "prometheus")]
    pub fn to_prometheus(&self) -> String {
        let mut out = Exposition::new();
        self.write_prometheus(&mut out, "faster_f2");
        out.finish()
    }

    /// Writes the statistics to `out`, every metric named `{prefix}_…`.
    #[cfg(feature = "prometheus")]
    pub fn write_prometheus(&self, out: &mut Exposition, prefix: &str) {
        self.write_metrics(out, prefix);
    }

    /// Publishes the statistics through the `metrics` facade, to the recorder in force,
    /// under the names of the Prometheus text (`faster_f2_…`). Call it when you poll; nothing
    /// is published between calls.
    #[cfg(feature = "metrics")]
    pub fn publish(&self) {
        self.publish_as("faster_f2");
    }

    /// [`publish`](Self::publish) with every metric named `{prefix}_…`.
    #[cfg(feature = "metrics")]
    pub fn publish_as(&self, prefix: &str) {
        self.write_metrics(&mut faster_metrics::Publisher::new(), prefix);
    }

    /// Writes the statistics to any sink, every metric named `{prefix}_…`.
    pub fn write_metrics(&self, out: &mut impl MetricSink, prefix: &str) {
        let p = |name: &str| format!("{prefix}_{name}");
        self.hot.write_metrics(out, &p("hot"));
        self.cold_log.write_metrics(out, &p("cold_log"));
        out.counter(
            &p("migrations_total"),
            "Migrations of hot records to the cold store.",
            &[],
            self.migrations,
        );
        out.counter(
            &p("migrated_records_total"),
            "Records migrations moved to the cold store (values and tombstones).",
            &[],
            self.migrated_records,
        );
        out.counter(
            &p("cold_compactions_total"),
            "Compactions of the cold log.",
            &[],
            self.cold_compactions,
        );
        out.counter(
            &p("cold_compaction_kept_records_total"),
            "Records cold compactions kept.",
            &[],
            self.cold_kept,
        );
        out.counter(
            &p("background_failures_total"),
            "Background migrations and cold compactions that failed.",
            &[],
            self.failures,
        );
        out.gauge(
            &p("cold_memory_bytes"),
            "Memory of the cold index: its hash index and its chunk store's log pages.",
            &[
                (&[("part", "index")], self.cold_index_bytes),
                (&[("part", "chunk_log")], self.cold_index_log_bytes),
            ],
        );
        out.gauge(
            &p("cold_log_bytes"),
            "Bytes of cold log between its begin and its tail.",
            &[(&[], self.cold_log_bytes)],
        );
    }
}
