//! [`FasterKv::compact`]: compaction of the log's oldest part, and its lookup variant.
//!
//! The records of `[begin, until)` are read in batches; each one that is its key's live record
//! (found by an index lookup here, or by scanning the rest of the log, `scan_based.rs`) is
//! copied to the tail with a conditional insert ([`LiveOp`]: the copy is installed only if
//! no newer record of the key appeared since it was found live); tombstones, superseded and
//! invalid records are left behind. Then the begin address moves to `until` (rule R14), the
//! index forgets entries that point below it, and the device deletes what no checkpoint
//! needs any more (`reclaim.rs`). Sessions read, write and RMW throughout; copies wait while a
//! checkpoint or an index growth runs, and the begin address never moves during a checkpoint.
//!
//! A compaction that fails (an I/O error reading the range, a corrupt record) leaves the begin
//! address where it was: the copies it made are newer records with the same values, so what
//! the store holds is unchanged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use faster_hlog::Address;

use super::gate::Refused;
use super::live::{LiveOp, Verdict};
use super::reclaim::ReclaimError;
use super::records::{Batch, Copied, Reader};
use super::worker::Worker;
use crate::codec::Codec;
use crate::error::OpError;
use crate::kv::FasterKv;
use crate::ops::attempt::KeyRef;
use crate::session::pinned::Pinned;
use crate::store::Store;
use crate::sync::lock;

/// Records read from the log per batch: within a batch, only each key's newest record needs
/// an index lookup, so a larger batch saves lookups (most of them device reads when memory is
/// small) for keys updated often, at the cost of holding the batch's bytes.
pub(crate) const BATCH: usize = 16_384;

/// How long a compaction waits for the log to write its range to the device.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(300);

/// How a compaction finds the live records of its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CompactionKind {
    /// Read the range sequentially, find each record's newer version through its index
    /// entry, and read those newer records in one sequential pass over the rest of the log
    /// (`compact/scan_based.rs`). Holds at most 64 MiB of the range's keys and values at a
    /// time and makes one pass per 64 MiB. The default: it reads sequentially what the lookup
    /// variant reads at random.
    #[default]
    Scan,
    /// Look up each record's key in the index, in batches (FASTER's lookup compaction):
    /// reads nothing beyond the range, but a key whose newer record is on the device costs a
    /// random device read. Splits the range over [`CompactOptions::threads`].
    Lookup,
}

/// Settings of one compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactOptions {
    /// How live records are found. Default: [`CompactionKind::Scan`].
    pub kind: CompactionKind,
    /// Threads of a [`CompactionKind::Lookup`] compaction, each over its own part of the
    /// range. Default: 1.
    pub threads: usize,
}

impl Default for CompactOptions {
    fn default() -> Self {
        Self {
            kind: CompactionKind::Scan,
            threads: 1,
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactReport {
    /// The begin address before.
    pub from: Address,
    /// The begin address after: `until`, rounded down to a page start and clamped to the
    /// tail.
    pub until: Address,
    /// Records read from `[from, until)`.
    pub records: u64,
    /// Live records copied to the tail.
    pub copied: u64,
    /// Bytes of the copies appended to the log.
    pub copied_bytes: u64,
    /// The device now holds nothing below this address; `None` when a checkpoint was running
    /// (its end deletes instead). Checkpoints that still need older bytes keep them.
    pub reclaimed_until: Option<Address>,
    /// How long it took.
    pub elapsed: Duration,
}

impl CompactReport {
    /// The report of a compaction from `from` that has done nothing yet.
    pub(crate) fn nothing_from(from: Address) -> Self {
        Self {
            from,
            until: from,
            records: 0,
            copied: 0,
            copied_bytes: 0,
            reclaimed_until: None,
            elapsed: Duration::ZERO,
        }
    }
}

/// Why a compaction failed; the begin address has not moved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompactError {
    /// Another compaction is running.
    #[error("another compaction is running")]
    Busy,
    /// A live-record scan is open; compaction would move records past its end.
    #[error("a live-record scan is open")]
    ScanOpen,
    /// Reading or copying a record failed.
    #[error("{0}")]
    Op(#[from] OpError),
    /// The log could not write the range to the device in time.
    #[error("the log did not write the range to the device within {0:?}")]
    FlushTimeout(Duration),
    /// Deleting the device's bytes below the new begin address failed (the begin address
    /// moved; the next compaction or checkpoint tries again).
    #[error("reclaiming space: {0}")]
    Reclaim(#[from] ReclaimError),
    /// The store that [`FasterKv::compact_into`] hands live records to failed (the begin
    /// address has not moved).
    #[error("compaction target: {0}")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<faster_hlog::LogError> for CompactError {
    fn from(e: faster_hlog::LogError) -> Self {
        Self::Op(e.into())
    }
}

impl From<faster_epoch::EpochError> for CompactError {
    fn from(e: faster_epoch::EpochError) -> Self {
        Self::Op(faster_hlog::LogError::from(e).into())
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> FasterKv<K, V> {
    /// Compacts the log below `until` with the default [`CompactOptions`] (scanning); see
    /// [`FasterKv::compact_with`].
    ///
    /// # Errors
    /// As [`FasterKv::compact_with`].
    pub fn compact(&self, until: Address) -> Result<CompactReport, CompactError> {
        self.compact_with(until, CompactOptions::default())
    }

    /// Keeps every live record below `until` by copying it to the tail (only if no newer
    /// record of its key exists), then moves the begin address to `until`: superseded
    /// records and tombstones below it are dropped, and the device deletes their bytes once no
    /// checkpoint in the checkpoint directory needs them (so, after the next checkpoint with
    /// the default retention of 2, after the one after). `until` is rounded down to a page
    /// start and clamped to the tail; the log first writes everything below it to the device.
    /// Sessions go on reading and writing meanwhile. Blocks the calling thread, which must
    /// not hold a pinned session (the log's flushes wait for every protected session).
    ///
    /// # Errors
    /// [`CompactError::Busy`] or [`CompactError::ScanOpen`] (nothing done); a device or
    /// record error (the begin address has not moved).
    pub fn compact_with(
        &self,
        until: Address,
        options: CompactOptions,
    ) -> Result<CompactReport, CompactError> {
        self.store.compact(until, options)
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    pub(crate) fn compact(
        self: &Arc<Self>,
        until: Address,
        options: CompactOptions,
    ) -> Result<CompactReport, CompactError> {
        self.one_compaction(|| self.compact_open(until, options))
    }

    /// Runs `compaction` as the store's one compaction at a time (`compact/gate.rs`).
    pub(crate) fn one_compaction(
        &self,
        compaction: impl FnOnce() -> Result<CompactReport, CompactError>,
    ) -> Result<CompactReport, CompactError> {
        let span = tracing::info_span!("faster_kv::compact");
        let _entered = span.enter();
        self.gate.start_compaction().map_err(|r| {
            tracing::debug!(refused = ?r, "compaction refused");
            match r {
                Refused::Compacting => CompactError::Busy,
                Refused::ScanOpen => CompactError::ScanOpen,
            }
        })?;
        let result = compaction();
        self.gate.end_compaction();
        match &result {
            Ok(report) => tracing::info!(
                from = report.from.raw(),
                until = report.until.raw(),
                records = report.records,
                copied = report.copied,
                elapsed_ms = report.elapsed.as_millis() as u64,
                "compaction finished"
            ),
            Err(error) => tracing::warn!(%error, "compaction failed"),
        }
        result
    }

    fn compact_open(
        self: &Arc<Self>,
        until: Address,
        options: CompactOptions,
    ) -> Result<CompactReport, CompactError> {
        let started = Instant::now();
        let (from, until) = self.compaction_range(until)?;
        let mut report = CompactReport::nothing_from(from);
        if until <= from {
            report.elapsed = started.elapsed();
            return Ok(report);
        }
        let threads = match options.kind {
            CompactionKind::Scan => 1,
            CompactionKind::Lookup => options.threads.max(1),
        };
        let parts = split(self, from, until, threads);
        let counts = std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .iter()
                .map(|&(a, b)| {
                    scope.spawn(move || match options.kind {
                        CompactionKind::Scan => self.copy_live_scanning(a, b),
                        CompactionKind::Lookup => self.copy_live(a, b),
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Err(CompactError::Busy)))
                .collect::<Vec<_>>()
        });
        for c in counts {
            let c = c?;
            report.records += c.records;
            report.copied += c.copied;
            report.copied_bytes += c.copied_bytes;
        }
        self.end_range(&mut report, until)?;
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// The range a compaction to `until` covers — from the begin address to `until` rounded
    /// down to a page start and clamped to the tail — once the log wrote it to the device.
    pub(crate) fn compaction_range(
        &self,
        until: Address,
    ) -> Result<(Address, Address), CompactError> {
        let from = self.log.begin_address();
        let until = until.min(self.log.tail_address());
        let until = self.log.page_start(self.log.page_of(until));
        if until > from {
            self.log.flush_until(until);
            if !self.log.wait_flushed(until, FLUSH_TIMEOUT)? {
                return Err(CompactError::FlushTimeout(FLUSH_TIMEOUT));
            }
        }
        Ok((from, until))
    }

    /// Ends a compaction whose live records are kept: moves the begin address to `until`,
    /// counts the run, and lets the index forget entries below it.
    pub(crate) fn end_range(
        &self,
        report: &mut CompactReport,
        until: Address,
    ) -> Result<(), CompactError> {
        report.reclaimed_until = self.move_begin(until)?;
        report.until = until;
        self.gate.count_run(
            report.records,
            report.copied,
            until.raw() - report.from.raw(),
            report.copied_bytes,
        );
        self.check_budget();
        if let Ok(handle) = self.epoch.register() {
            let guard = handle.protect();
            // Busy only while the index grows: its entries below the begin address then stay
            // until the next compaction, costing a chain step each.
            let _ = self.index.garbage_collect(until, &guard);
        }
        Ok(())
    }

    /// Checks and copies the live records of `[from, to)`.
    fn copy_live(self: &Arc<Self>, from: Address, to: Address) -> Result<Counts, CompactError> {
        let mut worker = Worker::new(self)?;
        let mut reader = Reader::new(&self.log, from, to, Self::LAYOUT)?;
        let mut batch = Batch::default();
        let mut counts = Counts::default();
        loop {
            self.check_budget();
            let more = reader.fill::<K, V>(&mut batch, BATCH, &mut counts.records)?;
            let mut pinned = worker.pin();
            for record in batch.candidates() {
                self.copy_if_live(&mut pinned, &batch, record, &mut counts)?;
            }
            drop(pinned);
            if !more {
                return Ok(counts);
            }
        }
    }

    /// Copies `record` of `batch` to the tail if it is still its key's newest record (the
    /// conditional insert of [`LiveOp`]), waiting for rest when a checkpoint or a growth runs.
    pub(crate) fn copy_if_live(
        &self,
        pinned: &mut Pinned<'_, K, V>,
        batch: &Batch,
        record: &Copied,
        counts: &mut Counts,
    ) -> Result<(), CompactError> {
        let key = KeyRef {
            bytes: batch.key(record),
            hash: record.hash,
        };
        let value = batch.value(record);
        let mut op = LiveOp {
            address: record.address,
            value: Some(value),
        };
        loop {
            match pinned.op(|p| p.run(&mut op, key))? {
                Verdict::Live => {
                    counts.copied += 1;
                    counts.copied_bytes += self.record_size(key.bytes.len(), value.len())? as u64;
                }
                Verdict::Dead => {}
                Verdict::NotNow => {
                    // A checkpoint or a growth: wait for rest, unprotected.
                    pinned.unprotect();
                    self.wait_rest();
                    continue;
                }
            }
            return Ok(());
        }
    }

    /// Blocks until the store is at rest (no checkpoint, no growth).
    pub(crate) fn wait_rest(&self) {
        loop {
            let word = self.cpr.machine.word();
            if self.cpr.machine.state().is_rest() {
                return;
            }
            self.cpr.machine.wait_change(word, Duration::from_millis(5));
        }
    }

    /// Moves the begin address to `until` while no checkpoint runs (rule R14: a checkpoint
    /// records the begin address it starts with and copies its snapshot from it), then
    /// deletes what nothing needs.
    fn move_begin(&self, until: Address) -> Result<Option<Address>, CompactError> {
        loop {
            let run = lock(&self.cpr.run);
            if run.is_none() {
                self.log.advance_begin(until)?;
                let reclaimed = self.reclaim_unchecked()?;
                return Ok(Some(reclaimed));
            }
            drop(run);
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// What one thread of a compaction did.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) records: u64,
    pub(crate) copied: u64,
    pub(crate) copied_bytes: u64,
}

/// `[from, until)` cut into at most `threads` ranges of whole pages.
fn split<K: Codec + ?Sized, V: Codec + ?Sized>(
    store: &Store<K, V>,
    from: Address,
    until: Address,
    threads: usize,
) -> Vec<(Address, Address)> {
    let first = store.log.page_of(from);
    let last = store.log.page_of(until); // `until` is a page start
    let pages = last - first;
    let per = pages.div_ceil(threads as u64).max(1);
    let mut parts = Vec::new();
    let mut page = first;
    while page < last {
        let next = (page + per).min(last);
        let a = if page == first {
            from
        } else {
            store.log.page_start(page)
        };
        parts.push((a, store.log.page_start(next)));
        page = next;
    }
    parts
}
