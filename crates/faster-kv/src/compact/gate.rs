//! What keeps compaction, live-record scans and the log-size throttle out of each other's way.
//!
//! - A compaction and a live-record scan never overlap: a compaction moves live records to the
//!   tail, past the end of a scan running at the same time, which would then miss them. A scan
//!   waits for a running compaction; a compaction does not start while a scan is open (an
//!   automatic one skips its turn, [`FasterKv::compact`](crate::FasterKv::compact) answers
//!   [`CompactError::ScanOpen`](crate::CompactError::ScanOpen)).
//! - One compaction at a time.
//! - While the log is over its size budget and compaction is freeing space, sessions wait at
//!   their next refresh (`throttle`), so that writers cannot outrun compaction.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::stats::CompactionStats;
use crate::sync::{ignore_poison, lock};

#[derive(Debug, Default)]
struct State {
    scans: usize,
    compacting: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Gate {
    state: Mutex<State>,
    changed: Condvar,
    /// Sessions wait at their next refresh while this is set.
    pub(crate) throttle: AtomicBool,
    /// What compactions did, for [`CompactionStats`].
    runs: AtomicU64,
    records_read: AtomicU64,
    copied: AtomicU64,
    bytes_dropped: AtomicU64,
    skipped: AtomicU64,
    /// See [`Gate::freeing`]; true until a compaction says otherwise.
    freeing: AtomicBool,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            changed: Condvar::new(),
            throttle: AtomicBool::new(false),
            runs: AtomicU64::new(0),
            records_read: AtomicU64::new(0),
            copied: AtomicU64::new(0),
            bytes_dropped: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            freeing: AtomicBool::new(true),
        }
    }
}

/// Why a compaction could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Compacting,
    ScanOpen,
}

impl Gate {
    /// Marks a compaction as running, unless one is or a scan is open.
    pub(crate) fn start_compaction(&self) -> Result<(), Refused> {
        let mut state = lock(&self.state);
        if state.compacting {
            return Err(Refused::Compacting);
        }
        if state.scans > 0 {
            return Err(Refused::ScanOpen);
        }
        state.compacting = true;
        Ok(())
    }

    /// The compaction ended: wake waiting scans.
    pub(crate) fn end_compaction(&self) {
        lock(&self.state).compacting = false;
        self.changed.notify_all();
    }

    /// Sets or lifts the throttle; lifting it wakes the sessions waiting for it.
    pub(crate) fn set_throttle(&self, on: bool) {
        if self.throttle.swap(on, Ordering::AcqRel) && !on {
            let _guard = lock(&self.state);
            self.changed.notify_all();
        }
    }

    /// Opens a scan, waiting for a running compaction to end.
    pub(crate) fn start_scan(&self) {
        let mut state = lock(&self.state);
        while state.compacting {
            state = ignore_poison(self.changed.wait(state));
        }
        state.scans += 1;
    }

    pub(crate) fn end_scan(&self) {
        let mut state = lock(&self.state);
        state.scans = state.scans.saturating_sub(1);
        drop(state);
        self.changed.notify_all();
    }

    /// Whether sessions must wait (one relaxed load: checked at each refresh).
    #[inline]
    pub(crate) fn throttled(&self) -> bool {
        self.throttle.load(Ordering::Relaxed)
    }

    /// Waits while the throttle is set, at most `limit` in all.
    pub(crate) fn wait_throttle(&self, limit: Duration) {
        let mut state = lock(&self.state);
        let deadline = std::time::Instant::now() + limit;
        while self.throttle.load(Ordering::Acquire) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            state = ignore_poison(self.changed.wait_timeout(state, left)).0;
        }
    }

    /// Whether the last compaction freed space (dropped more bytes than it copied).
    pub(crate) fn freeing(&self) -> bool {
        self.freeing.load(Ordering::Relaxed)
    }

    /// Records that no compaction can free space now (none is due, or it failed): the
    /// throttle lifts at the next check, until a compaction frees space again.
    pub(crate) fn not_freeing(&self) {
        self.freeing.store(false, Ordering::Relaxed);
    }

    /// Counts a compaction that moved the begin address and whether it freed space.
    pub(crate) fn count_run(
        &self,
        records_read: u64,
        copied: u64,
        bytes_dropped: u64,
        bytes_copied: u64,
    ) {
        self.freeing
            .store(bytes_dropped > bytes_copied, Ordering::Relaxed);
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.records_read.fetch_add(records_read, Ordering::Relaxed);
        self.copied.fetch_add(copied, Ordering::Relaxed);
        self.bytes_dropped
            .fetch_add(bytes_dropped, Ordering::Relaxed);
    }

    /// Counts an automatic compaction that could not start.
    pub(crate) fn count_skipped(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> CompactionStats {
        CompactionStats {
            runs: self.runs.load(Ordering::Relaxed),
            records_read: self.records_read.load(Ordering::Relaxed),
            copied: self.copied.load(Ordering::Relaxed),
            bytes_dropped: self.bytes_dropped.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
        }
    }
}
