//! The Prometheus text exposition format: for each metric family a `# HELP` and a `# TYPE`
//! line, then one `name{label="value",…} value` line per sample.

use std::fmt::Write;

use crate::histogram::{BUCKET_BOUNDS_MICROS, HistogramSnapshot};

/// Label pairs of one sample: `&[("cause", "lost_race")]`.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

/// A page of Prometheus text being written. Every family is written whole by one call, so
/// its `# HELP` and `# TYPE` lines come once, before its samples.
#[derive(Debug, Default, Clone)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// An empty page.
    pub fn new() -> Self {
        Self::default()
    }

    /// A counter family with one sample: `name` should end in `_total`.
    pub fn counter(&mut self, name: &str, help: &str, labels: Labels<'_>, value: u64) {
        self.family(name, help, "counter", &[(labels, value)]);
    }

    /// A counter family with a sample per label set.
    pub fn counters(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, u64)]) {
        self.family(name, help, "counter", samples);
    }

    /// A gauge family with a sample per label set.
    pub fn gauge(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, u64)]) {
        self.family(name, help, "gauge", samples);
    }

    /// A histogram family of latencies in seconds: cumulative `_bucket` samples with an `le`
    /// label (the last `+Inf`), then `_sum` and `_count`.
    pub fn histogram(&mut self, name: &str, help: &str, histogram: &HistogramSnapshot) {
        self.header(name, help, "histogram");
        let mut cumulative = 0;
        for (bound, count) in BUCKET_BOUNDS_MICROS.iter().zip(&histogram.counts) {
            cumulative += count;
            let le = seconds(*bound);
            self.sample(&format!("{name}_bucket"), &[("le", &le)], cumulative);
        }
        let overflow = histogram.counts.get(BUCKET_BOUNDS_MICROS.len()).copied();
        cumulative += overflow.unwrap_or(0);
        self.sample(&format!("{name}_bucket"), &[("le", "+Inf")], cumulative);
        let sum = seconds(histogram.sum_micros);
        let _ = writeln!(self.text, "{name}_sum {sum}");
        self.sample(&format!("{name}_count"), &[], histogram.count);
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.text
    }

    fn family(&mut self, name: &str, help: &str, kind: &str, samples: &[(Labels<'_>, u64)]) {
        self.header(name, help, kind);
        for (labels, value) in samples {
            self.sample(name, labels, *value);
        }
    }

    fn header(&mut self, name: &str, help: &str, kind: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: Labels<'_>, value: u64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let value = value
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.text, "{label}=\"{value}\"");
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }
}

/// Microseconds as seconds, in decimal without exponent: `1500` is `0.0015`.
fn seconds(micros: u64) -> String {
    let whole = micros / 1_000_000;
    let frac = micros % 1_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_written_without_exponent_or_trailing_zeros() {
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(1_500), "0.0015");
        assert_eq!(seconds(2_000_000), "2");
        assert_eq!(seconds(2_250_000), "2.25");
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut out = Exposition::new();
        out.gauge("g", "line\\one\ntwo", &[(&[("dir", "a\"b\\c\nd")], 1)]);
        assert_eq!(
            out.finish(),
            "# HELP g line\\\\one\\ntwo\n# TYPE g gauge\ng{dir=\"a\\\"b\\\\c\\nd\"} 1\n"
        );
    }

    #[test]
    fn a_histogram_has_cumulative_buckets_ending_in_inf_then_sum_and_count() {
        let mut counts = vec![0; BUCKET_BOUNDS_MICROS.len() + 1];
        counts[0] = 2;
        counts[3] = 1;
        counts[BUCKET_BOUNDS_MICROS.len()] = 4;
        let snapshot = HistogramSnapshot {
            counts,
            count: 7,
            sum_micros: 3_000_000,
            ..HistogramSnapshot::default()
        };
        let mut out = Exposition::new();
        out.histogram("h_seconds", "h", &snapshot);
        let text = out.finish();
        let buckets: Vec<&str> = text.lines().filter(|l| l.contains("_bucket")).collect();
        assert_eq!(buckets.len(), BUCKET_BOUNDS_MICROS.len() + 1);
        assert!(buckets[0].ends_with(" 2"), "{}", buckets[0]);
        assert!(buckets[3].ends_with(" 3"), "{}", buckets[3]);
        assert_eq!(
            buckets.last().copied(),
            Some("h_seconds_bucket{le=\"+Inf\"} 7")
        );
        assert!(
            text.ends_with("h_seconds_sum 3\nh_seconds_count 7\n"),
            "{text}"
        );
    }
}
