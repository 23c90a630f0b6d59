//! The log's statistics through the `metrics` facade: after `publish`, a debugging recorder
//! holds every counter and gauge of the Prometheus page under the same name and labels, and
//! the commit latency's count and sum.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use faster_log::FasterLog;
use faster_metrics::testing::{exposed, published, value, without_quantiles};

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
