//! Latencies of a benchmark, in nanoseconds, kept in an HDR histogram: 1 ns to an hour to
//! three significant digits, so a percentile is read to within 0.1 % without sorting samples.

/// The longest latency told apart from longer ones: an hour, in nanoseconds.
const HIGHEST_NANOS: u64 = 3_600_000_000_000;

/// Latencies recorded so far.
#[derive(Debug)]
pub(crate) struct Latencies {
    hdr: hdrhistogram::Histogram<u64>,
}

impl Latencies {
    pub(crate) fn new() -> Self {
        #[allow(
            clippy::expect_used,
            reason = "the bounds are constants that hdrhistogram accepts"
        )]
        let hdr = hdrhistogram::Histogram::new_with_bounds(1, HIGHEST_NANOS, 3)
            .expect("1 ns to an hour at three significant digits are valid bounds");
        Self { hdr }
    }

    /// Counts one latency (above an hour, as an hour).
    pub(crate) fn record_nanos(&mut self, nanos: u64) {
        self.hdr.saturating_record(nanos.max(1));
    }

    /// The latency at or below which `quantile` (0 to 1) of those recorded lie, in
    /// nanoseconds; `None` when none was recorded.
    pub(crate) fn quantile_nanos(&self, quantile: f64) -> Option<u64> {
        (!self.hdr.is_empty()).then(|| self.hdr.value_at_quantile(quantile))
    }
}

impl FromIterator<u64> for Latencies {
    fn from_iter<I: IntoIterator<Item = u64>>(nanos: I) -> Self {
        let mut latencies = Self::new();
        for n in nanos {
            latencies.record_nanos(n);
        }
        latencies
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram_to_three_digits() {
        let latencies: Latencies = (1..=1000u64).rev().map(|i| i * 1000).collect();
        let near =
            |got: Option<u64>, want: u64| got.is_some_and(|g| g.abs_diff(want) * 1000 <= want);
        assert!(near(latencies.quantile_nanos(0.5), 500_000));
        assert!(near(latencies.quantile_nanos(0.99), 990_000));
        assert!(near(latencies.quantile_nanos(1.0), 1_000_000));
        assert_eq!(Latencies::new().quantile_nanos(0.5), None);
    }
}
