//! The log's statistics: counted by the committer thread once per commit round, never on
//! the enqueue path (the bytes appended are read off the tail address).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use faster_hlog::Address;
use faster_metrics::{Histogram, HistogramSnapshot};

/// What the committer counts.
#[derive(Debug)]
pub(crate) struct LogCounters {
    commits: AtomicU64,
    fast_commits: AtomicU64,
    latency: Histogram,
    /// The tail and the committed address when the log was opened.
    tail_at_open: u64,
    committed_at_open: u64,
}

impl LogCounters {
    pub(crate) fn new(tail_at_open: u64, committed_at_open: u64) -> Self {
        Self {
            commits: AtomicU64::new(0),
            fast_commits: AtomicU64::new(0),
            latency: Histogram::new(),
            tail_at_open,
            committed_at_open,
        }
    }

    /// A commit round made new entries (or a new begin address) durable in `took`.
    pub(crate) fn committed(&self, took: Duration, fast: bool) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        if fast {
            self.fast_commits.fetch_add(1, Ordering::Relaxed);
        }
        self.latency.record(took);
    }

    pub(crate) fn snapshot(&self, begin: u64, tail: u64, committed_until: u64) -> LogStats {
        LogStats {
            bytes_appended: tail.saturating_sub(self.tail_at_open),
            bytes_committed: committed_until.saturating_sub(self.committed_at_open),
            commits: self.commits.load(Ordering::Relaxed),
            fast_commits: self.fast_commits.load(Ordering::Relaxed),
            commit_latency: self.latency.snapshot(),
            begin_address: Address::from_masked(begin),
            tail_address: Address::from_masked(tail),
            committed_until: Address::from_masked(committed_until),
        }
    }
}

/// A snapshot of a log's statistics since it was opened
/// ([`FasterLog::stats`](crate::FasterLog::stats)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogStats {
    /// Bytes the log grew by: entries with their 16-byte headers, page-end padding and the
    /// log's own commit entries.
    pub bytes_appended: u64,
    /// Bytes made durable by commits.
    pub bytes_committed: u64,
    /// Commit rounds that made something new durable.
    pub commits: u64,
    /// Those whose commit record went into the log itself (one device flush).
    pub fast_commits: u64,
    /// How long each of those rounds took, from snapshotting the tail to the durable commit
    /// record.
    pub commit_latency: HistogramSnapshot,
    /// The begin address: entries below it are truncated.
    pub begin_address: Address,
    /// The tail address.
    pub tail_address: Address,
    /// Every entry below this address is committed.
    pub committed_until: Address,
}
