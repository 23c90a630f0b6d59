//! Latencies recorded into an HDR histogram ([`hdrhistogram`]): every latency from 1 µs to an
//! hour is kept to three significant digits, so that quantiles are read to within 0.1 % of the
//! true value, and the Prometheus buckets are counted from it when a snapshot is taken.
//!
//! Recording takes a mutex that nothing else holds for long (a snapshot copies out a few
//! numbers): a histogram is for work done once per page, commit or checkpoint, never for each
//! operation of a store.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds of the Prometheus buckets, in microseconds: 50 µs to 10 s, about three per
/// decade. A latency above the last bound goes to a final bucket of its own (`+Inf`).
pub const BUCKET_BOUNDS_MICROS: [u64; 16] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 10_000_000,
];

/// The longest latency told apart from longer ones: an hour, in microseconds. A latency above
/// it counts as an hour in the quantiles (its sum stays exact).
const HIGHEST_MICROS: u64 = 3_600_000_000;

/// Significant decimal digits kept of each latency.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Latencies, in microseconds, and their exact sum.
#[derive(Debug)]
pub struct Histogram {
    inner: Mutex<Recorded>,
}

#[derive(Debug)]
struct Recorded {
    hdr: hdrhistogram::Histogram<u64>,
    sum_micros: u64,
}

/// What a [`Histogram`] held when it was read: the number of latencies, their sum, quantiles
/// (each the highest latency equivalent to the true one, to three significant digits), and the
/// Prometheus buckets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistogramSnapshot {
    /// Latencies in each bucket (not cumulative): `counts[i]` for those at or below
    /// `BUCKET_BOUNDS_MICROS[i]` and above the bound before; the last for those above every
    /// bound. A latency within 0.1 % of a bound may be counted on either side of it.
    pub counts: Vec<u64>,
    /// Latencies recorded.
    pub count: u64,
    /// Their sum, in microseconds.
    pub sum_micros: u64,
    /// The median, in microseconds (0 when nothing was recorded).
    pub p50_micros: u64,
    /// The 99th percentile, in microseconds.
    pub p99_micros: u64,
    /// The 99.9th percentile, in microseconds.
    pub p999_micros: u64,
    /// The longest latency, in microseconds.
    pub max_micros: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        #[allow(
            clippy::expect_used,
            reason = "the bounds are constants that hdrhistogram accepts"
        )]
        let hdr = hdrhistogram::Histogram::new_with_bounds(1, HIGHEST_MICROS, SIGNIFICANT_DIGITS)
            .expect("1 µs to an hour at three significant digits are valid bounds");
        Self {
            inner: Mutex::new(Recorded { hdr, sum_micros: 0 }),
        }
    }

    /// Counts one latency.
    pub fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let mut r = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        r.hdr.saturating_record(micros.max(1));
        r.sum_micros = r.sum_micros.saturating_add(micros);
    }

    /// The latencies recorded so far.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let r = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let hdr = &r.hdr;
        let mut counts = vec![0; BUCKET_BOUNDS_MICROS.len() + 1];
        for at in hdr.iter_recorded() {
            let value = hdr.lowest_equivalent(at.value_iterated_to());
            let bucket = BUCKET_BOUNDS_MICROS.partition_point(|&bound| bound < value);
            counts[bucket] += at.count_at_value();
        }
        let quantile = |q| {
            if hdr.is_empty() {
                0
            } else {
                hdr.value_at_quantile(q)
            }
        };
        HistogramSnapshot {
            counts,
            count: hdr.len(),
            sum_micros: r.sum_micros,
            p50_micros: quantile(0.5),
            p99_micros: quantile(0.99),
            p999_micros: quantile(0.999),
            max_micros: if hdr.is_empty() { 0 } else { hdr.max() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKETS: usize = BUCKET_BOUNDS_MICROS.len() + 1;

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
    fn quantiles_are_within_a_thousandth_of_the_true_latency() {
        let h = Histogram::new();
        // 1 µs to 10 000 µs, one of each: the true p50 is 5000, p99 9900, p999 9990.
        for micros in 1..=10_000 {
            h.record(Duration::from_micros(micros));
        }
        let s = h.snapshot();
        let near = |got: u64, want: u64| got.abs_diff(want) * 1000 <= want;
        assert!(near(s.p50_micros, 5_000), "{s:?}");
        assert!(near(s.p99_micros, 9_900), "{s:?}");
        assert!(near(s.p999_micros, 9_990), "{s:?}");
        assert!(near(s.max_micros, 10_000), "{s:?}");
        assert_eq!(s.count, 10_000);
        assert_eq!(s.sum_micros, 10_000 * 10_001 / 2);
        assert_eq!(s.counts.iter().sum::<u64>(), 10_000);
        // Bounds below 2048 µs are exact.
        assert_eq!(s.counts[0], 50);
        assert_eq!(s.counts[4], 500);
    }

    #[test]
    fn an_empty_histogram_has_zero_quantiles() {
        let s = Histogram::new().snapshot();
        assert_eq!((s.count, s.p50_micros, s.max_micros), (0, 0, 0));
        assert_eq!(s.counts, vec![0; BUCKETS]);
    }

    #[test]
    fn a_latency_past_an_hour_counts_as_an_hour_but_its_sum_is_exact() {
        let h = Histogram::new();
        h.record(Duration::from_secs(7_200));
        let s = h.snapshot();
        assert!(s.max_micros >= HIGHEST_MICROS && s.max_micros < HIGHEST_MICROS / 999 * 1000);
        assert_eq!(s.sum_micros, 7_200_000_000);
    }
}
