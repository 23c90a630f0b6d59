//! The read cache: copies of records read from the device serve later reads, writers replace
//! them, eviction unlinks them, and none reaches a checkpoint, a compaction's verdict or an
//! index growth's split the wrong way.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{SNAPSHOT, small, small_in};
use faster_kv::{FasterKv, FasterKvBuilder, ReadCacheStats};

/// Keys enough that most records are on the device in a [`small`] store (32 KiB of log in
/// memory, records of 24 bytes).
const KEYS: u64 = 20_000;

fn cached(builder: FasterKvBuilder, bytes: u64) -> FasterKvBuilder {
    builder.read_cache(bytes)
}

fn cache_stats<K: faster_kv::Codec + ?Sized, V: faster_kv::Codec + ?Sized>(
    store: &FasterKv<K, V>,
) -> ReadCacheStats {
    store.stats().read_cache.unwrap()
}

fn value(k: u64, round: u64) -> u64 {
    k.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ round
}

fn load(store: &FasterKv<u64, u64>, round: u64) {
    let mut s = store.session().unwrap();
    for k in 0..KEYS {
        s.upsert(&k, &value(k, round)).unwrap();
    }
}

#[test]
fn a_second_read_of_a_cold_key_is_served_from_the_cache() {
    let store: FasterKv<u64, u64> = cached(small(), 4 << 20).open().unwrap();
    load(&store, 0);
    let mut s = store.session().unwrap();
    let keys = 0..2_000;
    for k in keys.clone() {
        assert_eq!(s.read(&k).unwrap(), Some(value(k, 0)));
    }
    let first = cache_stats(&store);
    assert!(first.misses >= 1_500, "{first:?}");
    assert!(first.inserts >= 1_500, "{first:?}");
    let device_reads = store.stats().device_reads;
    for k in keys {
        assert_eq!(s.read(&k).unwrap(), Some(value(k, 0)));
    }
    let second = cache_stats(&store);
    assert!(second.hits >= first.hits + 1_500, "{second:?}");
    assert!(
        store.stats().device_reads < device_reads + 500,
        "the second pass went to the device"
    );
    assert!(store.memory().read_cache_bytes >= 4 << 20);
}

#[test]
fn writers_replace_a_cached_copy() {
    let store: FasterKv<u64, u64> = cached(small(), 1 << 20).open().unwrap();
    load(&store, 0);
    let mut s = store.session().unwrap();
    for k in 0..300 {
        assert_eq!(s.read(&k).unwrap(), Some(value(k, 0)));
    }
    assert!(cache_stats(&store).inserts >= 250);
    // Upserts, counters, deletes and compare-and-swap over copies.
    for k in 0..100 {
        s.upsert(&k, &7).unwrap();
    }
    for k in 100..200 {
        assert_eq!(s.add(&k, 1).unwrap(), value(k, 0).wrapping_add(1));
    }
    for k in 200..250 {
        assert_eq!(s.delete(&k).unwrap(), faster_kv::Status::Found);
    }
    for k in 250..300 {
        assert!(
            s.compare_and_swap(&k, Some(&value(k, 0)), &(k + 1))
                .unwrap()
        );
    }
    for round in 0..2 {
        for k in 0..300 {
            let want = match k {
                0..100 => Some(7),
                100..200 => Some(value(k, 0).wrapping_add(1)),
                200..250 => None,
                _ => Some(k + 1),
            };
            assert_eq!(s.read(&k).unwrap(), want, "key {k}, round {round}");
        }
    }
}

#[test]
fn a_small_cache_evicts_and_every_read_stays_right() {
    let store: FasterKv<u64, u64> = cached(small(), 256 << 10).open().unwrap();
    load(&store, 0);
    let mut s = store.session().unwrap();
    for pass in 0..3 {
        for k in 0..KEYS {
            assert_eq!(s.read(&k).unwrap(), Some(value(k, 0)), "pass {pass}");
        }
    }
    let stats = cache_stats(&store);
    assert!(stats.evictions > 0, "{stats:?}");
    // Hot keys read over and over while the rest streams through keep their copies.
    let before = cache_stats(&store);
    for pass in 0..50 {
        for k in 0..100 {
            assert_eq!(s.read(&k).unwrap(), Some(value(k, 0)));
        }
        for k in (1_000 + pass * 300)..(1_000 + (pass + 1) * 300) {
            assert_eq!(s.read(&k).unwrap(), Some(value(k, 0)));
        }
    }
    let after = cache_stats(&store);
    assert!(after.second_chances > before.second_chances, "{after:?}");
    // The hot keys kept their copies: after the first pass, only the streamed keys missed.
    assert!(
        after.misses - before.misses < 100 * 3 + 50 * 300,
        "{before:?} {after:?}"
    );
}

/// Two threads: one adds to counters (its own model), one reads them; a read never goes
/// backwards, and the cache both hits and evicts meanwhile.
#[test]
fn readers_and_writers_together_over_a_small_cache() {
    let store: FasterKv<u64, u64> = cached(small(), 256 << 10).open().unwrap();
    const N: u64 = 8_000;
    {
        let mut s = store.session().unwrap();
        for k in 0..N {
            s.upsert(&k, &0).unwrap();
        }
    }
    let store = Arc::new(store);
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let store = Arc::clone(&store);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut s = store.session().unwrap();
            let mut model = vec![0u64; N as usize];
            let mut x = 1u64;
            for i in 0..60_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let k = x % N;
                if i % 5 == 0 {
                    s.upsert(&k, &(model[k as usize] + 1)).unwrap();
                } else {
                    s.add(&k, 1).unwrap();
                }
                model[k as usize] += 1;
            }
            done.store(true, Ordering::Release);
            model
        })
    };
    let reader = {
        let store = Arc::clone(&store);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut s = store.session().unwrap();
            let mut seen = vec![0u64; N as usize];
            let mut k = 0u64;
            while !done.load(Ordering::Acquire) {
                // Mostly a hot tenth of the keys, sometimes any key.
                k = (k + 7) % N;
                let key = if k.is_multiple_of(3) { k } else { k % (N / 10) };
                let v = s.read(&key).unwrap().unwrap();
                assert!(v >= seen[key as usize], "key {key} went back");
                seen[key as usize] = v;
            }
        })
    };
    let model = writer.join().unwrap();
    reader.join().unwrap();
    let mut s = store.session().unwrap();
    for k in 0..N {
        assert_eq!(s.read(&k).unwrap(), Some(model[k as usize]), "key {k}");
    }
    let stats = cache_stats(&store);
    assert!(stats.hits > 0 && stats.inserts > 0, "{stats:?}");
}

/// Entries that point at copies when a checkpoint snapshots the index are recorded as the log
/// addresses behind them: the store reopens without a read cache and reads every key.
#[test]
fn a_checkpoint_taken_over_copies_recovers_without_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut model = HashMap::new();
    {
        let store: FasterKv<u64, u64> = cached(small_in(tmp.path()), 1 << 20).open().unwrap();
        load(&store, 0);
        let mut s = store.session().unwrap();
        for k in 0..KEYS {
            model.insert(k, value(k, 0));
        }
        for k in (0..KEYS).step_by(3) {
            assert_eq!(s.read(&k).unwrap(), model.get(&k).copied());
        }
        for k in (0..KEYS).step_by(7) {
            s.upsert(&k, &1).unwrap();
            model.insert(k, 1);
        }
        assert!(cache_stats(&store).inserts > 1_000);
        drop(s);
        store.checkpoint_with(SNAPSHOT).unwrap().wait().unwrap();
    }
    for with_cache in [false, true] {
        let builder = small_in(tmp.path());
        let builder = if with_cache {
            cached(builder, 1 << 20)
        } else {
            builder
        };
        let store: FasterKv<u64, u64> = builder.open().unwrap();
        let mut s = store.session().unwrap();
        for _ in 0..2 {
            for k in 0..KEYS {
                assert_eq!(s.read(&k).unwrap(), model.get(&k).copied(), "key {k}");
            }
        }
    }
}

/// Compaction does not count a copy as a newer record, and copies it replaces stay replaced.
#[test]
fn compaction_over_copies_keeps_every_live_record() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let store: FasterKv<u64, u64> = cached(small_in(tmp.path()), 1 << 20).open().unwrap();
        load(&store, 0);
        let mut s = store.session().unwrap();
        for k in 0..KEYS / 2 {
            assert_eq!(s.read(&k).unwrap(), Some(value(k, 0)));
        }
        for k in (0..KEYS).step_by(4) {
            s.delete(&k).unwrap();
        }
        drop(s);
        let until = store.regions().safe_read_only;
        store.compact(until).unwrap();
        let mut s = store.session().unwrap();
        for k in 0..KEYS {
            let want = (!k.is_multiple_of(4)).then(|| value(k, 0));
            assert_eq!(s.read(&k).unwrap(), want, "key {k}");
        }
        drop(s);
        store.checkpoint_with(SNAPSHOT).unwrap().wait().unwrap();
    }
    let store: FasterKv<u64, u64> = small_in(tmp.path()).open().unwrap();
    let mut s = store.session().unwrap();
    for k in 0..KEYS {
        let want = (!k.is_multiple_of(4)).then(|| value(k, 0));
        assert_eq!(s.read(&k).unwrap(), want, "key {k} after recovery");
    }
}

/// An index growth splits entries that point at copies by their key's hash: every key stays
/// readable, and eviction finds the copies in the new table.
#[test]
fn an_index_growth_over_copies_keeps_every_key() {
    let store: FasterKv<u64, u64> = cached(small().index_buckets(64), 256 << 10)
        .auto_grow_index(false)
        .open()
        .unwrap();
    load(&store, 0);
    {
        let mut s = store.session().unwrap();
        for k in 0..4_000 {
            assert_eq!(s.read(&k).unwrap(), Some(value(k, 0)));
        }
    }
    store.grow_index().unwrap();
    store.grow_index().unwrap();
    let mut s = store.session().unwrap();
    for pass in 0..2 {
        for k in 0..KEYS {
            assert_eq!(s.read(&k).unwrap(), Some(value(k, 0)), "pass {pass}");
        }
    }
    let stats = cache_stats(&store);
    assert!(stats.evictions > 0 && stats.hits > 0, "{stats:?}");
}

#[test]
fn a_cache_below_the_minimum_is_refused() {
    let err = FasterKv::builder()
        .read_cache(1000)
        .open::<u64, u64>()
        .unwrap_err();
    assert!(err.to_string().contains("read_cache"), "{err}");
}
