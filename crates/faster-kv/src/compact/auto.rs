//! Automatic compaction: a background thread that keeps the log (tail − begin) under a size
//! budget, and slows sessions down when the log outgrows it faster than compaction frees it.
//!
//! Every [`CompactionPolicy::check_every`] the thread looks at the log's size. Once it passes
//! [`CompactionPolicy::trigger`] × the budget, it compacts the oldest
//! [`CompactionPolicy::fraction`] of the log (at most [`CompactionPolicy::max_bytes`], never
//! past the read-only address, so the mutable region keeps its in-place updates); after a
//! compaction that freed space it looks again at once instead of waiting. While such
//! a compaction runs with the log over the whole budget, every session waits at its next
//! refresh (each operation of a plain session, every 64 of a pinned one) for the compaction
//! to end, at most 50 ms per wait: writers then go at the speed compaction frees space, and
//! [`Stats::throttled`](crate::Stats::throttled) counts the waits. A compaction that cannot
//! start (a live-record scan is open) is skipped and counted
//! ([`CompactionStats::skipped`](crate::CompactionStats::skipped)).
//!
//! The defaults follow FASTER's automatic compaction: check every 250 ms, start at 80 % of
//! the budget, compact 20 % of the log, at most 512 MiB at a time.

use std::time::Duration;

use faster_hlog::Address;

use super::run::CompactionKind;
use crate::codec::Codec;
use crate::store::Store;

/// When and how much the store compacts by itself; see
/// [`FasterKvBuilder::compaction`](crate::FasterKvBuilder::compaction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompactionPolicy {
    /// Bytes of log (tail − begin address) the store keeps under. Give it room: at least
    /// twice the live data, since every compaction copies the live records it meets.
    pub log_budget: u64,
    /// Compaction starts once the log passes this fraction of the budget. Default: 0.8.
    pub trigger: f64,
    /// Each compaction covers this fraction of the log, its oldest part. Default: 0.2.
    pub fraction: f64,
    /// ... and at most this many bytes. Default: 512 MiB.
    pub max_bytes: u64,
    /// How each compaction finds live records. Default: [`CompactionKind::Scan`].
    pub kind: CompactionKind,
    /// Threads of a [`CompactionKind::Lookup`] compaction. Default: 1.
    pub threads: usize,
    /// How often the log's size is looked at. Default: 250 ms.
    pub check_every: Duration,
    /// With background checkpoints ([`FasterKvBuilder::checkpoint_every`] or
    /// [`FasterKvBuilder::checkpoint_every_bytes`]), one is also due as soon as compaction
    /// has moved the begin address more than this many bytes past the newest checkpoint's.
    /// The device keeps the log a retained checkpoint needs until a newer checkpoint
    /// replaces it (`docs/durability.md`, "Compaction and deletion"), so without this the
    /// space compaction frees follows the checkpoint interval. `None`: only the interval
    /// counts. Default: `Some(0)`, a checkpoint after every compaction that moved the begin
    /// address (without an index snapshot, unless the index grew). Without background
    /// checkpoints it does nothing: space then follows the checkpoints you take.
    ///
    /// [`FasterKvBuilder::checkpoint_every`]: crate::FasterKvBuilder::checkpoint_every
    /// [`FasterKvBuilder::checkpoint_every_bytes`]: crate::FasterKvBuilder::checkpoint_every_bytes
    pub checkpoint_after: Option<u64>,
}

impl CompactionPolicy {
    /// The defaults, with a log budget of `log_budget` bytes.
    pub fn with_budget(log_budget: u64) -> Self {
        Self {
            log_budget,
            trigger: 0.8,
            fraction: 0.2,
            max_bytes: 512 << 20,
            kind: CompactionKind::Scan,
            threads: 1,
            check_every: Duration::from_millis(250),
            checkpoint_after: Some(0),
        }
    }

    /// Why the policy is not usable, if it is not.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.log_budget == 0 {
            return Some("the log budget must be at least 1 byte".into());
        }
        if !(self.trigger > 0.0 && self.trigger <= 1.0) {
            return Some(format!("trigger {} is outside (0, 1]", self.trigger));
        }
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return Some(format!("fraction {} is outside (0, 1]", self.fraction));
        }
        if self.max_bytes == 0 || self.threads == 0 || self.check_every.is_zero() {
            return Some("max_bytes, threads and check_every must be above 0".into());
        }
        None
    }
}

/// The log's size now.
fn log_size<K: Codec + ?Sized, V: Codec + ?Sized>(store: &Store<K, V>) -> u64 {
    let begin = store.log.begin_address().raw();
    store.log.tail_address().raw().saturating_sub(begin)
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// Sets the throttle while the log is over the automatic budget and the last compaction
    /// freed space, and lifts it otherwise (called by the maintenance thread at each check,
    /// by a running compaction between batches, and by sessions at each retry — a page turn
    /// is one — so the throttle engages within a page of the budget). A budget smaller than the live data
    /// would otherwise hold every writer for good: compactions that free nothing lift the
    /// throttle, and the log grows past its budget.
    pub(crate) fn check_budget(&self) {
        let over = self
            .settings
            .compaction
            .is_some_and(|policy| log_size(self) > policy.log_budget);
        self.gate.set_throttle(over && self.gate.freeing());
    }

    /// No automatic compaction is due. If the log is over its budget all the same (nothing
    /// immutable lies above the begin address), no compaction can free space now: the
    /// throttle lifts rather than hold writers back with nothing to wait for.
    pub(crate) fn nothing_to_compact(&self) {
        let over = self
            .settings
            .compaction
            .is_some_and(|policy| log_size(self) > policy.log_budget);
        if over {
            self.gate.not_freeing();
            self.check_budget();
        }
    }

    /// Bytes the begin address moved past the newest checkpoint's (0 without a checkpoint):
    /// the log that checkpoint, and the older ones retained with it, keep on the device.
    pub(crate) fn begin_moved_since_checkpoint(&self) -> u64 {
        let newest = crate::sync::lock(&self.cpr.last)
            .as_ref()
            .and_then(|meta| meta.log.as_ref().map(|log| log.begin));
        newest.map_or(0, |begin| {
            self.log.begin_address().raw().saturating_sub(begin)
        })
    }

    /// Where an automatic compaction of the log as it is now would end, if one is due.
    pub(crate) fn auto_until(&self, policy: &CompactionPolicy) -> Option<Address> {
        let size = log_size(self);
        if (size as f64) < policy.trigger * policy.log_budget as f64 {
            return None;
        }
        let r = self.log.regions();
        // At least a page: the end is rounded down to a page start, and a fraction of a small
        // log smaller than a page would otherwise never compact anything.
        let span = ((size as f64 * policy.fraction) as u64)
            .min(policy.max_bytes)
            .max(self.log.page_size());
        let until = (r.begin.raw() + span).min(r.read_only.raw());
        let until = self
            .log
            .page_start(self.log.page_of(Address::from_masked(until)));
        (until > r.begin).then_some(until)
    }
}
