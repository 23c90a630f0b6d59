//! Scan-based compaction: instead of an index lookup per record (a device read when the
//! key's chain goes below the head), read the log sequentially.
//!
//! 1. Read a chunk of `[from, until)` (bounded by [`CHUNK_BYTES`] of keys and values): each
//!    key's newest record in the chunk is a candidate, unless it is a tombstone.
//! 2. Walk each candidate's chain in memory from its index entry: a newer record of the key
//!    there makes the candidate dead. Otherwise note the chain's first record on the device,
//!    if it is above the candidate: sorted by address, these records are read in one forward
//!    pass over the rest of the log that skips everything else, and each one holding its
//!    candidate's key makes that candidate dead (keys are compared as bytes: nothing is
//!    decoded or hashed).
//! 3. Copy each remaining candidate with the conditional insert (`LiveOp`): for most of them
//!    the index entry points at the candidate itself, so the lookup needs no device read, and
//!    it still catches a write that came after step 2. The few that step 2 could not decide (a
//!    tag shared by two keys) are decided there, with a device read.
//!
//! Step 2 costs an index lookup per candidate and a read of the log's pages that hold newer
//! records of the candidates' keys, all sequential; this is what automatic compaction uses.

use std::sync::Arc;

use faster_hlog::Address;

use super::records::{Batch, Copied, Reader};
use super::run::{CompactError, Counts};
use super::worker::Worker;
use crate::chain::Lookup;
use crate::checkpoint::rules::OpCtx;
use crate::codec::Codec;
use crate::error::OpError;
use crate::record::{self, Parse};
use crate::store::Store;

/// Bytes of keys and values a chunk of candidates holds at most.
pub(crate) const CHUNK_BYTES: usize = 64 << 20;

/// Records per chunk at most (bounds the candidates' table as well).
const CHUNK_RECORDS: usize = 1 << 20;

/// Records the second pass reads between two checks of the log's budget.
const SCAN_BATCH: u32 = 16_384;

/// Index lookups under one epoch guard: the guard is dropped between groups so that the
/// log's flushes and evictions are not held back.
const HEADS_PER_GUARD: usize = 1024;

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// Which of `candidates` (records of `chunk`) have a newer record of their key in
    /// `[from, to)`; `throttle` checks the log's budget between batches.
    ///
    /// A candidate's key chain starts at its index entry, whose address is the newest record
    /// with the key's bucket and tag. When that record lies in `[from, to)` and holds the
    /// candidate's key, the candidate is superseded: a proof that needs no decoding and no
    /// hashing, only the chain heads' records, read in one forward pass that skips everything
    /// else. A candidate whose head is itself, is above `to`, or holds another key (a tag
    /// shared by two keys) is not marked: the conditional copy's own lookup decides it.
    pub(crate) fn superseded(
        &self,
        chunk: &Batch,
        candidates: &[Copied],
        from: Address,
        to: Address,
        throttle: bool,
    ) -> Result<Vec<bool>, OpError> {
        let mut dead = vec![false; candidates.len()];
        let heads = self.chain_heads(chunk, candidates, from, to, &mut dead)?;
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
                dead[i] |= key.is_some_and(|k| head.probe.matches(k, || chunk.key(&candidates[i])));
                next += 1;
            }
        }
        Ok(dead)
    }

    /// Walks each candidate's chain in memory: a newer record of its key there marks it in
    /// `dead`; otherwise the chain's first record on the device, when it lies in `[from, to)`
    /// and above the candidate, is returned, sorted by address.
    fn chain_heads(
        &self,
        chunk: &Batch,
        candidates: &[Copied],
        from: Address,
        to: Address,
        dead: &mut [bool],
    ) -> Result<Vec<Head>, OpError> {
        let handle = self.epoch.register().map_err(faster_hlog::LogError::from)?;
        let mut heads = Vec::with_capacity(candidates.len());
        for (n, group) in candidates.chunks(HEADS_PER_GUARD).enumerate() {
            let guard = handle.protect();
            for (j, c) in group.iter().enumerate() {
                let i = n * HEADS_PER_GUARD + j;
                // Rule R14: the begin address before the entry.
                let begin = self.log.begin_address();
                // Busy while the index grows: the lookup decides.
                let Ok(Some(slot)) = self.index.find(c.hash, &guard) else {
                    continue;
                };
                match self.trace(&OpCtx::REST, chunk.key(c), slot.address(), begin, &guard) {
                    Lookup::InMemory(found, _) if found > c.address => dead[i] = true,
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
            // Pass 2: everything after the chunk that is immutable when the pass runs (the
            // pass's scan stops at the safe read-only address); writes since the chunk was
            // read are included, so their keys' old records need no device read in pass 3.
            let end = Address::from_masked(u64::MAX);
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
