//! Latencies counted in fixed buckets of atomics: recording is one relaxed `fetch_add` per
//! bucket, count and sum, with no lock, so any thread may record while another reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds: 50 µs to 10 s, about three per decade. A
/// latency above the last bound goes to a final bucket of its own (`+Inf`).
pub const BUCKET_BOUNDS_MICROS: [u64; 16] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 10_000_000,
];

const BUCKETS: usize = BUCKET_BOUNDS_MICROS.len() + 1;

/// Counts of latencies by bucket, and their sum.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// What a [`Histogram`] held when it was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistogramSnapshot {
    /// Latencies in each bucket (not cumulative): `counts[i]` for those at or below
    /// `BUCKET_BOUNDS_MICROS[i]` and above the bound before; the last for those above every
    /// bound.
    pub counts: Vec<u64>,
    /// Latencies recorded.
    pub count: u64,
    /// Their sum, in microseconds.
    pub sum_micros: u64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one latency.
    pub fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKET_BOUNDS_MICROS.partition_point(|&bound| bound < micros);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The counts now. Read one atomic at a time, so a snapshot taken while others record may
    /// be off by the latencies being recorded.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            count: self.count.load(Ordering::Relaxed),
            sum_micros: self.sum_micros.load(Ordering::Relaxed),
        }
    }
}

impl HistogramSnapshot {
    /// The smallest bucket bound at or below which at least `quantile` (0 to 1) of the
    /// latencies lie, in microseconds; `None` when nothing was recorded or the quantile falls
    /// in the last, unbounded bucket.
    pub fn quantile_bound_micros(&self, quantile: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let wanted = (quantile.clamp(0.0, 1.0) * self.count as f64).ceil() as u64;
        let mut seen = 0;
        for (bound, count) in BUCKET_BOUNDS_MICROS.iter().zip(&self.counts) {
            seen += count;
            if seen >= wanted.max(1) {
                return Some(*bound);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = Histogram::new();
        h.record(Duration::from_micros(50));
        h.record(Duration::from_micros(51));
        h.record(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.counts[0], 1);
        assert_eq!(s.counts[1], 1);
        assert_eq!(s.counts[BUCKETS - 1], 1);
        assert_eq!(s.count, 3);
        assert_eq!(s.sum_micros, 60_000_101);
    }

    #[test]
    fn quantile_bounds_follow_the_cumulative_counts() {
        let h = Histogram::new();
        for _ in 0..9 {
            h.record(Duration::from_micros(80));
        }
        h.record(Duration::from_millis(3));
        let s = h.snapshot();
        assert_eq!(s.quantile_bound_micros(0.5), Some(100));
        assert_eq!(s.quantile_bound_micros(0.99), Some(5_000));
        assert_eq!(Histogram::new().snapshot().quantile_bound_micros(0.5), None);
    }
}
