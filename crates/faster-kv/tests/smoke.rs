//! The basic operations on small stores, in memory and on the device.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use faster_kv::{Completed, FasterKv, Outcome, Serde, Status};

fn small<K: faster_kv::Codec + ?Sized, V: faster_kv::Codec + ?Sized>() -> FasterKv<K, V> {
    FasterKv::builder()
        .in_memory()
        .page_size_bits(12)
        .memory_budget(4 << 12)
        .index_buckets(64)
        .open()
        .unwrap()
}

#[test]
fn u64_values_read_upsert_rmw_delete() {
    let store: FasterKv<u64, u64> = small();
    let mut s = store.session().unwrap();
    assert_eq!(s.read(&1).unwrap(), None);
    s.upsert(&1, &10).unwrap();
    assert_eq!(s.read(&1).unwrap(), Some(10));
    s.upsert(&1, &11).unwrap();
    assert_eq!(s.read(&1).unwrap(), Some(11));
    assert_eq!(s.add(&1, 4).unwrap(), 15);
    assert_eq!(s.add(&2, 4).unwrap(), 4);
    assert_eq!(
        s.rmw(&3, |v: Option<&u64>| v.copied().unwrap_or(100) * 2)
            .unwrap(),
        Some(200)
    );
    assert_eq!(s.delete(&1).unwrap(), Status::Found);
    assert_eq!(s.read(&1).unwrap(), None);
    assert_eq!(s.delete(&1).unwrap(), Status::NotFound);
    assert!(s.insert_if_absent(&1, &7).unwrap());
    assert!(!s.insert_if_absent(&1, &8).unwrap());
    assert_eq!(s.read(&1).unwrap(), Some(7));
    assert!(s.compare_and_swap(&1, Some(&7), &9).unwrap());
    assert!(!s.compare_and_swap(&1, Some(&7), &10).unwrap());
    assert!(s.compare_and_swap(&5, None, &1).unwrap());
    assert_eq!(s.read(&1).unwrap(), Some(9));
    assert_eq!(s.read(&5).unwrap(), Some(1));
}

#[test]
fn many_keys_spill_to_the_device_and_read_back() {
    let store: FasterKv<u64, u64> = small();
    let mut s = store.session().unwrap();
    for k in 0..20_000u64 {
        s.upsert(&k, &(k * 3)).unwrap();
    }
    let regions = store.regions();
    assert!(
        regions.head.raw() > 64,
        "most of the log is on the device: {regions:?}"
    );
    for k in 0..20_000u64 {
        assert_eq!(s.read(&k).unwrap(), Some(k * 3), "key {k}");
    }
    for k in 0..20_000u64 {
        assert_eq!(s.add(&k, 1).unwrap(), k * 3 + 1, "key {k}");
    }
    for k in (0..20_000u64).step_by(7) {
        assert_eq!(s.read(&k).unwrap(), Some(k * 3 + 1));
    }
    let stats = store.stats();
    assert!(stats.device_reads > 1000, "{stats:?}");
}

#[test]
fn values_shorter_than_a_word_read_back_exactly_from_memory_and_device() {
    // 4- and 2-byte values live in a word of their own (read with one atomic load); only
    // their own bytes may come back.
    let store: FasterKv<u64, u32> = small();
    let mut s = store.session().unwrap();
    let value = |k: u64| (k as u32).wrapping_mul(0x9E37_79B9) | 1;
    for k in 0..5_000u64 {
        s.upsert(&k, &value(k)).unwrap();
    }
    assert!(
        store.regions().head.raw() > 64,
        "most records are on the device"
    );
    for k in 0..5_000u64 {
        assert_eq!(s.read(&k).unwrap(), Some(value(k)), "key {k}");
    }
    let mut expected = std::collections::HashMap::new();
    for k in 0..5_000u64 {
        match s.start_read(&k).unwrap() {
            Outcome::Ready(v) => assert_eq!(v, Some(value(k)), "key {k}"),
            Outcome::Pending(serial) => {
                expected.insert(serial, value(k));
            }
        }
    }
    assert!(!expected.is_empty(), "some reads went to the device");
    for done in s.complete_pending(true) {
        let want = expected.remove(&done.serial).unwrap();
        assert!(matches!(done.result, Ok(Completed::Read(Some(v))) if v == want));
    }
    assert!(expected.is_empty(), "every pending read completed");
    let pairs: FasterKv<u64, [u8; 2]> = small();
    let mut p = pairs.session().unwrap();
    p.upsert(&1, &[7, 9]).unwrap();
    assert_eq!(p.read(&1).unwrap(), Some([7, 9]));
    assert_eq!(
        p.rmw(&1, |v: Option<&[u8; 2]>| v.map_or([0, 0], |v| [v[1], v[0]]))
            .unwrap(),
        Some([9, 7])
    );
    assert_eq!(p.read(&1).unwrap(), Some([9, 7]));
    assert_eq!(p.read(&2).unwrap(), None);
}

#[test]
fn byte_strings_and_serde_values() {
    let store: FasterKv<[u8], [u8]> = small();
    let mut s = store.session().unwrap();
    s.upsert(b"alpha", b"one").unwrap();
    s.upsert(b"beta", &[7u8; 300]).unwrap();
    assert_eq!(s.read(b"alpha").unwrap(), Some(b"one".to_vec()));
    s.upsert(b"alpha", b"uno").unwrap(); // same length: in place
    assert_eq!(s.read(b"alpha").unwrap(), Some(b"uno".to_vec()));
    s.upsert(b"alpha", b"eins, zwei").unwrap(); // longer: copy
    assert_eq!(s.read(b"alpha").unwrap(), Some(b"eins, zwei".to_vec()));
    assert_eq!(s.read(b"beta").unwrap(), Some(vec![7u8; 300]));

    let store: FasterKv<str, Serde<(String, u32)>> = small();
    let mut s = store.session().unwrap();
    s.upsert("k", &Serde(("v".into(), 3))).unwrap();
    assert_eq!(s.read("k").unwrap(), Some(Serde(("v".into(), 3))));
}

#[test]
fn pending_reads_complete_through_the_queue() {
    let store: FasterKv<u64, u64> = small();
    let mut s = store.session().unwrap();
    for k in 0..5_000u64 {
        s.upsert(&k, &k).unwrap();
    }
    let mut pending = Vec::new();
    for k in 0..100u64 {
        match s.start_read(&k).unwrap() {
            Outcome::Ready(v) => assert_eq!(v, Some(k)),
            Outcome::Pending(serial) => pending.push((serial, k)),
        }
    }
    assert!(!pending.is_empty(), "old keys are on the device");
    let done = s.complete_pending(true);
    assert_eq!(done.len(), pending.len());
    for c in done {
        let k = pending
            .iter()
            .find(|(serial, _)| *serial == c.serial)
            .unwrap()
            .1;
        assert_eq!(c.result.unwrap(), faster_kv::Completed::Read(Some(k)));
    }
    assert_eq!(s.pending_count(), 0);
}

#[test]
fn batched_reads_return_what_single_reads_return() {
    let store: FasterKv<u64, u64> = small();
    let mut s = store.session().unwrap();
    for k in 0..5_000u64 {
        s.upsert(&k, &(k ^ 0x55)).unwrap();
    }
    let keys: Vec<u64> = (0..6_000u64).map(|i| (i * 7919) % 6_000).collect();
    let refs: Vec<&u64> = keys.iter().collect();
    let mut got = Vec::new();
    s.pin().read_batch(&refs, &mut got).unwrap();
    assert_eq!(got.len(), keys.len());
    for (k, v) in keys.iter().zip(&got) {
        assert_eq!(*v, (*k < 5_000).then_some(k ^ 0x55), "key {k}");
    }
}

#[test]
fn prefetch_hints_change_no_result_for_memory_disk_or_absent_keys() {
    let store: FasterKv<u64, u64> = small();
    let mut s = store.session().unwrap();
    for k in 0..5_000u64 {
        s.upsert(&k, &(k + 1)).unwrap();
    }
    let mut p = s.pin();
    // Keys on the device (the early ones), in memory (the late ones) and absent.
    for k in (0..6_000u64).step_by(7) {
        p.prefetch_bucket(&k).unwrap();
        p.prefetch_record(&k).unwrap();
        assert_eq!(p.read(&k).unwrap(), (k < 5_000).then_some(k + 1), "key {k}");
        p.prefetch_record(&(k + 1)).unwrap();
        p.upsert(&k, &(k + 2)).unwrap();
        assert_eq!(p.read(&k).unwrap(), Some(k + 2), "key {k}");
    }
    drop(p);
    assert_eq!(
        store.stats().reads,
        2 * 6_000_u64.div_ceil(7),
        "hints are not reads"
    );
}

#[test]
fn stats_count_operations_and_report_regions_and_index_fill() {
    let store: FasterKv<u64, u64> = small();
    let mut s = store.session().unwrap();
    for k in 0..300u64 {
        s.upsert(&k, &k).unwrap();
    }
    for k in 0..100u64 {
        s.read(&k).unwrap();
        s.add(&k, 1).unwrap();
    }
    s.delete(&1).unwrap();
    let stats = store.stats();
    assert_eq!(
        (stats.upserts, stats.reads, stats.rmws, stats.deletes),
        (300, 100, 100, 1)
    );
    assert_eq!(stats.reads_found, 100);
    assert_eq!(stats.live_sessions, 1);
    assert!(stats.regions.unwrap().tail.raw() > 300 * 24);
    let index = stats.index.unwrap();
    assert_eq!(index.used_entries, 300, "{index:?}");
    assert_eq!(index.buckets, 64);
    drop(s);
    assert_eq!(store.stats().live_sessions, 0);
    assert_eq!(store.stats().upserts, 300, "ended sessions still count");
}

#[test]
fn max_sessions_allows_exactly_that_many_live_sessions_and_names_the_setting() {
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .in_memory()
        .max_sessions(3)
        .open()
        .unwrap();
    let mut sessions: Vec<_> = (0..3).map(|_| store.session().unwrap()).collect();
    let err = store.session().unwrap_err();
    assert!(
        matches!(err, faster_kv::SessionError::TooMany { max_sessions: 3 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("max_sessions"), "{err}");
    // Operations still work with every session live; ending one makes room for one.
    for (i, s) in sessions.iter_mut().enumerate() {
        s.upsert(&(i as u64), &1).unwrap();
    }
    let ended = sessions.pop().unwrap().id();
    let (_again, serial) = store.continue_session(ended).unwrap();
    assert_eq!(serial.get(), 1);
    assert!(store.session().is_err());
}

#[test]
fn the_memory_the_store_keeps_is_reported_beside_the_budget_asked() {
    // 5 pages of 4 KiB asked: 4 kept (a power-of-two number of pages).
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .page_size_bits(12)
        .memory_budget(5 * 4096)
        .index_buckets(1 << 10)
        .auto_grow_index(false)
        .open()
        .unwrap();
    let memory = store.memory();
    assert_eq!(memory.log_budget, 5 * 4096);
    assert_eq!(memory.log_bytes, 4 * 4096);
    assert_eq!(memory.index_bytes, 64 << 10);
    // A budget of a power-of-two number of pages is kept whole.
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .page_size_bits(12)
        .memory_budget(8 * 4096)
        .open()
        .unwrap();
    assert_eq!(store.memory().log_bytes, 8 * 4096);
}
