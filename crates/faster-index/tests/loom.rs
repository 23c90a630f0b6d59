//! Loom models of the entry protocol (rules I3 and I4). Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p faster-index --test loom --release`.
#![cfg(loom)]

use std::sync::Arc;

use loom::thread;

use faster_epoch::Epoch;
use faster_index::{Address, HashIndex, IndexConfig, KeyHash};

fn at(raw: u64) -> Address {
    Address::new(raw).expect("a test address fits in 48 bits")
}

fn one_bucket_index(epoch: &Arc<Epoch>) -> Arc<HashIndex> {
    Arc::new(
        HashIndex::new(IndexConfig::default().buckets(1), epoch.clone())
            .expect("a one-bucket index"),
    )
}

/// Two threads create the same new tag on a one-bucket table at once: both get the same slot,
/// and the table ends with exactly one final entry and no tentative one (rule I3).
#[test]
fn concurrent_creation_of_one_tag_makes_one_entry() {
    loom::model(|| {
        let epoch = Epoch::with_capacity(3).unwrap();
        let index = one_bucket_index(&epoch);
        let hash = KeyHash(5 << 48);
        let creators: Vec<_> = (0..2u64)
            .map(|t| {
                let (epoch, index) = (epoch.clone(), index.clone());
                thread::spawn(move || {
                    let handle = epoch.register().unwrap();
                    let guard = handle.protect();
                    let slot = index.find_or_create(hash, &guard).unwrap();
                    // Each thread tries to install its own address; one of them may lose.
                    let mine = at(64 + 8 * t);
                    let installed = slot.compare_exchange(slot.address(), mine).is_ok();
                    (slot.tag(), installed)
                })
            })
            .collect();
        let results: Vec<_> = creators.into_iter().map(|c| c.join().unwrap()).collect();
        assert!(results.iter().all(|&(tag, _)| tag == 5));
        assert!(results.iter().any(|&(_, installed)| installed));

        let handle = epoch.register().unwrap();
        let guard = handle.protect();
        let stats = index.check_invariants(&guard).unwrap();
        assert_eq!(stats.used_entries, 1, "one entry for the tag");
        assert_eq!(stats.tentative_entries, 0);
        let found = index.find(hash, &guard).unwrap().unwrap();
        assert!(found.address() == at(64) || found.address() == at(72));
    });
}

/// A swap of the entry's address races a delete at the old address: exactly one succeeds, and
/// the entry ends deleted or holding the new address accordingly (rule I4).
#[test]
fn compare_exchange_and_delete_if_exclude_each_other() {
    loom::model(|| {
        let epoch = Epoch::with_capacity(3).unwrap();
        let index = one_bucket_index(&epoch);
        let hash = KeyHash(3 << 48);
        {
            let handle = epoch.register().unwrap();
            let guard = handle.protect();
            let slot = index.find_or_create(hash, &guard).unwrap();
            slot.compare_exchange(slot.address(), at(64)).unwrap();
        }
        let updater = {
            let (epoch, index) = (epoch.clone(), index.clone());
            thread::spawn(move || {
                let handle = epoch.register().unwrap();
                let guard = handle.protect();
                // The delete may already have emptied the slot.
                match index.find(hash, &guard).unwrap() {
                    Some(slot) => slot.compare_exchange(at(64), at(128)).is_ok(),
                    None => false,
                }
            })
        };
        let deleted = {
            let handle = epoch.register().unwrap();
            let guard = handle.protect();
            let slot = index.find(hash, &guard).unwrap().unwrap();
            slot.delete_if(at(64))
        };
        let updated = updater.join().unwrap();
        assert!(updated != deleted, "exactly one of the two wins");
        let handle = epoch.register().unwrap();
        let guard = handle.protect();
        let now = index.find(hash, &guard).unwrap().map(|s| s.address());
        assert_eq!(now, if updated { Some(at(128)) } else { None });
    });
}

/// The bucket is full, so both creators of a new tag race to link an overflow bucket: one link
/// wins, the loser's bucket goes back unseen, and the tag still gets exactly one entry (rules
/// I3 and I5).
#[test]
fn racing_overflow_links_leave_one_bucket_and_one_entry() {
    loom::model(|| {
        let epoch = Epoch::with_capacity(3).unwrap();
        let index = one_bucket_index(&epoch);
        {
            let handle = epoch.register().unwrap();
            let guard = handle.protect();
            for tag in 1..=7u64 {
                index.find_or_create(KeyHash(tag << 48), &guard).unwrap();
            }
        }
        let hash = KeyHash(9 << 48);
        let creators: Vec<_> = (0..2)
            .map(|_| {
                let (epoch, index) = (epoch.clone(), index.clone());
                thread::spawn(move || {
                    let handle = epoch.register().unwrap();
                    let guard = handle.protect();
                    index.find_or_create(hash, &guard).unwrap().tag()
                })
            })
            .collect();
        for creator in creators {
            assert_eq!(creator.join().unwrap(), 9);
        }
        let handle = epoch.register().unwrap();
        let guard = handle.protect();
        let stats = index.check_invariants(&guard).unwrap();
        assert_eq!(stats.used_entries, 8);
        assert_eq!(stats.overflow_buckets, 1);
        assert_eq!(stats.tentative_entries, 0);
    });
}
