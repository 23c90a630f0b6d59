//! Operation counters, cheap enough to be always on: each session counts in its own
//! cache-padded block (one writer, so plain loads and stores), and the store sums the blocks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crossbeam_utils::CachePadded;
use faster_hlog::Regions;

use crate::sync::lock;

/// Counters of one kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Counter {
    Reads,
    ReadsFound,
    Upserts,
    Rmws,
    Deletes,
    InPlaceUpdates,
    Appends,
    Pending,
    DeviceReads,
    Throttled,
    RetryIndexGrowth,
    RetryPageTurn,
    RetryLostRace,
    RetryFuzzyRegion,
    RetryRecordLocked,
}

const COUNTERS: usize = 15;

/// Why an attempt of an operation starts again (each counted apart, see [`RetryStats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryCause {
    /// The index is growing and the key's bucket is not ready (the index answered busy).
    IndexGrowth,
    /// The log's tail needs a page turn, or a frame still being flushed: refresh and retry.
    PageTurn,
    /// Another thread changed the key's index entry first (a lost compare-and-swap, or an
    /// entry that moved while the chain was on the device).
    LostRace,
    /// The record lies between the safe read-only and the read-only address, where a thread
    /// that has not refreshed may still update it in place (hybrid log rule H4).
    FuzzyRegion,
    /// A checkpoint's version change holds the record's lock.
    RecordLocked,
}

impl RetryCause {
    fn counter(self) -> Counter {
        match self {
            Self::IndexGrowth => Counter::RetryIndexGrowth,
            Self::PageTurn => Counter::RetryPageTurn,
            Self::LostRace => Counter::RetryLostRace,
            Self::FuzzyRegion => Counter::RetryFuzzyRegion,
            Self::RecordLocked => Counter::RetryRecordLocked,
        }
    }
}

/// One session's counters.
#[derive(Debug, Default)]
pub(crate) struct SessionStats {
    counts: CachePadded<[AtomicU64; COUNTERS]>,
}

impl SessionStats {
    /// Adds one; only the owning session calls this, so a load and a store suffice.
    #[inline]
    pub(crate) fn bump(&self, counter: Counter) {
        let cell = &self.counts[counter as usize];
        cell.store(cell.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Counts a retry of `cause`.
    #[inline]
    pub(crate) fn retried(&self, cause: RetryCause) {
        self.bump(cause.counter());
    }

    fn add_to(&self, totals: &mut [u64; COUNTERS]) {
        for (total, cell) in totals.iter_mut().zip(self.counts.iter()) {
            *total += cell.load(Ordering::Relaxed);
        }
    }
}

/// The store's view of every session's counters.
#[derive(Debug, Default)]
pub(crate) struct StatsRegistry {
    live: Mutex<Vec<Weak<SessionStats>>>,
    /// Counts of sessions that ended.
    ended: Mutex<[u64; COUNTERS]>,
}

impl StatsRegistry {
    pub(crate) fn register(&self) -> Arc<SessionStats> {
        let stats = Arc::new(SessionStats::default());
        let mut live = lock(&self.live);
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&stats));
        stats
    }

    /// Folds an ending session's counts into the totals.
    pub(crate) fn retire(&self, stats: &SessionStats) {
        let mut ended = lock(&self.ended);
        stats.add_to(&mut ended);
    }

    pub(crate) fn total(&self) -> Stats {
        let mut totals = *lock(&self.ended);
        let live = lock(&self.live);
        let mut sessions = 0;
        for stats in live.iter().filter_map(Weak::upgrade) {
            stats.add_to(&mut totals);
            sessions += 1;
        }
        let retry_causes = RetryStats {
            index_growth: totals[Counter::RetryIndexGrowth as usize],
            page_turn: totals[Counter::RetryPageTurn as usize],
            lost_race: totals[Counter::RetryLostRace as usize],
            fuzzy_region: totals[Counter::RetryFuzzyRegion as usize],
            record_locked: totals[Counter::RetryRecordLocked as usize],
        };
        Stats {
            reads: totals[Counter::Reads as usize],
            reads_found: totals[Counter::ReadsFound as usize],
            upserts: totals[Counter::Upserts as usize],
            rmws: totals[Counter::Rmws as usize],
            deletes: totals[Counter::Deletes as usize],
            in_place_updates: totals[Counter::InPlaceUpdates as usize],
            appends: totals[Counter::Appends as usize],
            pending: totals[Counter::Pending as usize],
            device_reads: totals[Counter::DeviceReads as usize],
            retries: retry_causes.total(),
            retry_causes,
            throttled: totals[Counter::Throttled as usize],
            compaction: CompactionStats::default(),
            checkpoints: CheckpointStats::default(),
            live_sessions: sessions,
            regions: None,
            index: None,
            read_cache: None,
        }
    }
}

/// A snapshot of a store's counters (see [`FasterKv::stats`](crate::FasterKv::stats)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Stats {
    /// Reads issued.
    pub reads: u64,
    /// Reads that found their key.
    pub reads_found: u64,
    /// Upserts issued.
    pub upserts: u64,
    /// Read-modify-writes issued (including counters, compare-and-swap, conditional inserts).
    pub rmws: u64,
    /// Deletes issued.
    pub deletes: u64,
    /// Updates done in place in the mutable region.
    pub in_place_updates: u64,
    /// Records appended at the tail (new keys, copy-updates, tombstones).
    pub appends: u64,
    /// Operations that went pending on the device.
    pub pending: u64,
    /// Reads issued to the device.
    pub device_reads: u64,
    /// Attempts of operations started again, for every cause: the sum of
    /// [`Stats::retry_causes`].
    pub retries: u64,
    /// [`Stats::retries`] by cause.
    pub retry_causes: RetryStats,
    /// Times a session waited for a compaction because the log was over its size budget.
    pub throttled: u64,
    /// What compactions did.
    pub compaction: CompactionStats,
    /// What the store's checkpoints did.
    pub checkpoints: CheckpointStats,
    /// Sessions alive now.
    pub live_sessions: u64,
    /// The log's regions at the time of the snapshot.
    pub regions: Option<Regions>,
    /// The index's fill: buckets, entries, overflow buckets, memory (a scan of the table,
    /// taken when the snapshot is).
    pub index: Option<faster_index::IndexStats>,
    /// The read cache's hits, misses, copies and evictions, when the store has one
    /// ([`FasterKvBuilder::read_cache`](crate::FasterKvBuilder::read_cache)).
    pub read_cache: Option<crate::ReadCacheStats>,
}

/// The memory a store holds for its log and its index, beside the log budget it was given
/// ([`FasterKv::memory`](crate::FasterKv::memory)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryUse {
    /// The log's memory budget as given
    /// ([`FasterKvBuilder::memory_budget`](crate::FasterKvBuilder::memory_budget), what the
    /// store was last opened with, or the default).
    pub log_budget: u64,
    /// Bytes of log page frames the store keeps: the budget rounded down to a power-of-two
    /// number of pages, so between half of it and all of it.
    pub log_bytes: u64,
    /// Bytes of the hash index's buckets (its table and overflow buckets): outside the log
    /// budget, sized by [`FasterKvBuilder::index_buckets`](crate::FasterKvBuilder::index_buckets)
    /// and grown with the keys (64 bytes per bucket of up to seven keys).
    pub index_bytes: u64,
    /// Bytes of the read cache (0 without one): outside the log budget.
    pub read_cache_bytes: u64,
}

/// The store's checkpoints since it was opened: those you started and those it took by
/// itself alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointStats {
    /// Checkpoints that completed (durable).
    pub completed: u64,
    /// Checkpoints that failed or could not start their first phase.
    pub failed: u64,
}

/// What the store's compactions did since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompactionStats {
    /// Compactions that moved the begin address (by hand or automatic).
    pub runs: u64,
    /// Records they read.
    pub records_read: u64,
    /// Live records they copied to the tail.
    pub copied: u64,
    /// Bytes of log they dropped (the sum of their ranges).
    pub bytes_dropped: u64,
    /// Automatic compactions that could not start (a scan was open, or one was running).
    pub skipped: u64,
}

/// Attempts of operations started again, by cause ([`Stats::retry_causes`]). Each retry
/// refreshes the session's epoch protection before the next attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryStats {
    /// The index was growing and the key's bucket was not ready.
    pub index_growth: u64,
    /// Appending at the tail needed a page turn, or a page frame still being flushed.
    pub page_turn: u64,
    /// Another thread changed the key's index entry first (a lost compare-and-swap).
    pub lost_race: u64,
    /// The record was in the fuzzy region below the read-only address, where a late thread
    /// may still update it in place.
    pub fuzzy_region: u64,
    /// A checkpoint's version change held the record's lock.
    pub record_locked: u64,
}

impl RetryStats {
    /// Every retry, whatever its cause.
    pub fn total(&self) -> u64 {
        self.index_growth + self.page_turn + self.lost_race + self.fuzzy_region + self.record_locked
    }
}
