//! Scan-based compaction: instead of an index lookup per record (a device read when the
//! key's chain goes below the head), read the log sequentially.
//!
//! 1. Read a chunk of `[from, until)` (bounded by [`CHUNK_BYTES`] of keys and values): each
//!    key's newest record in the chunk is a candidate, unless it is a tombstone.
//! 2. Read the rest of the immutable log, `[chunk end, safe read-only)`, and drop every
//!    candidate whose key appears there: a newer record exists.
//! 3. Copy each remaining candidate with the conditional insert (`LiveOp`): its lookup is
//!    short (the candidate is its key's newest record below the mutable region) and it still
//!    catches a write that came after the scan.
//!
//! Sequential reads instead of random ones: this is what automatic compaction uses. The
//! price is reading the rest of the log once per chunk.

use std::collections::HashMap;
use std::sync::Arc;

use faster_hlog::Address;

use super::records::{Batch, Copied, Reader};
use super::run::{CompactError, Counts};
use super::worker::Worker;
use crate::codec::Codec;
use crate::error::OpError;
use crate::store::Store;

/// Bytes of keys and values a chunk of candidates holds at most.
pub(crate) const CHUNK_BYTES: usize = 64 << 20;

/// Records per chunk at most (bounds the candidates' table as well).
const CHUNK_RECORDS: usize = 1 << 20;

/// Records per batch of the second pass.
const SCAN_BATCH: usize = 16_384;

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// Which of `candidates` (records of `chunk`) have a newer record of their key in
    /// `[from, to)`, read sequentially; `throttle` checks the log's budget between batches.
    pub(crate) fn superseded(
        &self,
        chunk: &Batch,
        candidates: &[Copied],
        from: Address,
        to: Address,
        throttle: bool,
    ) -> Result<Vec<bool>, OpError> {
        // Candidates by key hash, then by key bytes.
        let mut alive: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, c) in candidates.iter().enumerate() {
            alive.entry(c.hash.0).or_default().push(i);
        }
        let mut dead = vec![false; candidates.len()];
        let mut rest = Reader::new(&self.log, from, to, Self::LAYOUT)?;
        let mut later = Batch::default();
        let mut ignored = 0;
        while !alive.is_empty() {
            if throttle {
                self.check_budget();
            }
            let more = rest.fill::<K>(&mut later, SCAN_BATCH, &mut ignored)?;
            for r in later.all() {
                if let Some(list) = alive.get_mut(&r.hash.0) {
                    let key = later.key(r);
                    list.retain(|&i| {
                        let same = chunk.key(&candidates[i]) == key;
                        dead[i] |= same;
                        !same
                    });
                    if list.is_empty() {
                        alive.remove(&r.hash.0);
                    }
                }
            }
            if !more {
                break;
            }
        }
        Ok(dead)
    }

    /// Copies the live records of `[from, to)`, scanning; see the module documentation.
    pub(crate) fn copy_live_scanning(
        self: &Arc<Self>,
        from: Address,
        to: Address,
    ) -> Result<Counts, CompactError> {
        let mut worker = Worker::new(self)?;
        let mut reader = Reader::new(&self.log, from, to, Self::LAYOUT)?;
        let mut chunk = Batch::default();
        let mut counts = Counts::default();
        loop {
            self.check_budget();
            let more = reader.fill_up_to::<K>(
                &mut chunk,
                CHUNK_RECORDS,
                CHUNK_BYTES,
                &mut counts.records,
            )?;
            let candidates: Vec<_> = chunk.candidates().cloned().collect();
            // Pass 2: everything after the chunk that is already immutable.
            let end = self.log.safe_read_only_address();
            let dead = self.superseded(&chunk, &candidates, reader.next_address(), end, true)?;
            // Pass 3: the conditional copies.
            let mut pinned = worker.pin();
            for (i, record) in candidates.iter().enumerate() {
                if dead[i] {
                    continue;
                }
                if i % 1024 == 0 {
                    self.check_budget();
                }
                self.copy_if_live(&mut pinned, &chunk, record, &mut counts)?;
            }
            drop(pinned);
            if !more {
                return Ok(counts);
            }
        }
    }
}
