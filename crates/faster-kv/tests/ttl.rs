//! Values with an expiry (`Expiring<V>`): expired records read as absent wherever the store
//! finds them (memory, read cache, device, pending and async operations), RMWs start again
//! from nothing, the scan skips them, compaction drops them, and expiries survive
//! checkpoints, recovery and a reopen after a crash.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use faster_kv::{CompactOptions, CompactionKind, Expiring, FasterKv, Status, now_millis};

type Store = FasterKv<u64, Expiring<[u8]>>;

/// Far enough ahead that no test run reaches it.
fn next_year() -> u64 {
    now_millis() + 365 * 24 * 3600 * 1000
}

/// A value of key `k`, `len` bytes.
fn value(k: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (k as u8).wrapping_add(i as u8)).collect()
}

/// Writes `n` keys: even keys expire next year, odd keys expired in 1970 (at 1 ms).
fn write_half_expired(store: &Store, n: u64) {
    let mut s = store.session().unwrap();
    let later = next_year();
    for k in 0..n {
        let at = if k % 2 == 0 { later } else { 1 };
        s.upsert(&k, &Expiring::at(value(k, 40), at)).unwrap();
    }
}

/// Checks every key of [`write_half_expired`] with blocking reads.
fn check_half_expired(store: &Store, n: u64) {
    let mut s = store.session().unwrap();
    for k in 0..n {
        let got = s.read(&k).unwrap();
        if k % 2 == 0 {
            let got = got.unwrap_or_else(|| panic!("live key {k} missing"));
            assert_eq!(got.value, value(k, 40), "key {k}");
            assert!(got.expires_at.unwrap() > now_millis(), "key {k}");
        } else {
            assert!(got.is_none(), "expired key {k} read back: {got:?}");
        }
    }
}

#[test]
fn expired_values_read_as_absent_in_memory_and_on_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let store: Store = common::small_in(dir.path()).open().unwrap();
    // 2,000 records of 64 bytes and more against 32 KiB of memory: most are on the device.
    write_half_expired(&store, 2_000);
    assert!(store.regions().head.raw() > store.regions().begin.raw() + (64 << 10));
    check_half_expired(&store, 2_000);
}

#[test]
fn a_value_expires_while_the_store_runs() {
    let store: FasterKv<str, Expiring<str>> = FasterKv::builder().in_memory().open().unwrap();
    let mut s = store.session().unwrap();
    s.upsert(
        "short",
        &Expiring::after("soon gone".into(), Duration::from_millis(1500)),
    )
    .unwrap();
    s.upsert(
        "long",
        &Expiring::after("stays".into(), Duration::from_secs(3600)),
    )
    .unwrap();
    s.upsert("forever", &Expiring::never("always".into()))
        .unwrap();
    let short = s.read("short").unwrap().unwrap();
    assert_eq!(short.value, "soon gone");
    assert!(short.remaining().unwrap() <= Duration::from_millis(1500));
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(s.read("short").unwrap(), None);
    assert_eq!(s.read("long").unwrap().unwrap().value, "stays");
    assert_eq!(s.read("forever").unwrap().unwrap().expires_at, None);
}

#[test]
fn pending_and_async_reads_of_expired_records_on_the_device_find_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store: Store = common::small_in(dir.path()).open().unwrap();
    write_half_expired(&store, 2_000);
    let session = store.session().unwrap().into_async();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let async_found = runtime.block_on(async {
        let mut found = HashMap::new();
        for k in 0..200u64 {
            found.insert(k, session.read(&k).await.unwrap().is_some());
        }
        found
    });
    for (k, present) in async_found {
        assert_eq!(present, k % 2 == 0, "async read of key {k}");
    }
    drop(session);
    let mut s = store.session().unwrap();
    let mut pinned = s.pin();
    let mut serials = HashMap::new();
    let mut results = HashMap::new();
    for k in 0..200u64 {
        match pinned.start_read(&k).unwrap() {
            faster_kv::Outcome::Ready(v) => {
                results.insert(k, v.is_some());
            }
            faster_kv::Outcome::Pending(serial) => {
                serials.insert(serial, k);
            }
        }
    }
    for done in pinned.complete_pending(true) {
        let k = serials[&done.serial];
        let faster_kv::Completed::Read(v) = done.result.unwrap() else {
            panic!("a read completed as something else");
        };
        results.insert(k, v.is_some());
    }
    assert_eq!(results.len(), 200);
    for (k, present) in results {
        assert_eq!(present, k % 2 == 0, "pending read of key {k}");
    }
}

#[test]
fn an_rmw_of_an_expired_value_starts_from_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store: Store = common::small_in(dir.path()).open().unwrap();
    write_half_expired(&store, 2_000);
    let mut s = store.session().unwrap();
    // In memory (the last keys written) and on the device (the first ones).
    for k in [1u64, 3, 1_997, 1_999, 0, 1_998] {
        let mut saw = None;
        let stored = s
            .rmw(&k, |old: Option<&Expiring<[u8]>>| {
                saw = Some(old.map(|o| o.value.clone()));
                let mut new = old.map_or_else(Vec::new, |o| o.value.clone());
                new.push(b'+');
                // An RMW keeps the expiry it found.
                Expiring {
                    value: new,
                    expires_at: old.and_then(|o| o.expires_at),
                }
            })
            .unwrap()
            .unwrap();
        if k % 2 == 1 {
            assert_eq!(saw, Some(None), "key {k}: the expired value was handed on");
            assert_eq!(stored, Expiring::never(b"+".to_vec()));
        } else {
            let mut expected = value(k, 40);
            assert_eq!(saw, Some(Some(expected.clone())), "key {k}");
            expected.push(b'+');
            assert_eq!(stored.value, expected);
        }
        assert_eq!(s.read(&k).unwrap().unwrap(), stored);
    }
    // A conditional insert treats an expired key as absent, a live one as present.
    assert!(
        s.insert_if_absent(&5, &Expiring::never(b"new".to_vec()))
            .unwrap()
    );
    assert!(
        !s.insert_if_absent(&6, &Expiring::never(b"new".to_vec()))
            .unwrap()
    );
    assert_eq!(s.read(&5).unwrap().unwrap().value, b"new");
    // Compare-and-swap against "absent" succeeds on an expired key.
    assert!(
        s.compare_and_swap(&7, None, &Expiring::never(b"cas".to_vec()))
            .unwrap()
    );
    assert_eq!(s.read(&7).unwrap().unwrap().value, b"cas");
}

#[test]
fn the_scan_skips_expired_values_and_compaction_drops_them() {
    let dir = tempfile::tempdir().unwrap();
    let store: Store = common::small_in(dir.path()).open().unwrap();
    write_half_expired(&store, 2_000);
    let scanned: Vec<u64> = store.scan().unwrap().map(|r| r.unwrap().0).collect();
    assert_eq!(scanned.len(), 1_000);
    assert!(
        scanned.iter().all(|k| k % 2 == 0),
        "an expired key was scanned"
    );
    for kind in [CompactionKind::Lookup, CompactionKind::Scan] {
        let until = store.regions().read_only;
        let report = store
            .compact_with(until, CompactOptions { kind, threads: 2 })
            .unwrap();
        // Only live records are copied: never one of the expired half.
        assert!(
            report.copied <= 1_000,
            "{kind:?} copied {} records",
            report.copied
        );
        check_half_expired(&store, 2_000);
    }
    let scanned = store.scan().unwrap().count();
    assert_eq!(scanned, 1_000);
}

#[test]
fn expiries_survive_a_checkpoint_and_recovery_and_later_writes_are_not_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let later = next_year();
    {
        let store: Store = common::small_in(dir.path())
            .checkpoint_on_close(false)
            .open()
            .unwrap();
        write_half_expired(&store, 2_000);
        let mut s = store.session().unwrap();
        s.upsert(&10_000, &Expiring::at(b"kept".to_vec(), later))
            .unwrap();
        s.upsert(
            &10_001,
            &Expiring::after(b"brief".to_vec(), Duration::from_millis(200)),
        )
        .unwrap();
        drop(s);
        store
            .checkpoint_with(common::FOLD_OVER)
            .unwrap()
            .wait()
            .unwrap();
        // After the checkpoint: not durable, must not come back.
        let mut s = store.session().unwrap();
        s.upsert(&10_002, &Expiring::never(b"lost".to_vec()))
            .unwrap();
        assert_eq!(s.delete(&10_000).unwrap(), Status::Found);
        drop(s);
        // As after a crash: no closing checkpoint.
        drop(store);
    }
    std::thread::sleep(Duration::from_millis(250));
    let store: Store = common::small_in(dir.path()).open().unwrap();
    check_half_expired(&store, 2_000);
    let mut s = store.session().unwrap();
    let kept = s.read(&10_000).unwrap().unwrap();
    assert_eq!(kept, Expiring::at(b"kept".to_vec(), later));
    assert_eq!(
        s.read(&10_001).unwrap(),
        None,
        "expired while the store was down"
    );
    assert_eq!(
        s.read(&10_002).unwrap(),
        None,
        "written after the checkpoint"
    );
}

#[test]
fn a_store_of_expiring_values_is_not_opened_as_plain_bytes_or_the_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let store: Store = common::small_in(dir.path()).open().unwrap();
    write_half_expired(&store, 10);
    store.close().unwrap();
    let err = common::small_in(dir.path())
        .open::<u64, [u8]>()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("expiring"), "{err}");
    let plain = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, [u8]> = common::small_in(plain.path()).open().unwrap();
    store
        .session()
        .unwrap()
        .upsert(&1, b"x".as_slice())
        .unwrap();
    store.close().unwrap();
    let err = common::small_in(plain.path())
        .open::<u64, Expiring<[u8]>>()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("bytes"), "{err}");
}
