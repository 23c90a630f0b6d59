//! F2's statistics through the `metrics` facade: the hot store's, the cold log's and F2's own
//! counters and gauges, published under the names and labels of the Prometheus page with the
//! values `stats()` reported.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::time::Duration;

use faster_f2::F2Kv;
use faster_metrics::testing::{exposed, published, value, without_quantiles};

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
