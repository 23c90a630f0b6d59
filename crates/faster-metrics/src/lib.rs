//! The pieces faster-rs's crates share to report their statistics: [`Exposition`], a writer
//! of the Prometheus text exposition format (version 0.0.4), and [`Histogram`], latencies kept
//! to three significant digits in an HDR histogram, read as quantiles and Prometheus buckets.
//!
//! Each store writes its statistics to a [`MetricSink`] (faster-kv's, faster-log's and
//! faster-f2's `prometheus` and `metrics` features): an [`Exposition`] renders them as text,
//! and with this crate's `metrics` feature a `Publisher` hands them to the
//! [`metrics`](https://docs.rs/metrics) facade under the same names. This crate knows nothing
//! of stores.
//!
//! ```
//! use faster_metrics::{Exposition, Histogram};
//!
//! let mut out = Exposition::new();
//! out.counter("demo_reads_total", "Reads issued.", &[], 3);
//! out.gauge("demo_sessions", "Sessions alive.", &[(&[("kind", "user")], 2)]);
//! let latency = Histogram::new();
//! latency.record(std::time::Duration::from_micros(150));
//! out.histogram("demo_commit_seconds", "Commit latency.", &latency.snapshot());
//! let text = out.finish();
//! assert!(text.contains("# TYPE demo_reads_total counter\ndemo_reads_total 3\n"));
//! assert!(text.contains("demo_sessions{kind=\"user\"} 2\n"));
//! assert!(text.contains("demo_commit_seconds_count 1\n"));
//! ```

mod exposition;
mod histogram;
mod parse;
#[cfg(feature = "metrics")]
mod publisher;
mod sink;
#[cfg(feature = "testing")]
pub mod testing;

pub use exposition::{Exposition, Labels};
pub use histogram::{BUCKET_BOUNDS_MICROS, Histogram, HistogramSnapshot};
pub use parse::{Sample, parse};
#[cfg(feature = "metrics")]
pub use publisher::Publisher;
pub use sink::MetricSink;
