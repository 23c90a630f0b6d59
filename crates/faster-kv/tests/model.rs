//! A state machine of upserts, reads, RMWs, deletes and conditional inserts against a
//! `HashMap` model, on stores whose memory budget is eight small pages — so most records are on
//! the device, and records pass through the mutable, the immutable in-memory and the on-device
//! regions — with few index buckets, so chains and overflow buckets are long.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::collections::HashMap;

use faster_kv::{FasterKv, Status};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Upsert(u8, u16),
    Read(u8),
    Rmw(u8, u16),
    Delete(u8),
    InsertIfAbsent(u8, u16),
    /// Many upserts of other keys, to push everything towards the device.
    Churn(u16),
    /// Compacts this percentage of the log between the begin and the tail.
    Compact(u8),
    /// Scans the live records and compares them with the model.
    Scan,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Upsert(k, v)),
        4 => any::<u8>().prop_map(Op::Read),
        3 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Rmw(k, v)),
        1 => any::<u8>().prop_map(Op::Delete),
        1 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::InsertIfAbsent(k, v)),
        2 => (0u16..600).prop_map(Op::Churn),
        1 => (1u8..=100).prop_map(Op::Compact),
        1 => Just(Op::Scan),
    ]
}

/// Eight 4 KiB frames, two of them mutable: behind the tail, two mutable pages, then four
/// immutable pages still in memory, then the device.
fn tiny<K: faster_kv::Codec + ?Sized, V: faster_kv::Codec + ?Sized>() -> FasterKv<K, V> {
    FasterKv::builder()
        .in_memory()
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .mutable_fraction(0.25)
        .index_buckets(8)
        .open()
        .unwrap()
}

/// A variable-length value derived from `seed`: 0 to 900 bytes, so records grow and shrink
/// and some take most of a 4 KiB page.
fn var_value(key: u8, seed: u16) -> Vec<u8> {
    let len = (usize::from(seed) * 7 + usize::from(key)) % 901;
    (0..len).map(|i| (i as u16 ^ seed) as u8 ^ key).collect()
}

const CHURN_KEY_BASE: u64 = 1 << 32;

/// Compacts `percent` of the log between its begin and its tail (scanning for an even
/// percentage, looking up with two threads for an odd one); the begin address moves forward
/// (to a page start at or below the asked address).
fn compact<K: faster_kv::Codec + ?Sized, V: faster_kv::Codec + ?Sized>(
    store: &FasterKv<K, V>,
    percent: u8,
) {
    let r = store.regions();
    let span = r.tail.raw() - r.begin.raw();
    let until = faster_kv::Address::new(r.begin.raw() + span * u64::from(percent) / 100).unwrap();
    let options = faster_kv::CompactOptions {
        kind: if percent.is_multiple_of(2) {
            faster_kv::CompactionKind::Scan
        } else {
            faster_kv::CompactionKind::Lookup
        },
        threads: 2,
    };
    let report = store.compact_with(until, options).unwrap();
    assert!(report.until <= until);
    assert_eq!(store.regions().begin, report.until.max(r.begin));
}

/// The store's live records, as a map (each key exactly once).
fn scanned<K, V>(store: &FasterKv<K, V>) -> HashMap<K::Owned, V::Owned>
where
    K: faster_kv::Codec + ?Sized,
    V: faster_kv::Codec + ?Sized,
    K::Owned: std::hash::Hash + Eq + std::fmt::Debug,
{
    let mut out = HashMap::new();
    for item in store.scan().unwrap() {
        let (k, v) = item.unwrap();
        let dup = out.insert(k, v);
        assert!(dup.is_none(), "a key came twice");
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn fixed_size_values_match_a_hashmap(ops in prop::collection::vec(op(), 1..200)) {
        let store: FasterKv<u64, u64> = tiny();
        let mut s = store.session().unwrap();
        let mut model: HashMap<u64, u64> = HashMap::new();
        let mut churn = CHURN_KEY_BASE;
        for op in ops {
            match op {
                Op::Upsert(k, v) => {
                    s.upsert(&u64::from(k), &u64::from(v)).unwrap();
                    model.insert(u64::from(k), u64::from(v));
                }
                Op::Read(k) => {
                    prop_assert_eq!(s.read(&u64::from(k)).unwrap(), model.get(&u64::from(k)).copied());
                }
                Op::Rmw(k, v) => {
                    let stored = s.rmw(&u64::from(k), |old: Option<&u64>| old.copied().unwrap_or(1_000_000) + u64::from(v)).unwrap();
                    let expected = model.get(&u64::from(k)).copied().unwrap_or(1_000_000) + u64::from(v);
                    prop_assert_eq!(stored, Some(expected));
                    model.insert(u64::from(k), expected);
                }
                Op::Delete(k) => {
                    let status = s.delete(&u64::from(k)).unwrap();
                    if model.remove(&u64::from(k)).is_some() {
                        prop_assert_eq!(status, Status::Found);
                    }
                }
                Op::InsertIfAbsent(k, v) => {
                    let inserted = s.insert_if_absent(&u64::from(k), &u64::from(v)).unwrap();
                    prop_assert_eq!(inserted, !model.contains_key(&u64::from(k)));
                    model.entry(u64::from(k)).or_insert(u64::from(v));
                }
                Op::Churn(n) => {
                    for _ in 0..n {
                        s.upsert(&churn, &churn).unwrap();
                        model.insert(churn, churn);
                        churn += 1;
                    }
                }
                Op::Compact(percent) => compact(&store, percent),
                Op::Scan => prop_assert_eq!(&scanned(&store), &model),
            }
        }
        for (k, v) in &model {
            prop_assert_eq!(s.read(k).unwrap(), Some(*v), "key {}", k);
        }
        prop_assert_eq!(&scanned(&store), &model);
    }

    #[test]
    fn variable_length_values_match_a_hashmap(ops in prop::collection::vec(op(), 1..120)) {
        let store: FasterKv<[u8], [u8]> = tiny();
        let mut s = store.session().unwrap();
        let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let mut churn = 0u32;
        for op in ops {
            match op {
                Op::Upsert(k, v) => {
                    let value = var_value(k, v);
                    s.upsert(&[k], &value).unwrap();
                    model.insert(vec![k], value);
                }
                Op::Read(k) => {
                    prop_assert_eq!(s.read(&[k]).unwrap(), model.get(&vec![k]).cloned());
                }
                Op::Rmw(k, v) => {
                    // Append a few bytes, or start over when it grows long: values grow and
                    // shrink, crossing between in-place and copy updates.
                    let update = |old: Option<&[u8]>| -> Vec<u8> {
                        match old {
                            Some(old) if old.len() < 600 => {
                                let mut new = old.to_vec();
                                new.extend_from_slice(&v.to_le_bytes());
                                new
                            }
                            _ => {
                                let fresh = var_value(k, v);
                                fresh[..fresh.len().min(usize::from(v) % 50)].to_vec()
                            }
                        }
                    };
                    let expected = update(model.get(&vec![k]).map(Vec::as_slice));
                    let stored = s.rmw(&[k], update).unwrap();
                    prop_assert_eq!(stored.as_ref(), Some(&expected));
                    model.insert(vec![k], expected);
                }
                Op::Delete(k) => {
                    let status = s.delete(&[k]).unwrap();
                    if model.remove(&vec![k]).is_some() {
                        prop_assert_eq!(status, Status::Found);
                    }
                }
                Op::InsertIfAbsent(k, v) => {
                    let value = var_value(k, v);
                    let inserted = s.insert_if_absent(&[k], &value).unwrap();
                    prop_assert_eq!(inserted, !model.contains_key(&vec![k]));
                    model.entry(vec![k]).or_insert(value);
                }
                Op::Churn(n) => {
                    for _ in 0..n / 4 {
                        let key = [b"churn".as_slice(), &churn.to_le_bytes()].concat();
                        let value = var_value(churn as u8, churn as u16);
                        s.upsert(&key, &value).unwrap();
                        model.insert(key, value);
                        churn += 1;
                    }
                }
                Op::Compact(percent) => compact(&store, percent),
                Op::Scan => prop_assert_eq!(&scanned(&store), &model),
            }
        }
        for (k, v) in &model {
            let got = s.read(k).unwrap();
            prop_assert_eq!(got.as_ref(), Some(v));
        }
        prop_assert_eq!(&scanned(&store), &model);
    }
}
