//! Many sessions at once, on stores whose data is many times their memory budget.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use faster_kv::FasterKv;

fn value_of(key: u64) -> Vec<u8> {
    let len = 40 + (key % 90) as usize;
    (0..len).map(|i| (key as usize * 31 + i) as u8).collect()
}

/// Two sessions upsert distinct keys while two others read; the memory budget is a twentieth
/// of the data. Every value a reader sees is the one written; afterwards every upsert that
/// returned `Ok` reads back exactly.
#[test]
fn writers_and_readers_with_data_twenty_times_memory() {
    const KEYS_PER_WRITER: u64 = 6_000;
    const MIN_READS: u64 = 2_000;
    let store: FasterKv<u64, [u8]> = FasterKv::builder()
        .in_memory()
        .page_size_bits(13)
        .memory_budget(8 << 13) // 64 KiB of pages; the data is ~1.3 MiB
        .mutable_fraction(0.25)
        .index_buckets(1 << 10)
        .open()
        .unwrap();
    let written = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let done = Arc::new(AtomicBool::new(false));
    // All four start together, so that the reads overlap the writes however the threads are
    // scheduled.
    let start = Arc::new(std::sync::Barrier::new(4));
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let (store, written, start) = (store.clone(), Arc::clone(&written), Arc::clone(&start));
            std::thread::spawn(move || {
                let mut s = store.session().unwrap();
                start.wait();
                for i in 0..KEYS_PER_WRITER {
                    let key = i * 2 + w;
                    s.upsert(&key, &value_of(key)).unwrap();
                    written[w as usize].store(i + 1, Ordering::Release);
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2u64)
        .map(|r| {
            let (store, written, done, start) = (
                store.clone(),
                Arc::clone(&written),
                Arc::clone(&done),
                Arc::clone(&start),
            );
            std::thread::spawn(move || {
                let mut s = store.session().unwrap();
                let mut x = 0x1234_5678u64 + r;
                let mut checked = 0u64;
                start.wait();
                // Until the writers are done, and at least `MIN_READS` reads in all.
                while !done.load(Ordering::Acquire) || checked < MIN_READS {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let w = x % 2;
                    let upto = written[w as usize].load(Ordering::Acquire);
                    if upto == 0 {
                        continue;
                    }
                    let key = (x / 2 % upto) * 2 + w;
                    // Written before we looked at the counter: it must be there, exactly.
                    assert_eq!(s.read(&key).unwrap(), Some(value_of(key)), "key {key}");
                    checked += 1;
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    for r in readers {
        r.join().unwrap();
    }
    let regions = store.regions();
    let memory = 8u64 << 13;
    assert!(
        regions.tail.raw() > 15 * memory,
        "the data is many times the memory budget: {regions:?}"
    );
    let mut s = store.session().unwrap();
    for key in 0..2 * KEYS_PER_WRITER {
        assert_eq!(s.read(&key).unwrap(), Some(value_of(key)), "key {key}");
    }
    assert!(
        store.stats().device_reads > KEYS_PER_WRITER,
        "{:?}",
        store.stats()
    );
}

/// Threads increment a handful of hot counters while other writes roll the log to the
/// device, so the counters' records keep moving through the read-only and on-device regions:
/// every increment counts exactly once.
#[test]
fn hot_counters_count_every_increment_while_the_log_rolls() {
    const THREADS: u64 = 4;
    const INCREMENTS: u64 = 5_000;
    const COUNTERS: u64 = 5;
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .in_memory()
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .mutable_fraction(0.25)
        .index_buckets(1 << 8)
        .open()
        .unwrap();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut s = store.session().unwrap();
                for i in 0..INCREMENTS {
                    s.add(&(i % COUNTERS), 1).unwrap();
                    // Filler that pushes the counters' records out of the mutable region.
                    let filler = 1_000 + t * 1_000_000 + i;
                    s.upsert(&filler, &i).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut s = store.session().unwrap();
    for c in 0..COUNTERS {
        assert_eq!(
            s.read(&c).unwrap(),
            Some(THREADS * INCREMENTS / COUNTERS),
            "counter {c}"
        );
    }
    let stats = store.stats();
    assert!(stats.in_place_updates > 0 && stats.appends > 0, "{stats:?}");
}

/// Four times as many threads as a small machine has cores, each adding to the same few
/// counters while it writes new keys, so the counters keep crossing into the fuzzy region.
/// An RMW there waits for every other thread to refresh; a thread that is not running cannot,
/// so a waiting operation must give up its core rather than spin: the retries stay a small
/// multiple of the operations (spinning, they ran to a hundred and more per operation).
#[test]
fn more_threads_than_cores_wait_without_spinning() {
    const THREADS: u64 = 8;
    const ROUNDS: u64 = 10_000;
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .in_memory()
        .page_size_bits(12)
        .memory_budget(4 << 12)
        .index_buckets(1 << 8)
        .open()
        .unwrap();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut s = store.session().unwrap();
                for i in 0..ROUNDS {
                    s.add(&(i % 8), 1).unwrap();
                    s.upsert(&(1_000 + t * ROUNDS + i), &i).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut s = store.session().unwrap();
    let sum: u64 = (0..8).map(|k| s.read(&k).unwrap().unwrap_or(0)).sum();
    assert_eq!(sum, THREADS * ROUNDS);
    let stats = store.stats();
    let operations = 2 * THREADS * ROUNDS;
    assert!(
        stats.retries <= 20 * operations,
        "{} retries for {operations} operations: {:?}",
        stats.retries,
        stats.retry_causes
    );
}
