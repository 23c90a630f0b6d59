//! [`FasterKv::scan`]: every live record of the store — each key's newest value, tombstones
//! and superseded records skipped — from memory and from the device, in log order, with
//! bounded memory.
//!
//! # Consistency
//!
//! When the scan starts it makes the whole log read-only (the records in the mutable region
//! are written to the device in the background; their keys' next updates append a copy
//! instead of updating in place) and fixes its end at the tail. It then reads the log from
//! the begin address to that end, and hands out each record that is, when the scan reaches it,
//! its key's newest record. So:
//!
//! - a key present when the scan starts and not written while it runs is returned exactly
//!   once, with its value at the start;
//! - a key written (upserted, RMWed, deleted) while the scan runs is returned at most once,
//!   with its value at the start or not at all (its newest record is then past the end);
//! - a key inserted while the scan runs is not returned.
//!
//! No key is ever returned twice. Compaction does not run while a scan is open (it would move
//! records past the scan's end): a scan waits for a running compaction to finish, and a
//! compaction does not start while a scan is open.
//!
//! The scan reads the log a batch of records at a time (at most 32 MiB of keys and values),
//! skips the records of the batch that a newer record of their key follows (found by reading
//! the rest of its range sequentially once per batch) and looks up the others in the index. It
//! is protected by the store's epoch only while it copies a batch, so an idle scan holds back
//! nothing. Starting one blocks until
//! the mutable region is on the device, so the thread that starts it must not hold a pinned
//! session.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use faster_hlog::Address;

use crate::codec::Codec;
use crate::compact::live::{LiveOp, Verdict};
use crate::compact::records::{Batch, Reader};
use crate::compact::worker::Worker;
use crate::error::OpError;
use crate::kv::FasterKv;
use crate::ops::attempt::KeyRef;
use crate::store::Store;

/// Records read from the log per batch at most...
const BATCH: usize = 1 << 18;

/// ... and bytes of their keys and values: a batch's records that a newer record of their key
/// follows are found by reading the rest of the scan's range sequentially once per batch
/// (as scan compaction does), so larger batches mean fewer passes, at this cost in memory.
const BATCH_BYTES: usize = 32 << 20;

/// How long starting a scan waits for the mutable region to reach the device.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(300);

/// An iterator over a store's live records; see [`FasterKv::scan`].
pub struct LiveScan<K: Codec + ?Sized, V: Codec + ?Sized> {
    store: Arc<Store<K, V>>,
    worker: Worker<K, V>,
    reader: Reader,
    batch: Batch,
    ready: VecDeque<(K::Owned, V::Owned)>,
    more: bool,
    end: Address,
    looked: u64,
    failed: bool,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> std::fmt::Debug for LiveScan<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveScan")
            .field("next", &self.reader.next_address())
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> FasterKv<K, V> {
    /// An iterator over the store's live records: each key's newest value once, tombstones
    /// and superseded records skipped. See the module documentation of `scan` in the crate's
    /// source for exactly what concurrent writes may do; in short, a key not written during
    /// the scan is returned exactly once, a key written during it at most once.
    ///
    /// Blocks until the log's mutable region is on the device and until a running compaction
    /// ends, so the calling thread must not hold a pinned session.
    ///
    /// # Errors
    /// A device error, or [`OpError`] when the epoch table is full.
    pub fn scan(&self) -> Result<LiveScan<K, V>, OpError> {
        LiveScan::open(&self.store)
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> LiveScan<K, V> {
    /// See [`FasterKv::scan`].
    pub(crate) fn open(store: &Arc<Store<K, V>>) -> Result<Self, OpError> {
        store.gate.start_scan();
        let opened = (|| {
            let end = store.log.shift_read_only_to_tail();
            if !store.log.wait_flushed(end, FLUSH_TIMEOUT)? {
                return Err(OpError::from(faster_hlog::LogError::InvalidRange {
                    from: store.log.begin_address(),
                    to: end,
                    reason: "the log did not reach the device in time",
                }));
            }
            let reader = Reader::new(
                &store.log,
                store.log.begin_address(),
                end,
                Store::<K, V>::LAYOUT,
            )?;
            let worker = Worker::new(store).map_err(faster_hlog::LogError::from)?;
            Ok((end, reader, worker))
        })();
        let (end, reader, worker) = match opened {
            Ok(parts) => parts,
            Err(e) => {
                store.gate.end_scan();
                return Err(e);
            }
        };
        Ok(Self {
            store: Arc::clone(store),
            worker,
            reader,
            batch: Batch::default(),
            ready: VecDeque::new(),
            more: true,
            end,
            looked: 0,
            failed: false,
        })
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> LiveScan<K, V> {
    /// The address the scan ends at (the tail when it started).
    pub fn end_address(&self) -> Address {
        self.end
    }

    /// The address of the next record the scan reads (for progress: it goes from the begin
    /// address to [`LiveScan::end_address`]).
    pub fn next_address(&self) -> Address {
        self.reader.next_address()
    }

    /// Records read so far, live or not.
    pub fn records_read(&self) -> u64 {
        self.looked
    }

    /// Reads the next batch and keeps its live records.
    fn refill(&mut self) -> Result<(), OpError> {
        self.more = self.reader.fill_up_to::<K, V>(
            &mut self.batch,
            (BATCH, BATCH_BYTES),
            false,
            &mut self.looked,
        )?;
        // Records a newer one follows (in the batch, in memory, or on the device up to the
        // scan's end, read sequentially) need no lookup of their own: a random device read
        // for most of them.
        let dead =
            self.store
                .superseded(&self.batch, self.reader.next_address(), self.end, false)?;
        let mut pinned = self.worker.pin();
        let candidates = self.batch.candidate_indices();
        for (&r, _) in candidates.iter().zip(&dead).filter(|(_, dead)| !**dead) {
            let record = self.batch.record(r);
            let key = KeyRef {
                bytes: self.batch.key(record),
                hash: record.hash,
            };
            let mut op = LiveOp {
                address: record.address,
                value: None,
            };
            if pinned.op(|p| p.run(&mut op, key))? == Verdict::Live {
                let k = K::decode(key.bytes)?;
                let v = V::decode(self.batch.value(record))?;
                self.ready.push_back((k, v));
            }
        }
        Ok(())
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Iterator for LiveScan<K, V> {
    type Item = Result<(K::Owned, V::Owned), OpError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(Ok(item));
            }
            if !self.more || self.failed {
                return None;
            }
            if let Err(e) = self.refill() {
                self.failed = true;
                return Some(Err(e));
            }
        }
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Drop for LiveScan<K, V> {
    fn drop(&mut self) {
        self.store.gate.end_scan();
    }
}
