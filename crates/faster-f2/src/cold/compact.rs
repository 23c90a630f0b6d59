//! Cold→cold compaction: keeps the cold log near the size of its live records (rule HC4).
//!
//! The entries of `[begin, until)` are read in order; one that is still its key's newest cold
//! record is appended again (a value) or dropped (a tombstone or an expired value: every older
//! record of its key lies below it, so below `until` too, and goes with it). The copies are committed and the
//! index checkpointed before the begin address moves, so neither a reader nor a recovery
//! ever follows a slot into truncated log.

use faster_kv::LiveRecord;
use faster_log::Address;

use super::ColdStore;
use super::record;
use crate::error::F2Error;

/// Records appended per batch.
const BATCH: usize = 4_096;

/// A live record copied out of the range, owning its bytes.
struct Kept {
    key: Vec<u8>,
    hash: u64,
    value: Vec<u8>,
}

impl ColdStore {
    /// Compacts the cold log below `until` (rounded down to a page start, at most the
    /// committed address); returns the number of records kept. Values for which `expired`
    /// holds are dropped like tombstones.
    pub(crate) fn compact(&self, until: u64, expired: fn(&[u8]) -> bool) -> Result<u64, F2Error> {
        let begin = self.log.begin_address().raw();
        let page = self.log.page_size();
        let until = until.min(self.log.committed_until().raw()) / page * page;
        if until <= begin {
            return Ok(0);
        }
        let mut index = self.reader()?;
        let mut kept = Vec::new();
        let mut total = 0;
        let mut entries = self
            .log
            .scan(Address::from_masked(begin), Address::from_masked(until));
        while let Some(entry) = entries.next().map_err(faster_log::Error::from)? {
            let address = entry.address.raw();
            let parsed = record::parse(entry.payload).map_err(|e| F2Error::Corrupt {
                address,
                reason: e.to_string(),
            })?;
            let Some(value) = parsed.value.filter(|v| !expired(v)) else {
                continue;
            };
            match self.newest(&mut index, parsed.key, parsed.hash)? {
                Some((newest, _)) if newest == address => kept.push(Kept {
                    key: parsed.key.to_vec(),
                    hash: parsed.hash,
                    value: value.to_vec(),
                }),
                _ => {}
            }
            if kept.len() >= BATCH {
                total += self.write_kept(&mut kept)?;
            }
        }
        total += self.write_kept(&mut kept)?;
        self.persist()?;
        self.log
            .truncate_until(Address::from_masked(until))
            .map_err(faster_log::Error::from)?;
        self.log.commit().map_err(faster_log::Error::from)?;
        Ok(total)
    }

    fn write_kept(&self, kept: &mut Vec<Kept>) -> Result<u64, F2Error> {
        let records: Vec<LiveRecord<'_>> = kept
            .iter()
            .map(|k| LiveRecord {
                key: &k.key,
                hash: k.hash,
                value: Some(&k.value),
            })
            .collect();
        self.write(&records)?;
        let n = kept.len() as u64;
        kept.clear();
        Ok(n)
    }
}
