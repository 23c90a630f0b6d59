//! [`Stats`] as metrics: Prometheus text (feature `prometheus`) or the `metrics` facade
//! (feature `metrics`), written by the same code. Counters end in `_total`, what can go down
//! is a gauge, and a breakdown is a label (`op`, `cause`, `at`).

#[cfg(feature = "prometheus")]
use faster_metrics::Exposition;
use faster_metrics::MetricSink;

use crate::stats::Stats;

impl Stats {
    /// The statistics as a page of Prometheus text, every metric named `faster_kv_…`.
    #[cfg(feature = "prometheus")]
    pub fn to_prometheus(&self) -> String {
        let mut out = Exposition::new();
        self.write_prometheus(&mut out, "faster_kv");
        out.finish()
    }

    /// Writes the statistics to `out`, every metric named `{prefix}_…` (F2 writes its hot
    /// store's as `faster_f2_hot_…`).
    #[cfg(feature = "prometheus")]
    pub fn write_prometheus(&self, out: &mut Exposition, prefix: &str) {
        self.write_metrics(out, prefix);
    }

    /// Publishes the statistics through the `metrics` facade, to the recorder in force,
    /// every metric named `faster_kv_…` as in the Prometheus text: counters
    /// are set to their absolute value, gauges to theirs. Call it when you poll (before each
    /// scrape, or on a timer); nothing is published between calls.
    #[cfg(feature = "metrics")]
    pub fn publish(&self) {
        self.publish_as("faster_kv");
    }

    /// [`publish`](Self::publish) with every metric named `{prefix}_…`.
    #[cfg(feature = "metrics")]
    pub fn publish_as(&self, prefix: &str) {
        self.write_metrics(&mut faster_metrics::Publisher::new(), prefix);
    }

    /// Writes the statistics to any sink, every metric named `{prefix}_…`.
    pub fn write_metrics(&self, out: &mut impl MetricSink, prefix: &str) {
        self.write_operations(out, prefix);
        let c = &self.compaction;
        let p = |name: &str| format!("{prefix}_{name}");
        out.counter(
            &p("compactions_total"),
            "Compactions that moved the begin address.",
            &[],
            c.runs,
        );
        out.counter(
            &p("compaction_records_read_total"),
            "Records compactions read.",
            &[],
            c.records_read,
        );
        out.counter(
            &p("compaction_records_copied_total"),
            "Live records compactions copied to the tail (or handed to another store).",
            &[],
            c.copied,
        );
        out.counter(
            &p("compaction_dropped_bytes_total"),
            "Bytes of log compactions dropped below the begin address.",
            &[],
            c.bytes_dropped,
        );
        out.counter(
            &p("compactions_skipped_total"),
            "Automatic compactions that could not start.",
            &[],
            c.skipped,
        );
        out.counters(
            &p("checkpoints_total"),
            "Checkpoints since the store was opened, by outcome.",
            &[
                (&[("outcome", "completed")], self.checkpoints.completed),
                (&[("outcome", "failed")], self.checkpoints.failed),
            ],
        );
        out.gauge(
            &p("sessions"),
            "Sessions alive now.",
            &[(&[], self.live_sessions)],
        );
        self.write_log_and_index(out, prefix);
    }

    /// The operation counters.
    fn write_operations(&self, out: &mut impl MetricSink, prefix: &str) {
        let p = |name: &str| format!("{prefix}_{name}");
        out.counters(
            &p("operations_total"),
            "Operations issued, by kind (rmw includes counters, compare-and-swap and conditional inserts).",
            &[
                (&[("op", "read")], self.reads),
                (&[("op", "upsert")], self.upserts),
                (&[("op", "rmw")], self.rmws),
                (&[("op", "delete")], self.deletes),
            ],
        );
        out.counter(
            &p("reads_found_total"),
            "Reads that found their key.",
            &[],
            self.reads_found,
        );
        out.counter(
            &p("in_place_updates_total"),
            "Updates done in place in the mutable region.",
            &[],
            self.in_place_updates,
        );
        out.counter(
            &p("appends_total"),
            "Records appended at the tail (new keys, copy-updates, tombstones).",
            &[],
            self.appends,
        );
        out.counter(
            &p("pending_total"),
            "Operations that went to the device.",
            &[],
            self.pending,
        );
        out.counter(
            &p("device_reads_total"),
            "Reads issued to the device.",
            &[],
            self.device_reads,
        );
        let r = &self.retry_causes;
        out.counters(
            &p("retries_total"),
            "Attempts of operations started again, by cause.",
            &[
                (&[("cause", "index_growth")], r.index_growth),
                (&[("cause", "page_turn")], r.page_turn),
                (&[("cause", "lost_race")], r.lost_race),
                (&[("cause", "fuzzy_region")], r.fuzzy_region),
                (&[("cause", "record_locked")], r.record_locked),
            ],
        );
        out.counter(
            &p("throttled_total"),
            "Times a session waited for a compaction because the log was over its size budget.",
            &[],
            self.throttled,
        );
    }

    /// The log's regions, the index's fill and the read cache, when the snapshot has them.
    fn write_log_and_index(&self, out: &mut impl MetricSink, prefix: &str) {
        let p = |name: &str| format!("{prefix}_{name}");
        if let Some(r) = &self.regions {
            out.gauge(
                &p("log_address"),
                "The hybrid log's addresses (begin, head, read_only, flushed, tail).",
                &[
                    (&[("at", "begin")], r.begin.raw()),
                    (&[("at", "head")], r.head.raw()),
                    (&[("at", "read_only")], r.read_only.raw()),
                    (&[("at", "flushed")], r.flushed_until.raw()),
                    (&[("at", "tail")], r.tail.raw()),
                ],
            );
        }
        if let Some(i) = &self.index {
            out.gauge(
                &p("index_buckets"),
                "Buckets of the hash index's table (overflow buckets apart).",
                &[(&[], i.buckets)],
            );
            out.gauge(
                &p("index_entries"),
                "Used entries of the hash index.",
                &[(&[], i.used_entries)],
            );
            out.gauge(
                &p("index_overflow_buckets"),
                "Overflow buckets linked into the index's chains.",
                &[(&[], i.overflow_buckets)],
            );
            out.gauge(
                &p("index_memory_bytes"),
                "Bytes of bucket memory the index holds.",
                &[(&[], i.memory_bytes)],
            );
        }
        if let Some(c) = &self.read_cache {
            out.gauge(
                &p("read_cache_memory_bytes"),
                "Bytes of memory the read cache holds.",
                &[(&[], c.bytes)],
            );
            out.counters(
                &p("read_cache_lookups_total"),
                "Reads that met the read cache, by result.",
                &[
                    (&[("result", "hit")], c.hits),
                    (&[("result", "miss")], c.misses),
                ],
            );
            out.counter(
                &p("read_cache_inserts_total"),
                "Copies made in the read cache after a device read.",
                &[],
                c.inserts,
            );
            out.counter(
                &p("read_cache_evictions_total"),
                "Copies unlinked from the read cache when their page was reused.",
                &[],
                c.evictions,
            );
        }
    }
}
