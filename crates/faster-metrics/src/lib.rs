//! The pieces faster-rs's crates share to report their statistics: [`Exposition`], a writer
//! of the Prometheus text exposition format (version 0.0.4), and [`Histogram`], fixed latency
//! buckets kept in atomics that a hot path may record into without a lock.
//!
//! Each store renders its own statistics with them (faster-kv's, faster-log's and faster-f2's
//! `prometheus` feature); this crate knows nothing of stores and depends on no other crate.
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

pub use exposition::{Exposition, Labels};
pub use histogram::{BUCKET_BOUNDS_MICROS, Histogram, HistogramSnapshot};
pub use parse::{Sample, parse};
