//! Reading a range of the log in batches of owned record copies, for the live-record scan and
//! compaction.
//!
//! A batch is copied out of the log's scan and the scan is paused before the batch is looked
//! at: checking and copying records runs operations that may need the log to turn a page, and
//! a paused scan holds back no flush or eviction (a protected one would, and the operation
//! would wait for itself).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use faster_hlog::{Address, HybridLog, LogError, LogScan};
use faster_index::KeyHash;

use crate::codec::{Codec, expired};
use crate::error::{OpError, OpErrorKind};
use crate::record::{self, Layout, Parse};

/// The sizer the log's scan calls.
type Sizer = Box<dyn Fn(&[u8]) -> Option<u64> + Send>;

/// One record copied out of the log.
#[derive(Debug, Clone)]
pub(crate) struct Copied {
    pub(crate) address: Address,
    pub(crate) hash: KeyHash,
    key: Range<usize>,
    value: Range<usize>,
}

/// Records copied out of the log, their bytes in one buffer.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    records: Vec<Copied>,
    /// Whether each record is a tombstone.
    tombstones: Vec<bool>,
    /// The records that are the newest of their key within the batch and not tombstones:
    /// the only ones that can be live (a newer record of the same key in the batch makes the
    /// older ones dead, no index lookup needed).
    candidates: Vec<usize>,
    /// Whether tombstones are candidates too (a compaction into another store hands live
    /// tombstones on, to hide the key's records there).
    pub(crate) keep_tombstones: bool,
    bytes: Vec<u8>,
}

impl Batch {
    pub(crate) fn key(&self, record: &Copied) -> &[u8] {
        &self.bytes[record.key.clone()]
    }
    pub(crate) fn value(&self, record: &Copied) -> &[u8] {
        &self.bytes[record.value.clone()]
    }
    /// The records that may be live, in log order.
    pub(crate) fn candidates(&self) -> impl Iterator<Item = &Copied> {
        self.candidates.iter().map(|&i| &self.records[i])
    }

    /// The indices of [`Batch::candidates`] in [`Batch::record`]'s numbering.
    pub(crate) fn candidate_indices(&self) -> &[usize] {
        &self.candidates
    }

    /// Whether record `i` is a tombstone.
    pub(crate) fn is_tombstone(&self, i: usize) -> bool {
        self.tombstones[i]
    }

    pub(crate) fn record(&self, i: usize) -> &Copied {
        &self.records[i]
    }

    /// The record of the batch at `address`, if one was read there. Records are in address
    /// order and, in most logs, of similar sizes: the search starts where `address` would be
    /// if they were all alike and widens from there, so it touches a few cache lines where a
    /// binary search over the whole batch would miss the cache at every step.
    pub(crate) fn at(&self, address: Address) -> Option<&Copied> {
        let (first, last) = (self.records.first()?, self.records.last()?);
        if address < first.address || address > last.address {
            return None;
        }
        let n = self.records.len();
        let span = u128::from(last.address.raw() - first.address.raw()).max(1);
        let offset = u128::from(address.raw() - first.address.raw());
        let guess = ((offset * (n as u128 - 1)) / span) as usize;
        let at = |i: usize| self.records[i].address;
        // Bracket `address` in `[lo, hi)`: `at(lo) <= address` (or `lo == 0`) and
        // `at(hi) > address` (or `hi == n`), doubling the step away from the guess.
        let mut lo = guess;
        let mut step = 1;
        while lo > 0 && at(lo) > address {
            lo = lo.saturating_sub(step);
            step *= 2;
        }
        let mut hi = guess + 1;
        step = 1;
        while hi < n && at(hi) <= address {
            hi = (hi + step).min(n);
            step *= 2;
        }
        let i = lo
            + self.records[lo..hi]
                .binary_search_by_key(&address, |r| r.address)
                .ok()?;
        Some(&self.records[i])
    }

    /// Whether `address` lies between the batch's first and last records.
    pub(crate) fn spans(&self, address: Address) -> bool {
        match (self.records.first(), self.records.last()) {
            (Some(first), Some(last)) => first.address <= address && address <= last.address,
            _ => false,
        }
    }

    fn clear(&mut self) {
        self.records.clear();
        self.tombstones.clear();
        self.candidates.clear();
        self.bytes.clear();
    }

    /// Finds the candidates: with `dedupe`, the last record of each key, unless it is a
    /// tombstone; without, every record that is not a tombstone (the caller finds the older
    /// records of a key rewritten within the batch through the index: [`Batch::at`]).
    fn select(&mut self, dedupe: bool) {
        if !dedupe {
            self.candidates.clear();
            let keep = self.keep_tombstones;
            self.candidates
                .extend((0..self.records.len()).filter(|&i| keep || !self.tombstones[i]));
            return;
        }
        let newest = self
            .newest_by_hash()
            .unwrap_or_else(|| self.newest_by_key());
        let mut candidates: Vec<usize> = newest
            .into_iter()
            .filter(|&i| self.keep_tombstones || !self.tombstones[i])
            .collect();
        candidates.sort_unstable();
        self.candidates = candidates;
    }

    /// The newest record of each key, keyed by the keys' hashes (computed once, when the
    /// batch was read); `None` if two different keys share a hash.
    fn newest_by_hash(&self) -> Option<Vec<usize>> {
        let mut newest: HashMap<u64, usize, BuildHasherDefault<Prehashed>> =
            HashMap::with_capacity_and_hasher(self.records.len(), BuildHasherDefault::default());
        for (i, r) in self.records.iter().enumerate() {
            match newest.entry(r.hash.0) {
                Entry::Vacant(e) => {
                    e.insert(i);
                }
                Entry::Occupied(mut e) => {
                    if self.key(&self.records[*e.get()]) != self.key(r) {
                        return None;
                    }
                    e.insert(i);
                }
            }
        }
        Some(newest.into_values().collect())
    }

    /// The newest record of each key, keyed by the keys' bytes.
    fn newest_by_key(&self) -> Vec<usize> {
        let mut newest: HashMap<&[u8], usize> = HashMap::with_capacity(self.records.len());
        for (i, r) in self.records.iter().enumerate() {
            newest.insert(&self.bytes[r.key.clone()], i);
        }
        newest.into_values().collect()
    }
}

/// A hasher for keys that are already hashes: it passes the `u64` through.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s are hashed; fold anything else in so it still spreads.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Reads the records of `[from, to)` batch by batch.
pub(crate) struct Reader {
    scan: LogScan<Sizer>,
    layout: Layout,
}

impl Reader {
    /// Reads `[from, to)` (`to` at most the safe read-only address; see
    /// [`HybridLog::scan`]).
    pub(crate) fn new(
        log: &HybridLog,
        from: Address,
        to: Address,
        layout: Layout,
    ) -> Result<Self, LogError> {
        let sizer: Sizer = Box::new(record::sizer(layout));
        Ok(Self {
            scan: log.scan(from, to, sizer)?,
            layout,
        })
    }

    /// The address the next batch starts at.
    pub(crate) fn next_address(&self) -> Address {
        self.scan.next_address()
    }

    /// Replaces `batch` with the next valid records (up to `max` records looked at), counting
    /// in `looked` every record passed over, and selects its candidates. Returns false at
    /// the end of the range.
    pub(crate) fn fill<K: Codec + ?Sized, V: Codec + ?Sized>(
        &mut self,
        batch: &mut Batch,
        max: usize,
        looked: &mut u64,
    ) -> Result<bool, OpError> {
        self.fill_up_to::<K, V>(batch, (max, usize::MAX), true, looked)
    }

    /// [`Reader::fill`], stopping also once the batch holds `max_bytes` of keys and values;
    /// `dedupe` as for [`Batch::select`].
    pub(crate) fn fill_up_to<K: Codec + ?Sized, V: Codec + ?Sized>(
        &mut self,
        batch: &mut Batch,
        (max, max_bytes): (usize, usize),
        dedupe: bool,
        looked: &mut u64,
    ) -> Result<bool, OpError> {
        batch.clear();
        let mut more = true;
        for _ in 0..max {
            if batch.bytes.len() >= max_bytes {
                break;
            }
            let Some(item) = self.scan.next()? else {
                more = false;
                break;
            };
            *looked += 1;
            let parsed = match record::parse(item.bytes, self.layout, item.bytes.len()) {
                Parse::Record(p) => p,
                Parse::NeedBytes(_) => return Err(corrupt(item.address, "record truncated")),
                Parse::Corrupt(reason) => return Err(corrupt(item.address, reason)),
            };
            if parsed.header.is_invalid() {
                continue;
            }
            // Rule X1: a value whose expiry has passed is a tombstone from here on.
            let tombstone = parsed.header.is_tombstone() || expired::<V>(parsed.value);
            let key =
                K::decode(parsed.key).map_err(|_| corrupt(item.address, "key does not decode"))?;
            let hash = std::borrow::Borrow::<K>::borrow(&key).hash64()?;
            let k = batch.bytes.len()..batch.bytes.len() + parsed.key.len();
            batch.bytes.extend_from_slice(parsed.key);
            let value = if tombstone { &[][..] } else { parsed.value };
            let v = batch.bytes.len()..batch.bytes.len() + value.len();
            batch.bytes.extend_from_slice(value);
            batch.tombstones.push(tombstone);
            batch.records.push(Copied {
                address: item.address,
                hash: KeyHash(hash),
                key: k,
                value: v,
            });
        }
        self.scan.pause();
        batch.select(dedupe);
        Ok(more)
    }
}

fn corrupt(address: Address, reason: &'static str) -> OpError {
    OpErrorKind::CorruptRecord { address, reason }.into()
}

#[cfg(test)]
mod tests {
    use super::{Batch, Copied};
    use faster_hlog::Address;
    use faster_index::KeyHash;

    fn batch_at(addresses: &[u64]) -> Batch {
        let mut batch = Batch::default();
        for &a in addresses {
            batch.records.push(Copied {
                address: Address::from_masked(a),
                hash: KeyHash(a),
                key: 0..0,
                value: 0..0,
            });
        }
        batch
    }

    #[test]
    fn at_finds_every_record_and_nothing_between_them() {
        // Records of very uneven sizes, so that the first guess is far off.
        let mut addresses = vec![64];
        for i in 0..500u64 {
            let size = if i % 50 == 0 {
                8 << 10
            } else {
                8 * (1 + i % 7)
            };
            addresses.push(addresses.last().copied().unwrap_or(0) + size);
        }
        for n in [1, 2, 3, 17, addresses.len()] {
            let batch = batch_at(&addresses[..n]);
            for &a in &addresses[..n] {
                let found = batch.at(Address::from_masked(a)).map(|r| r.address.raw());
                assert_eq!(found, Some(a), "n {n}");
                assert!(batch.at(Address::from_masked(a + 1)).is_none(), "n {n}");
            }
            assert!(batch.at(Address::from_masked(63)).is_none());
            let past = addresses[n - 1] + 8;
            assert!(batch.at(Address::from_masked(past)).is_none());
        }
        assert!(Batch::default().at(Address::from_masked(64)).is_none());
    }
}
