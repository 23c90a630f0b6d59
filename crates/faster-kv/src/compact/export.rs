//! [`FasterKv::compact_into`]: a compaction that hands the live records of its range to
//! another store instead of copying them to the tail (FASTER F2's hot→cold migration).
//!
//! The records of `[begin, until)` are read in batches; each that is its key's newest record
//! here — a value or a tombstone — is handed to the [`CompactionSink`], a batch at a time,
//! with no protection held. Once every batch is accepted the sink makes them durable
//! ([`CompactionSink::persist`]), and only then does the begin address move (rule R14), so a
//! reader that finds the key gone from this store finds it in the sink's. A record found live
//! and then overwritten here before the begin address moves is simply newer here: a layered
//! store reads this one first.

use std::sync::Arc;
use std::time::Instant;

use faster_hlog::Address;

use super::live::{LiveOp, Verdict};
use super::records::{Batch, Reader};
use super::run::{BATCH, CompactError, CompactReport};
use super::worker::Worker;
use crate::codec::Codec;
use crate::kv::FasterKv;
use crate::ops::attempt::KeyRef;
use crate::store::Store;

/// A live record handed to a [`CompactionSink`]: its encoded key, the key's hash (the
/// codec's [`hash64`](crate::Codec::hash64)) and its encoded value (`None`: a tombstone).
#[derive(Debug, Clone, Copy)]
pub struct LiveRecord<'a> {
    /// The key's encoded bytes.
    pub key: &'a [u8],
    /// The key's hash.
    pub hash: u64,
    /// The value's encoded bytes, or `None` for a tombstone.
    pub value: Option<&'a [u8]>,
}

/// Where [`FasterKv::compact_into`] puts the live records of its range.
pub trait CompactionSink {
    /// Takes the live records of one batch, in log order (a key appears at most once).
    ///
    /// # Errors
    /// Any: the compaction stops and the begin address does not move.
    fn accept(
        &mut self,
        records: &[LiveRecord<'_>],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;

    /// Makes every accepted record durable; called once, after the last batch and before
    /// the begin address moves.
    ///
    /// # Errors
    /// Any: the begin address does not move.
    fn persist(&mut self) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> FasterKv<K, V> {
    /// Moves the live records below `until` into another store: hands each to `sink`
    /// (values and tombstones alike), lets it make them durable, then moves the begin
    /// address to `until` as [`FasterKv::compact`] does. Nothing is copied to this store's
    /// tail ([`CompactReport::copied`] counts the records handed over). Blocks the calling
    /// thread, which must not hold a pinned session.
    ///
    /// # Errors
    /// As [`FasterKv::compact`]; [`CompactError::Sink`] when the sink fails. The begin
    /// address has not moved then.
    pub fn compact_into(
        &self,
        until: Address,
        sink: &mut dyn CompactionSink,
    ) -> Result<CompactReport, CompactError> {
        self.store.compact_into(until, sink)
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    fn compact_into(
        self: &Arc<Self>,
        until: Address,
        sink: &mut dyn CompactionSink,
    ) -> Result<CompactReport, CompactError> {
        self.one_compaction(|| self.export_range(until, sink))
    }

    fn export_range(
        self: &Arc<Self>,
        until: Address,
        sink: &mut dyn CompactionSink,
    ) -> Result<CompactReport, CompactError> {
        let started = Instant::now();
        let (from, until) = self.compaction_range(until)?;
        let mut report = CompactReport::nothing_from(from);
        if until > from {
            self.hand_over(from, until, sink, &mut report)?;
            sink.persist().map_err(CompactError::Sink)?;
            self.end_range(&mut report, until)?;
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Hands the live records of `[from, until)` to `sink`, a batch at a time.
    fn hand_over(
        self: &Arc<Self>,
        from: Address,
        until: Address,
        sink: &mut dyn CompactionSink,
        report: &mut CompactReport,
    ) -> Result<(), CompactError> {
        let mut worker = Worker::new(self)?;
        let mut reader = Reader::new(&self.log, from, until, Self::LAYOUT)?;
        let mut batch = Batch::default();
        batch.keep_tombstones = true;
        let mut live = Vec::new();
        loop {
            let more = reader.fill::<K, V>(&mut batch, BATCH, &mut report.records)?;
            live.clear();
            {
                let mut pinned = worker.pin();
                for &i in batch.candidate_indices() {
                    let record = batch.record(i);
                    let key = KeyRef {
                        bytes: batch.key(record),
                        hash: record.hash,
                    };
                    let mut check = LiveOp {
                        address: record.address,
                        value: None,
                    };
                    if pinned.op(|p| p.run(&mut check, key))? == Verdict::Live {
                        live.push(i);
                    }
                }
            }
            let records: Vec<LiveRecord<'_>> = live
                .iter()
                .map(|&i| {
                    let record = batch.record(i);
                    LiveRecord {
                        key: batch.key(record),
                        hash: record.hash.0,
                        value: (!batch.is_tombstone(i)).then(|| batch.value(record)),
                    }
                })
                .collect();
            report.copied += records.len() as u64;
            report.copied_bytes += records
                .iter()
                .map(|r| (r.key.len() + r.value.map_or(0, <[u8]>::len)) as u64)
                .sum::<u64>();
            sink.accept(&records).map_err(CompactError::Sink)?;
            if !more {
                return Ok(());
            }
        }
    }
}
