//! Named iterator positions (rule L8): what a consumer marked as done with
//! [`LogIterator::complete_until`](crate::LogIterator::complete_until), recorded by the next
//! commit and restored when the log reopens.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::commit_record::{COMMIT_HEADER_SIZE, CommitRecord, MAX_ITERATOR_NAME_LEN};
use crate::error::NamedIteratorError;
use crate::sync::lock;

/// The position of one named iterator.
#[derive(Debug)]
pub(crate) struct NamedSlot {
    position: AtomicU64,
    /// A live iterator uses this name.
    in_use: AtomicBool,
}

impl NamedSlot {
    pub(crate) fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    pub(crate) fn release(&self) {
        self.in_use.store(false, Ordering::Release);
    }
}

/// Every named iterator of a log.
#[derive(Debug)]
pub(crate) struct NamedIterators {
    slots: Mutex<BTreeMap<String, Arc<NamedSlot>>>,
    /// Bumped after every change of a position or of the set of names.
    version: AtomicU64,
    /// The largest commit record that fits a metadata slot and a page.
    max_record_len: usize,
}

impl NamedIterators {
    /// The iterators restored from a commit record.
    pub(crate) fn new(restored: &[(String, u64)], max_record_len: usize) -> Self {
        let slots = restored
            .iter()
            .map(|(name, position)| {
                let slot = NamedSlot {
                    position: AtomicU64::new(*position),
                    in_use: AtomicBool::new(false),
                };
                (name.clone(), Arc::new(slot))
            })
            .collect();
        Self {
            slots: Mutex::new(slots),
            version: AtomicU64::new(0),
            max_record_len,
        }
    }

    /// Claims the iterator `name`, creating it at `begin` if it is new.
    pub(crate) fn claim(
        &self,
        name: &str,
        begin: u64,
    ) -> Result<Arc<NamedSlot>, NamedIteratorError> {
        let invalid = |reason| NamedIteratorError::InvalidName {
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("empty"));
        }
        if name.len() > MAX_ITERATOR_NAME_LEN {
            return Err(invalid("longer than 255 bytes"));
        }
        let mut slots = lock(&self.slots);
        if !slots.contains_key(name) {
            let needed = COMMIT_HEADER_SIZE
                + slots
                    .keys()
                    .map(|n| CommitRecord::iterator_len(n))
                    .sum::<usize>()
                + CommitRecord::iterator_len(name);
            if needed > self.max_record_len {
                return Err(NamedIteratorError::TooMany {
                    name: name.to_owned(),
                    max_bytes: self.max_record_len,
                });
            }
            let slot = NamedSlot {
                position: AtomicU64::new(begin),
                in_use: AtomicBool::new(false),
            };
            slots.insert(name.to_owned(), Arc::new(slot));
            self.version.fetch_add(1, Ordering::AcqRel);
        }
        let slot = slots
            .get(name)
            .map(Arc::clone)
            .ok_or_else(|| invalid("vanished"))?;
        if slot
            .in_use
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(NamedIteratorError::InUse(name.to_owned()));
        }
        Ok(slot)
    }

    /// The largest commit record that fits a metadata slot and a page.
    pub(crate) fn max_record_len(&self) -> usize {
        self.max_record_len
    }

    /// Moves `slot` forward to `address` (never back).
    pub(crate) fn complete_until(&self, slot: &NamedSlot, address: u64) {
        if slot.position.fetch_max(address, Ordering::AcqRel) < address {
            // Release: a snapshot that reads this version also reads the position above.
            self.version.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Forgets the iterator `name`; returns its last position.
    pub(crate) fn remove(&self, name: &str) -> Result<Option<u64>, NamedIteratorError> {
        let mut slots = lock(&self.slots);
        let Some(slot) = slots.get(name) else {
            return Ok(None);
        };
        if slot.in_use.load(Ordering::Acquire) {
            return Err(NamedIteratorError::InUse(name.to_owned()));
        }
        let position = slot.position();
        slots.remove(name);
        self.version.fetch_add(1, Ordering::AcqRel);
        Ok(Some(position))
    }

    /// Every name and position, sorted by name, positions raised to `begin`; and the version
    /// read before the positions, so a change made after the snapshot bumps the version past
    /// it and is recorded by the next commit.
    pub(crate) fn snapshot(&self, begin: u64) -> (Vec<(String, u64)>, u64) {
        let version = self.version.load(Ordering::Acquire);
        let list = lock(&self.slots)
            .iter()
            .map(|(name, slot)| (name.clone(), slot.position().max(begin)))
            .collect();
        (list, version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_claimed_once_and_positions_only_move_forward() {
        let named = NamedIterators::new(&[("a".into(), 100)], 4096);
        let a = named.claim("a", 64).unwrap();
        assert_eq!(a.position(), 100);
        assert!(matches!(named.claim("a", 64), Err(NamedIteratorError::InUse(n)) if n == "a"));
        named.complete_until(&a, 50);
        assert_eq!(a.position(), 100);
        let (_, before) = named.snapshot(0);
        named.complete_until(&a, 200);
        let (list, after) = named.snapshot(0);
        assert!(after > before);
        assert_eq!(list, vec![("a".to_owned(), 200)]);
        a.release();
        assert_eq!(named.remove("a"), Ok(Some(200)));
        assert_eq!(named.remove("a"), Ok(None));
    }

    #[test]
    fn names_are_checked_and_bounded_by_the_record_size() {
        let named = NamedIterators::new(&[], COMMIT_HEADER_SIZE + 2 * 11);
        assert!(matches!(
            named.claim("", 64),
            Err(NamedIteratorError::InvalidName { .. })
        ));
        named.claim("x", 64).unwrap();
        named.claim("y", 64).unwrap();
        assert!(matches!(
            named.claim("z", 64),
            Err(NamedIteratorError::TooMany { .. })
        ));
    }
}
