//! The store's maintenance thread: it doubles the hash index when it fills up
//! ([`FasterKvBuilder::auto_grow_index`](crate::FasterKvBuilder::auto_grow_index)) and runs
//! the automatic compaction ([`CompactionPolicy`]). It holds the store only weakly and stops
//! with the store's other background threads.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::codec::Codec;
use crate::compact::{CompactError, CompactOptions, CompactionPolicy};
use crate::lifecycle::Stop;
use crate::store::Store;

/// How often the index's fill is looked at.
const GROWTH_CHECK: Duration = Duration::from_millis(100);

/// Whether a store needs the maintenance thread at all.
pub(crate) fn needed<K: Codec + ?Sized, V: Codec + ?Sized>(store: &Store<K, V>) -> bool {
    store.settings.auto_grow_index || store.settings.compaction.is_some()
}

/// The thread's loop.
pub(crate) fn run<K: Codec + ?Sized, V: Codec + ?Sized>(store: &Weak<Store<K, V>>, stop: &Stop) {
    let Some(first) = store.upgrade() else { return };
    let policy = first.settings.compaction;
    let grow = first.settings.auto_grow_index;
    drop(first);
    let tick = match (grow, policy) {
        (true, Some(p)) => p.check_every.min(GROWTH_CHECK),
        (true, None) => GROWTH_CHECK,
        (false, Some(p)) => p.check_every,
        (false, None) => return,
    };
    let mut since_compaction = Duration::ZERO;
    // After a compaction that freed space, the next check comes at once: under sustained
    // writes the log is usually still past the trigger, and writers may be throttled.
    let mut again = false;
    loop {
        if stop.wait(if again { Duration::ZERO } else { tick }) {
            return;
        }
        let Some(store) = store.upgrade() else { return };
        if grow {
            grow_if_full(&store);
        }
        since_compaction += tick;
        store.check_budget();
        if let Some(policy) = policy
            && (since_compaction >= policy.check_every || again)
        {
            since_compaction = Duration::ZERO;
            again = compact_if_due(&store, &policy);
        } else {
            again = false;
        }
    }
}

/// Doubles the index if it asks for it (not during a checkpoint: tried again at the next tick).
fn grow_if_full<K: Codec + ?Sized, V: Codec + ?Sized>(store: &Arc<Store<K, V>>) {
    let Ok(handle) = store.epoch.register() else {
        return;
    };
    let wants = store.index.wants_growth(&handle.protect());
    drop(handle);
    if wants {
        match store.grow_index() {
            Ok(buckets) => tracing::debug!("faster-kv: the index grew to {buckets} buckets"),
            Err(crate::GrowError::Busy) => {}
            Err(e) => tracing::warn!("faster-kv: the index could not grow: {e}"),
        }
    }
}

/// Compacts the oldest part of the log if the policy says it is time; true if a compaction
/// ran and freed space.
fn compact_if_due<K: Codec + ?Sized, V: Codec + ?Sized>(
    store: &Arc<Store<K, V>>,
    policy: &CompactionPolicy,
) -> bool {
    let Some(until) = store.auto_until(policy) else {
        store.nothing_to_compact();
        // Compactions no longer follow one another: give their buffers back.
        *crate::sync::lock(&store.chunk) = crate::compact::records::Batch::default();
        return false;
    };
    let options = CompactOptions {
        kind: policy.kind,
        threads: policy.threads,
    };
    match store.compact(until, options) {
        Ok(report) => {
            tracing::debug!(
                "faster-kv: compacted to {} ({} of {} records copied)",
                report.until,
                report.copied,
                report.records
            );
            report.copied_bytes < report.until.raw().saturating_sub(report.from.raw())
        }
        Err(CompactError::Busy | CompactError::ScanOpen) => {
            store.gate.count_skipped();
            false
        }
        Err(e) => {
            tracing::warn!("faster-kv: an automatic compaction failed: {e}");
            store.gate.not_freeing();
            store.check_budget();
            false
        }
    }
}
