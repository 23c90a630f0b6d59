//! Growth while other threads keep inserting and updating, and the guards around it.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{TestLog, at, hash_with_tag, mix};
use faster_epoch::Epoch;
use faster_index::{Address, Busy, HashIndex, IndexConfig, IndexError, KeyHash};

const WRITERS: usize = 3;
const KEYS_PER_WRITER: u64 = 3000;

fn key_hash(writer: usize, key: u64) -> KeyHash {
    // Four tags only: keys share entries often, so growth must trace chains back.
    hash_with_tag((writer as u64) << 32 | key, (mix(key) % 4) as u16)
}

/// Three writers upsert their own keys while the main thread grows the table twice, with part
/// of the log "on the device". Afterwards every key's newest record is found through the
/// index, the table has four times the buckets, both old tables were freed, and the rules of
/// the index hold.
#[test]
fn growth_under_concurrent_upserts_keeps_every_latest_address_and_frees_old_tables() {
    let epoch = Epoch::new();
    let index = Arc::new(
        HashIndex::new(
            IndexConfig::default().table_size_bits(12).huge_pages(false),
            Arc::clone(&epoch),
        )
        .unwrap(),
    );
    let log = TestLog::with_capacity(4_000_000);
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(WRITERS + 1));

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (index, epoch, log, stop, barrier) = (
                index.clone(),
                epoch.clone(),
                log.clone(),
                stop.clone(),
                barrier.clone(),
            );
            thread::spawn(move || {
                let handle = epoch.register().unwrap();
                let mut latest = vec![Address::INVALID; KEYS_PER_WRITER as usize];
                let mut guard = handle.protect();
                // Every key once, so that each exists before the first growth.
                for key in 0..KEYS_PER_WRITER {
                    latest[key as usize] =
                        upsert_retrying(&log, &index, key_hash(w, key), &mut guard);
                }
                barrier.wait();
                let mut n = 0u64;
                let mut busy = 0u64;
                while !stop.load(Ordering::Relaxed) && n < 1_000_000 {
                    let key = mix(n ^ (w as u64) << 40) % KEYS_PER_WRITER;
                    match log.upsert(&index, key_hash(w, key), &guard) {
                        Ok(address) => latest[key as usize] = address,
                        Err(Busy) => busy += 1,
                    }
                    n += 1;
                    if n.is_multiple_of(32) {
                        guard.refresh();
                        index.help_grow(&guard);
                    }
                }
                (latest, busy)
            })
        })
        .collect();

    barrier.wait();
    let handle = epoch.register().unwrap();
    for round in 0..2 {
        thread::sleep(Duration::from_millis(30));
        let mut guard = handle.protect();
        log.set_head(at(log.tail_address().raw() / 3));
        let before = index.stats(&guard).buckets;
        let grown = index.grow(&mut guard, log.resolver()).unwrap();
        assert_eq!(grown, before * 2);
        assert_eq!(index.stats(&guard).tables_freed, round + 1);
    }
    // Stop right away: a key whose entry a faulty split lost must not get a fresh one from a
    // later upsert before the check.
    stop.store(true, Ordering::Relaxed);
    let results: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();

    let guard = handle.protect();
    let stats = index.check_invariants(&guard).unwrap();
    assert_eq!(stats.buckets, 4 << 12);
    assert_eq!(stats.tables_freed, 2);
    assert!(!stats.growing);
    for (w, (latest, _busy)) in results.iter().enumerate() {
        for key in 0..KEYS_PER_WRITER {
            assert_eq!(
                log.lookup(&index, key_hash(w, key), &guard).unwrap(),
                Some(latest[key as usize]),
                "writer {w} key {key}"
            );
        }
    }
}

fn upsert_retrying(
    log: &TestLog,
    index: &HashIndex,
    hash: KeyHash,
    guard: &mut faster_epoch::Guard<'_>,
) -> Address {
    loop {
        match log.upsert(index, hash, guard) {
            Ok(address) => return address,
            Err(Busy) => {
                guard.refresh();
            }
        }
    }
}

/// A thread protected before a growth started sees `Busy` until it refreshes; the growth
/// waits for that refresh and then completes.
#[test]
fn operations_of_a_thread_protected_before_the_growth_see_busy_until_it_refreshes() {
    let epoch = Epoch::new();
    let index =
        Arc::new(HashIndex::new(IndexConfig::default().buckets(8), Arc::clone(&epoch)).unwrap());
    let log = TestLog::with_capacity(64);
    let handle = epoch.register().unwrap();
    let hash = hash_with_tag(5, 1);
    let guard = handle.protect();
    let address = log.upsert(&index, hash, &guard).unwrap();

    let grower = {
        let (index, epoch, log) = (index.clone(), epoch.clone(), log.clone());
        thread::spawn(move || {
            let handle = epoch.register().unwrap();
            let mut guard = handle.protect();
            index.grow(&mut guard, log.resolver())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match index.find(hash, &guard) {
            Err(Busy) => break,
            Ok(_) => {
                assert!(
                    Instant::now() < deadline,
                    "the growth never reached PREPARE"
                );
                thread::yield_now();
            }
        }
    }
    assert!(index.find_or_create(hash, &guard).is_err());
    assert!(index.garbage_collect(at(64), &guard).is_err());
    assert!(index.stats(&guard).growing);
    // The growth also waits for this thread before freeing the old table: let go of the guard
    // while waiting for it.
    drop(guard);
    assert_eq!(grower.join().unwrap().unwrap(), 16);
    let guard = handle.protect();
    assert_eq!(log.lookup(&index, hash, &guard).unwrap(), Some(address));
}

/// `grow` with a guard nested inside another guard of its handle would wait for itself: it
/// refuses, and the index is unchanged and usable.
#[test]
fn grow_refuses_a_nested_guard_and_changes_nothing() {
    let epoch = Epoch::new();
    let index = HashIndex::new(IndexConfig::default().buckets(2), Arc::clone(&epoch)).unwrap();
    let log = TestLog::with_capacity(16);
    let handle = epoch.register().unwrap();
    let outer = handle.protect();
    let address = log.upsert(&index, hash_with_tag(1, 1), &outer).unwrap();
    let mut inner = handle.protect();
    assert!(matches!(
        index.grow(&mut inner, log.resolver()),
        Err(IndexError::NestedGuard)
    ));
    drop(inner);
    assert_eq!(index.buckets(&outer), 2);
    assert_eq!(
        log.lookup(&index, hash_with_tag(1, 1), &outer).unwrap(),
        Some(address)
    );
    drop(outer);
    let mut guard = handle.protect();
    assert_eq!(index.grow(&mut guard, log.resolver()).unwrap(), 4);
}

/// A resolver that panics is treated as "record on the device": the entry is copied to both
/// halves, so nothing is lost.
#[test]
fn a_panicking_resolver_loses_no_entry() {
    let epoch = Epoch::new();
    let index = HashIndex::new(IndexConfig::default().buckets(1), Arc::clone(&epoch)).unwrap();
    let log = TestLog::with_capacity(64);
    let handle = epoch.register().unwrap();
    let mut guard = handle.protect();
    let hashes: Vec<KeyHash> = (0..20).map(|i| hash_with_tag(i, (i % 3) as u16)).collect();
    let addresses: Vec<Address> = hashes
        .iter()
        .map(|&h| log.upsert(&index, h, &guard).unwrap())
        .collect();
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let grown = index.grow(&mut guard, Arc::new(|_| panic!("resolver failure")));
    std::panic::set_hook(previous_hook);
    assert_eq!(grown.unwrap(), 2);
    for (hash, address) in hashes.iter().zip(addresses) {
        assert_eq!(log.lookup(&index, *hash, &guard).unwrap(), Some(address));
    }
}
