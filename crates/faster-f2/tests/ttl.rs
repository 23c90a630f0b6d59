//! Values with an expiry in F2: an expired value is absent whichever store holds it, an
//! expired hot record hides the key's older cold value (it migrates as a tombstone), an RMW
//! of an expired cold value starts from nothing, and cold compaction drops expired values.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::time::Duration;

use common::tiny;
use faster_f2::F2Kv;
use faster_kv::{Expiring, now_millis};

type Store = F2Kv<u64, Expiring<[u8]>>;

const KEYS: u64 = 3_000;

fn next_year() -> u64 {
    now_millis() + 365 * 24 * 3600 * 1000
}

fn bytes(k: u64, round: u64) -> Vec<u8> {
    format!("value {k} round {round}").into_bytes()
}

fn migrate_all(store: &Store) -> u64 {
    store.migrate(store.hot().regions().tail).unwrap()
}

#[test]
fn expired_values_are_absent_in_the_hot_and_the_cold_store() {
    let tmp = tempfile::tempdir().unwrap();
    // The background thread stays asleep: the test moves keys itself.
    let store: Store = tiny(tmp.path())
        .check_every(Duration::from_secs(3600))
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    let later = next_year();
    // Every key live and cold first.
    for k in 0..KEYS {
        s.upsert(&k, &Expiring::at(bytes(k, 0), later)).unwrap();
    }
    assert!(migrate_all(&store) > 0);
    // Then: keys k % 3 == 1 get an expired hot record over their live cold one; keys
    // k % 3 == 2 get one that expires in 2 s.
    let soon = now_millis() + 2_000;
    for k in 0..KEYS {
        match k % 3 {
            1 => s.upsert(&k, &Expiring::at(bytes(k, 1), 1)).unwrap(),
            2 => s.upsert(&k, &Expiring::at(bytes(k, 1), soon)).unwrap(),
            _ => {}
        }
    }
    // Expired fillers push those records out of the hot log's mutable region, so that the
    // next migration moves every one of them.
    for k in KEYS..3 * KEYS {
        s.upsert(&k, &Expiring::at(bytes(k, 0), 1)).unwrap();
    }
    // Keys k % 3 == 2 must be there when read before `soon` and gone when read after it (a
    // loaded machine may reach `soon` during any check).
    let check = |s: &mut faster_f2::F2Session<u64, Expiring<[u8]>>| {
        for k in 0..KEYS {
            let before = now_millis();
            let got = s.read(&k).unwrap();
            let after = now_millis();
            match k % 3 {
                0 => assert_eq!(got.unwrap().value, bytes(k, 0), "key {k}"),
                1 => assert_eq!(got, None, "key {k}: the cold value came back"),
                _ if before >= soon => assert_eq!(got, None, "key {k}"),
                _ if after < soon => assert_eq!(got.unwrap().value, bytes(k, 1), "key {k}"),
                _ => {}
            }
        }
    };
    check(&mut s);
    // The expired hot records migrate, as tombstones, over the cold values they hide.
    assert!(migrate_all(&store) > 0);
    check(&mut s);
    while now_millis() <= soon {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Now keys k % 3 == 2 have expired in the cold store.
    check(&mut s);
    // An RMW of an expired cold value starts from nothing.
    let stored = s
        .rmw(&2, |old: Option<&Expiring<[u8]>>| {
            assert!(old.is_none(), "the RMW saw {old:?}");
            Expiring::never(b"fresh".to_vec())
        })
        .unwrap()
        .unwrap();
    assert_eq!(stored, Expiring::never(b"fresh".to_vec()));
    assert_eq!(s.read(&2).unwrap().unwrap().value, b"fresh");
    // Cold compaction keeps only the live third: the expired values and the tombstones of
    // the expired hot records (fillers included) go.
    let (_, tail) = store.cold_log_range();
    let kept = store.compact_cold(tail).unwrap();
    assert_eq!(kept, KEYS / 3, "records kept by cold compaction");
    s.upsert(&2, &Expiring::at(bytes(2, 1), 1)).unwrap();
    check(&mut s);
}
