//! Threads inserting and updating at once: one entry per tag and chain, nothing lost, and
//! compare-and-swap racing delete.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Barrier};
use std::thread;

use common::{at, hash_with_tag, mix};
use faster_epoch::Epoch;
use faster_index::{Address, HashIndex, IndexConfig, KeyHash};

const THREADS: usize = 4;

/// Four threads create the same 240 hashes (20 tags over 4 buckets, so every chain overflows)
/// in different orders, each installing its own addresses. Afterwards each (bucket, tag) has
/// exactly one final entry, none is tentative, and every entry holds an address some thread
/// installed for one of its hashes.
#[test]
fn concurrent_creators_of_shared_tags_leave_one_entry_per_tag_and_lose_none() {
    let hashes: Vec<KeyHash> = (0..240u64)
        .map(|i| hash_with_tag(i, (i % 20) as u16))
        .collect();
    for round in 0..100u64 {
        let epoch = Epoch::new();
        let index = Arc::new(
            HashIndex::new(IndexConfig::default().buckets(4), Arc::clone(&epoch)).unwrap(),
        );
        let barrier = Arc::new(Barrier::new(THREADS));
        let creators: Vec<_> = (0..THREADS)
            .map(|t| {
                let (index, epoch, barrier, hashes) = (
                    index.clone(),
                    epoch.clone(),
                    barrier.clone(),
                    hashes.clone(),
                );
                thread::spawn(move || {
                    let handle = epoch.register().unwrap();
                    let mut order: Vec<usize> = (0..hashes.len()).collect();
                    order.sort_by_key(|&i| mix(i as u64 ^ (t as u64 * 7919) ^ round));
                    let mut mine: HashMap<u64, Vec<Address>> = HashMap::new();
                    barrier.wait();
                    for (n, i) in order.into_iter().enumerate() {
                        let guard = handle.protect();
                        let slot = index.find_or_create(hashes[i], &guard).unwrap();
                        assert_eq!(slot.tag(), hashes[i].tag());
                        let address = at(64 + 8 * ((t * 1_000_000 + n) as u64));
                        let mut expected = slot.address();
                        while let Err(current) = slot.compare_exchange(expected, address) {
                            expected = current.address();
                        }
                        mine.entry(group(hashes[i])).or_default().push(address);
                    }
                    mine
                })
            })
            .collect();
        let installed: Vec<HashMap<u64, Vec<Address>>> =
            creators.into_iter().map(|t| t.join().unwrap()).collect();

        let handle = epoch.register().unwrap();
        let guard = handle.protect();
        let stats = index.check_invariants(&guard).unwrap();
        assert_eq!(stats.tentative_entries, 0);
        let groups: HashSet<u64> = hashes.iter().map(|&h| group(h)).collect();
        assert_eq!(stats.used_entries, groups.len() as u64);
        for &hash in &hashes {
            let slot = index
                .find(hash, &guard)
                .unwrap()
                .expect("a created hash is found");
            let address = slot.address();
            assert!(
                installed
                    .iter()
                    .any(|m| m.get(&group(hash)).is_some_and(|a| a.contains(&address))),
                "entry of {hash:?} holds {address}, which nobody installed for its group"
            );
        }
    }
}

/// The (bucket, tag) pair of a hash in a 4-bucket table.
fn group(hash: KeyHash) -> u64 {
    (hash.0 & 3) | (u64::from(hash.tag()) << 2)
}

/// One thread keeps swapping an entry's address while another tries to delete it at the
/// address it saw: either the delete wins (the entry is gone and later swaps fail) or it fails
/// because the address moved on — never both, never an entry that was deleted yet updated.
#[test]
fn compare_exchange_racing_delete_if_resolves_one_way() {
    for _ in 0..200 {
        let epoch = Epoch::new();
        let index = Arc::new(
            HashIndex::new(IndexConfig::default().buckets(1), Arc::clone(&epoch)).unwrap(),
        );
        let hash = hash_with_tag(1, 3);
        {
            let handle = epoch.register().unwrap();
            let guard = handle.protect();
            let slot = index.find_or_create(hash, &guard).unwrap();
            slot.compare_exchange(slot.address(), at(64)).unwrap();
        }
        let barrier = Arc::new(Barrier::new(2));
        let updater = {
            let (index, epoch, barrier) = (index.clone(), epoch.clone(), barrier.clone());
            thread::spawn(move || {
                let handle = epoch.register().unwrap();
                let guard = handle.protect();
                let slot = index.find(hash, &guard).unwrap().unwrap();
                barrier.wait();
                let mut last = at(64);
                for next in 1..50u64 {
                    match slot.compare_exchange(last, at(64 + 8 * next)) {
                        Ok(()) => last = at(64 + 8 * next),
                        Err(current) => {
                            assert!(current.is_empty(), "only the delete changes the entry");
                            return None;
                        }
                    }
                }
                Some(last)
            })
        };
        let handle = epoch.register().unwrap();
        let guard = handle.protect();
        let slot = index.find(hash, &guard).unwrap().unwrap();
        barrier.wait();
        let deleted = slot.delete_if(at(64));
        let final_address = updater.join().unwrap();
        let now = index.find(hash, &guard).unwrap().map(|s| s.address());
        if deleted {
            assert_eq!(now, None);
        } else {
            assert_eq!(now, final_address);
        }
    }
}
