//! The background work of an F2 store: hot→cold migration when the hot log passes its
//! budget (rule HC6), cold→cold compaction when the cold log passes its own (rule HC4), and
//! the hot checkpoints migration needs.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use faster_kv::{Address, CheckpointError, CheckpointInfo, Codec, CompactionSink, LiveRecord};

use crate::cold::ColdStore;
use crate::error::{F2Error, Part};
use crate::store::Inner;

/// The fraction of the hot log one migration moves (FASTER F2's default).
const HOT_FRACTION: f64 = 0.2;
/// The fraction of the cold log one compaction covers.
const COLD_FRACTION: f64 = 0.1;

/// The cold store as the hot store's compaction target.
struct ColdSink<'a> {
    cold: &'a ColdStore,
    moved: u64,
}

impl CompactionSink for ColdSink<'_> {
    fn accept(
        &mut self,
        records: &[LiveRecord<'_>],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.cold.write(records)?;
        self.moved += records.len() as u64;
        Ok(())
    }

    fn persist(&mut self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.cold.persist()?)
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Inner<K, V> {
    /// The background thread: looks at both logs every `check_every` until stopped.
    pub(crate) fn background(self: Arc<Self>) {
        while !self.sleep() {
            let hot = self.hot.regions();
            let size = hot.tail.raw() - hot.begin.raw();
            let budget = self.settings.log_budget();
            if size as f64 > budget as f64 * 0.8 {
                let span = ((size as f64 * HOT_FRACTION) as u64).max(1);
                let until = Address::from_masked(hot.begin.raw() + span);
                if let Err(error) = self.migrate(until) {
                    self.counters.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "faster-f2: migration to the cold store failed");
                }
            }
            let cold_budget = self.settings.cold_budget();
            let cold = self.cold.log_bytes();
            if cold as f64 > cold_budget as f64 * 0.9 {
                let until =
                    self.cold.log.begin_address().raw() + (cold as f64 * COLD_FRACTION) as u64;
                if let Err(error) = self.compact_cold(until) {
                    self.counters.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "faster-f2: cold log compaction failed");
                }
            }
        }
    }

    /// Takes a hot checkpoint and waits for it, retrying while another one runs; notes its
    /// start address (rule HC6).
    pub(crate) fn checkpoint_hot(&self) -> Result<CheckpointInfo, F2Error> {
        let failed = |source| F2Error::Checkpoint {
            part: Part::Hot,
            source,
        };
        let info = loop {
            match self.hot.checkpoint() {
                Ok(handle) => break handle.wait().map_err(failed)?,
                Err(CheckpointError::Busy) => std::thread::sleep(Duration::from_millis(2)),
                Err(e) => return Err(failed(Arc::new(e))),
            }
        };
        if let Some(start) = info.start_address {
            let mut durable = self
                .durable_start
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *durable = Some(durable.map_or(start, |d| d.max(start)));
        }
        Ok(info)
    }

    /// Moves the live hot records below `until` — capped by the hot log's read-only address
    /// and by the start of a durable hot checkpoint — into the cold store (rule HC6).
    pub(crate) fn migrate(&self, until: Address) -> Result<u64, F2Error> {
        let span = tracing::info_span!("faster_f2::migrate", until = until.raw());
        let _entered = span.enter();
        let _one = self
            .maintenance
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let regions = self.hot.regions();
        let until = until.min(regions.safe_read_only);
        if until <= regions.begin {
            return Ok(0);
        }
        let durable = *self
            .durable_start
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let durable = match durable {
            Some(start) if start >= until => start,
            _ => self
                .checkpoint_hot()?
                .start_address
                .unwrap_or(regions.begin),
        };
        let until = until.min(durable);
        if until <= regions.begin {
            return Ok(0);
        }
        let mut sink = ColdSink {
            cold: &self.cold,
            moved: 0,
        };
        self.hot
            .compact_into(until, &mut sink)
            .map_err(|source| F2Error::Compact {
                part: Part::Hot,
                source,
            })?;
        self.counters.migrations.fetch_add(1, Ordering::Relaxed);
        self.counters
            .migrated_records
            .fetch_add(sink.moved, Ordering::Relaxed);
        tracing::info!(
            records = sink.moved,
            until = until.raw(),
            "hot records migrated to the cold store"
        );
        Ok(sink.moved)
    }

    /// Compacts the cold log below `until` (rule HC4).
    pub(crate) fn compact_cold(&self, until: u64) -> Result<u64, F2Error> {
        let span = tracing::info_span!("faster_f2::compact_cold", until);
        let _entered = span.enter();
        let _one = self
            .maintenance
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let kept = self.cold.compact(until, faster_kv::expired::<V>)?;
        self.counters
            .cold_compactions
            .fetch_add(1, Ordering::Relaxed);
        self.counters.cold_kept.fetch_add(kept, Ordering::Relaxed);
        tracing::info!(kept, "cold log compacted");
        Ok(kept)
    }
}
