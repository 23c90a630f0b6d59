//! The statistics through the `metrics` facade: a debugging recorder holds, after `publish`,
//! every counter and gauge of the Prometheus page under the same name and labels, with the
//! values `stats()` reported.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use faster_kv::FasterKv;
use faster_metrics::testing::{exposed, published, value, without_quantiles};

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
