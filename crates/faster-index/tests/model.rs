//! Model-based test: random sequences of upserts, lookups, deletes, lone creations, growths,
//! log truncations with garbage collection, head moves and snapshot round trips, checked after
//! every step against a `HashMap` oracle of each key's newest record address. Keys collide in
//! bucket and in tag on tiny tables, so overflow buckets, shared entries and the growth's
//! trace-back all get exercised.
#![allow(
    clippy::unwrap_used,
    reason = "helpers of these tests unwrap what the test itself set up"
)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{TestLog, at, hash_with_tag};
use faster_device::MemDevice;
use faster_epoch::Epoch;
use faster_index::{Address, HashIndex, IndexConfig, KeyHash};
use proptest::prelude::*;

const KEYS: usize = 40;
const TAGS: u16 = 9;
const MAX_BUCKETS: u64 = 64;

#[derive(Debug, Clone)]
enum Op {
    Upsert(usize),
    Find(usize),
    Delete(usize),
    CreateOnly(usize),
    Grow,
    /// Truncate the log at this fraction (per mille) of the way from begin to tail.
    Truncate(u16),
    /// Move the head (records below it resolve as "on the device") to this fraction.
    MoveHead(u16),
    Snapshot,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..KEYS).prop_map(Op::Upsert),
        3 => (0..KEYS).prop_map(Op::Find),
        2 => (0..KEYS).prop_map(Op::Delete),
        1 => (0..KEYS).prop_map(Op::CreateOnly),
        1 => Just(Op::Grow),
        1 => (0..1000u16).prop_map(Op::Truncate),
        1 => (0..1000u16).prop_map(Op::MoveHead),
        1 => Just(Op::Snapshot),
    ]
}

fn keys() -> Vec<KeyHash> {
    (0..KEYS as u64)
        .map(|k| hash_with_tag(k, (k % u64::from(TAGS)) as u16))
        .collect()
}

fn between(log: &TestLog, per_mille: u16) -> Address {
    let (begin, tail) = (log.begin().raw(), log.tail_address().raw());
    let span = tail.saturating_sub(begin);
    let raw = begin + span * u64::from(per_mille) / 1000;
    at(raw - (raw - common::FIRST_ADDRESS) % 8)
}

fn run(size_bits: u32, ops: Vec<Op>) {
    let keys = keys();
    let epoch = Epoch::new();
    let handle = epoch.register().unwrap();
    let log = TestLog::with_capacity(ops.len() * 4 + 16);
    let device = MemDevice::new();
    let mut index = HashIndex::new(
        IndexConfig::default().table_size_bits(size_bits),
        Arc::clone(&epoch),
    )
    .unwrap();
    let mut oracle: HashMap<usize, Address> = HashMap::new();

    for op in ops {
        let mut guard = handle.protect();
        let buckets = index.buckets(&guard);
        match op {
            Op::Upsert(k) => {
                let address = log.upsert(&index, keys[k], &guard).unwrap();
                oracle.insert(k, address);
            }
            Op::Find(k) => {
                assert_eq!(
                    log.lookup(&index, keys[k], &guard).unwrap(),
                    oracle.get(&k).copied()
                );
            }
            Op::Delete(k) => {
                if let Some(slot) = index.find(keys[k], &guard).unwrap() {
                    assert!(
                        slot.delete_if(slot.address()),
                        "nobody else changes the entry"
                    );
                    let (bucket, tag) = (keys[k].0 & (buckets - 1), keys[k].tag());
                    oracle.retain(|&other, _| {
                        let h = keys[other];
                        h.0 & (buckets - 1) != bucket || h.tag() != tag
                    });
                }
            }
            Op::CreateOnly(k) => {
                let slot = index.find_or_create(keys[k], &guard).unwrap();
                assert_eq!(slot.tag(), keys[k].tag());
            }
            Op::Grow => {
                if buckets < MAX_BUCKETS {
                    let before = index.stats(&guard).tables_freed;
                    let grown = index.grow(&mut guard, log.resolver()).unwrap();
                    assert_eq!(grown, buckets * 2);
                    assert_eq!(index.stats(&guard).tables_freed, before + 1);
                }
            }
            Op::Truncate(per_mille) => {
                let begin = between(&log, per_mille);
                log.set_begin(begin);
                index.garbage_collect(begin, &guard).unwrap();
                oracle.retain(|_, &mut address| address >= begin);
            }
            Op::MoveHead(per_mille) => log.set_head(between(&log, per_mille)),
            Op::Snapshot => {
                let info = index.write_snapshot(&device, 4096, &guard).unwrap();
                assert_eq!(info.buckets, buckets);
                drop(guard);
                index = HashIndex::read_snapshot(&device, 4096, Arc::clone(&epoch)).unwrap();
                guard = handle.protect();
            }
        }
        index.check_invariants(&guard).unwrap();
        for (k, &hash) in keys.iter().enumerate() {
            assert_eq!(
                log.lookup(&index, hash, &guard).unwrap(),
                oracle.get(&k).copied(),
                "key {k} after {op:?}"
            );
        }
    }
}

proptest! {
    // 64 cases by default; `PROPTEST_CASES` asks for more.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn index_matches_a_hashmap_oracle_through_growth_gc_and_snapshots(
        size_bits in 0u32..=2,
        ops in prop::collection::vec(op(), 1..120),
    ) {
        run(size_bits, ops);
    }
}

/// A fixed sequence that overflows a one-bucket table, grows it twice with part of the log on
/// the device, and takes a snapshot: the oracle must hold at each step.
#[test]
fn overflowing_chains_survive_growth_with_records_on_the_device() {
    let mut ops = Vec::new();
    for k in 0..KEYS {
        ops.push(Op::Upsert(k));
    }
    ops.push(Op::MoveHead(300));
    ops.push(Op::Grow);
    for k in (0..KEYS).step_by(3) {
        ops.push(Op::Upsert(k));
    }
    ops.push(Op::Grow);
    ops.push(Op::Snapshot);
    ops.push(Op::Truncate(500));
    ops.push(Op::Grow);
    run(0, ops);
}
