//! Scan-based compaction: instead of an index lookup per record (a device read when the
//! key's chain goes below the head), read the log sequentially.
//!
//! 1. Read a chunk of `[from, until)` (bounded by [`CHUNK_BYTES`] of keys and values): each
//!    record that is not a tombstone is a candidate.
//! 2. Walk each candidate's chain in memory from its index entry (the buckets prefetched a
//!    few candidates ahead): a newer record of the key there makes the candidate dead. So
//!    does the chain's first record on the device when it lies in the chunk, above the
//!    candidate, and holds its key (a key written again or deleted later in the range: found
//!    in the chunk itself, [`Batch::at`]). Otherwise note that record, if it is above the
//!    chunk: sorted by address, these records are read in one forward pass over the rest of
//!    the log that skips everything else, and each one holding its candidate's key makes
//!    that candidate dead (keys are compared as bytes: nothing is decoded or hashed).
//! 3. Copy each remaining candidate with the conditional insert (`LiveOp`): for most of them
//!    the index entry points at the candidate itself, so the lookup needs no device read, and
//!    it still catches a write that came after step 2. The few that step 2 could not decide (a
//!    tag shared by two keys) are decided there, with a device read.
//!
//! Step 2 costs an index lookup per candidate and a read of the log's pages that hold newer
//! records of the candidates' keys, all sequential; this is what automatic compaction uses.

use std::sync::Arc;

use faster_hlog::Address;

use super::records::{Batch, Reader};
use super::run::{CompactError, Counts};
use super::worker::Worker;
use crate::chain::Lookup;
use crate::checkpoint::rules::OpCtx;
use crate::codec::Codec;
use crate::error::OpError;
use crate::record::{self, Parse};
use crate::store::Store;
use crate::sync::lock;

/// Bytes of keys and values a chunk of candidates holds at most.
pub(crate) const CHUNK_BYTES: usize = 64 << 20;

/// Records per chunk at most (bounds the candidates' table as well).
const CHUNK_RECORDS: usize = 1 << 20;

/// Records the second pass reads between two checks of the log's budget.
const SCAN_BATCH: u32 = 16_384;

/// How many candidates ahead the index bucket is prefetched: the lookups are random in a
/// table far larger than the caches, so each would otherwise wait for memory.
const PREFETCH_AHEAD: usize = 16;

/// Index lookups under one epoch guard: the guard is dropped between groups so that the
/// log's flushes and evictions are not held back.
const HEADS_PER_GUARD: usize = 1024;

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// Which of the candidates of `chunk` ([`Batch::candidate_indices`]; the result is in
    /// their order) have a newer record of their key in the chunk or in `[from, to)`;
    /// `throttle` checks the log's budget between batches.
    ///
    /// A candidate's key chain starts at its index entry, whose address is the newest record
    /// with the key's bucket and tag. When that record lies in the chunk or in `[from, to)`
    /// and holds the candidate's key, the candidate is superseded: a proof that needs no
    /// decoding and no hashing, only the chain heads' records — looked up in the chunk, or
    /// read in one forward pass over `[from, to)` that skips everything else. A candidate
    /// whose head is itself, is above `to`, or holds another key (a tag shared by two keys)
    /// is not marked: the conditional copy's own lookup decides it.
    pub(crate) fn superseded(
        &self,
        chunk: &Batch,
        from: Address,
        to: Address,
        throttle: bool,
    ) -> Result<Vec<bool>, OpError> {
        let candidates = chunk.candidate_indices();
        let mut dead = vec![false; candidates.len()];
        let heads = self.chain_heads(chunk, from, to, &mut dead)?;
        let Some(first) = heads.first() else {
            return Ok(dead);
        };
        let mut scan = self.log.scan(first.at, to, record::sizer(Self::LAYOUT))?;
        let mut next = 0;
        let mut read = 0u32;
        while let Some(wanted) = heads.get(next).map(|h| h.at) {
            read += 1;
            if throttle && read.is_multiple_of(SCAN_BATCH) {
                scan.pause();
                self.check_budget();
            }
            scan.skip_to(wanted);
            let Some(item) = scan.next()? else {
                break;
            };
            // Heads below the scan position were not record starts: leave them to the lookup.
            while heads.get(next).is_some_and(|h| h.at < item.address) {
                next += 1;
            }
            let key = match record::parse(item.bytes, Self::LAYOUT, item.bytes.len()) {
                Parse::Record(p) if !p.header.is_invalid() => Some(p.key),
                _ => None,
            };
            while let Some(head) = heads.get(next).filter(|h| h.at == item.address) {
                let i = head.candidate as usize;
                let full = || chunk.key(chunk.record(candidates[i]));
                dead[i] |= key.is_some_and(|k| head.probe.matches(k, full));
                next += 1;
            }
        }
        Ok(dead)
    }

    /// Walks each candidate's chain in memory: a newer record of its key there, or at the
    /// chain's first record on the device when that lies in the chunk, marks it in `dead`;
    /// otherwise the chain's first record on the device, when it lies in `[from, to)` and
    /// above the candidate, is returned, sorted by address.
    fn chain_heads(
        &self,
        chunk: &Batch,
        from: Address,
        to: Address,
        dead: &mut [bool],
    ) -> Result<Vec<Head>, OpError> {
        let candidates = chunk.candidate_indices();
        let handle = self.epoch.register().map_err(faster_hlog::LogError::from)?;
        let mut heads = Vec::with_capacity(candidates.len());
        for (n, group) in candidates.chunks(HEADS_PER_GUARD).enumerate() {
            let guard = handle.protect();
            for (j, &r) in group.iter().enumerate() {
                if let Some(&ahead) = group.get(j + PREFETCH_AHEAD) {
                    self.index.prefetch(chunk.record(ahead).hash, &guard);
                }
                let i = n * HEADS_PER_GUARD + j;
                let c = chunk.record(r);
                // Rule R14: the begin address before the entry.
                let begin = self.log.begin_address();
                // Busy while the index grows: the lookup decides.
                let Ok(Some(slot)) = self.index.find(c.hash, &guard) else {
                    continue;
                };
                // A read-cache copy is not a newer record: walk the log past it (rule RC3).
                let chain = self.skip_copy(slot.address(), &guard);
                match self.trace(&OpCtx::REST, chunk.key(c), chain, begin, &guard) {
                    Lookup::InMemory(found, _) if found > c.address => dead[i] = true,
                    // A newer record in the chunk itself (the key was written again, or
                    // deleted, later in the range): compared with what the chunk holds there.
                    Lookup::OnDevice(read) if read > c.address && chunk.spans(read) => {
                        dead[i] = chunk
                            .at(read)
                            .is_some_and(|newer| chunk.key(newer) == chunk.key(c));
                    }
                    Lookup::OnDevice(read) if read > c.address && read >= from && read < to => {
                        heads.push(Head {
                            at: read,
                            candidate: i as u32,
                            probe: Probe::of(chunk.key(c)),
                        });
                    }
                    _ => {}
                }
            }
        }
        heads.sort_unstable_by_key(|h| h.at);
        Ok(heads)
    }

    /// Copies the live records of `[from, to)`, scanning; see the module documentation.
    pub(crate) fn copy_live_scanning(
        self: &Arc<Self>,
        from: Address,
        to: Address,
    ) -> Result<Counts, CompactError> {
        let mut worker = Worker::new(self)?;
        let mut reader = Reader::new(&self.log, from, to, Self::LAYOUT)?;
        let mut chunk = std::mem::take(&mut *lock(&self.chunk));
        let counts = self.copy_chunks(&mut worker, &mut reader, &mut chunk);
        // Kept only where the maintenance thread gives it back (automatic compaction).
        if self.settings.compaction.is_some() {
            *lock(&self.chunk) = chunk;
        }
        counts
    }

    /// The chunks of [`Store::copy_live_scanning`], read into `chunk` one after the other.
    fn copy_chunks(
        &self,
        worker: &mut Worker<K, V>,
        reader: &mut Reader,
        chunk: &mut Batch,
    ) -> Result<Counts, CompactError> {
        let mut counts = Counts::default();
        loop {
            self.check_budget();
            let more = reader.fill_up_to::<K, V>(
                chunk,
                (CHUNK_RECORDS, CHUNK_BYTES),
                false,
                &mut counts.records,
            )?;
            // Pass 2: everything after the chunk that is immutable when the pass runs (the
            // pass's scan stops at the safe read-only address); writes since the chunk was
            // read are included, so their keys' old records need no device read in pass 3.
            let end = Address::from_masked(u64::MAX);
            let dead = self.superseded(chunk, reader.next_address(), end, true)?;
            // Pass 3: the conditional copies.
            let mut pinned = worker.pin();
            for (i, &r) in chunk.candidate_indices().iter().enumerate() {
                if dead[i] {
                    continue;
                }
                if i % 1024 == 0 {
                    self.check_budget();
                }
                self.copy_if_live(&mut pinned, chunk, chunk.record(r), &mut counts)?;
            }
            drop(pinned);
            if !more {
                return Ok(counts);
            }
        }
    }
}

/// A record that may hold a candidate's key: the first on-device record of its chain.
struct Head {
    at: Address,
    /// Index into the candidates (a chunk holds fewer than 2^32 records).
    candidate: u32,
    probe: Probe,
}

/// A key's length and first 8 bytes: enough to compare keys of up to 8 bytes without
/// touching the chunk (a cache miss per candidate), and to rule out most others.
#[derive(Clone, Copy)]
struct Probe {
    len: usize,
    prefix: u64,
}

impl Probe {
    fn of(key: &[u8]) -> Self {
        let mut word = [0u8; 8];
        let n = key.len().min(8);
        word[..n].copy_from_slice(&key[..n]);
        Self {
            len: key.len(),
            prefix: u64::from_le_bytes(word),
        }
    }

    /// Whether `key` is the probed key, whose bytes `full` gives when the prefix is not enough.
    fn matches<'a>(&self, key: &[u8], full: impl FnOnce() -> &'a [u8]) -> bool {
        key.len() == self.len
            && Self::of(key).prefix == self.prefix
            && (self.len <= 8 || key == full())
    }
}

#[cfg(test)]
mod tests {
    use super::Probe;

    #[test]
    fn a_probe_matches_its_key_only() {
        let never = || -> &'static [u8] { panic!("keys of up to 8 bytes need no full compare") };
        for key in [&b""[..], b"a", b"abcdefgh"] {
            assert!(Probe::of(key).matches(key, never));
        }
        // Same prefix bytes, different lengths (zero padding must not make them equal).
        assert!(!Probe::of(b"ab").matches(b"ab\0", never));
        assert!(!Probe::of(b"ab\0").matches(b"ab", never));
        assert!(!Probe::of(b"abcdefgh").matches(b"abcdefgx", never));
        // Longer keys: the prefix rules out, the full bytes decide.
        let long = b"abcdefgh-1";
        assert!(Probe::of(long).matches(long, || long));
        assert!(!Probe::of(long).matches(b"abcdefgh-2", || long));
        assert!(!Probe::of(long).matches(b"xbcdefgh-1", never));
    }
}
