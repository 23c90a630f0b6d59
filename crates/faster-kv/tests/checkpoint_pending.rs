//! Checkpoints and the advanced API: operations still waiting for the device when a
//! checkpoint changes version are excluded from the commit point, and finish in the next
//! version. Variable-length records survive snapshot and incremental recovery.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::Arc;

use faster_device::{Device, FaultDevice, FileDevice};
use faster_kv::{
    CheckpointOptions, Completed, FasterKv, FasterKvBuilder, LogCheckpointKind, Outcome, Serial,
};

/// The log on segment files in `dir/log` behind a fault device with nothing armed: it has no
/// page-cache path (`Device::read_cached`), so operations on the device go pending instead of
/// finishing from the page cache at once.
fn builder(dir: &std::path::Path) -> FasterKvBuilder {
    let files = FileDevice::builder(dir.join("log"))
        .segment_size(1 << 16)
        .open()
        .unwrap();
    let device: Arc<dyn Device> = Arc::new(FaultDevice::new(Arc::new(files)));
    FasterKv::builder()
        .device(device)
        .checkpoint_dir(dir.join("checkpoints"))
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .index_buckets(1 << 10)
}

#[test]
fn pending_operations_caught_by_a_checkpoint_are_excluded_and_finish_in_the_next_version() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = builder(dir.path()).open().unwrap();
    let mut s = store.session().unwrap();
    let id = s.id();
    for k in 0..2_000u64 {
        s.upsert(&k, &k).unwrap(); // serials 1..=2000
    }
    // Old keys are on the device now: these RMWs go pending.
    let mut pending = Vec::new();
    for k in 0..5u64 {
        match s
            .start_rmw(&k, |v: Option<&u64>| v.copied().unwrap_or(0) + 1_000)
            .unwrap()
        {
            Outcome::Pending(serial) => pending.push(serial),
            Outcome::Ready(_) => panic!("key {k} should be on the device"),
        }
    }
    let serials = |raw: &[u64]| raw.iter().copied().map(Serial::new).collect::<Vec<_>>();
    assert_eq!(pending, serials(&[2_001, 2_002, 2_003, 2_004, 2_005]));
    s.upsert(&9_999, &9_999).unwrap(); // serial 2006, completes at once
    // The session is idle with its RMWs pending while the checkpoint runs.
    let info = store.checkpoint().unwrap().wait().unwrap();
    let commit = info.sessions.iter().find(|c| c.id == id).unwrap();
    assert_eq!(commit.serial, Serial::new(2_006));
    assert_eq!(
        commit.excluded, pending,
        "pending operations are not in the checkpoint"
    );
    // They finish now, in the next version.
    let done = s.complete_pending(true);
    assert_eq!(done.len(), 5);
    for c in &done {
        assert!(
            matches!(c.result, Ok(Completed::Rmw(Some(v))) if v >= 1_000),
            "{c:?}"
        );
    }
    drop(s);
    drop(store);

    let (store, recovered) = builder(dir.path()).recover::<u64, u64>(None).unwrap();
    assert_eq!(
        recovered
            .sessions
            .iter()
            .find(|c| c.id == id)
            .unwrap()
            .excluded,
        pending
    );
    let mut s = store.session().unwrap();
    for k in 0..5u64 {
        assert_eq!(
            s.read(&k).unwrap(),
            Some(k),
            "the excluded RMW of {k} is not recovered"
        );
    }
    assert_eq!(s.read(&9_999).unwrap(), Some(9_999));
}

#[test]
fn variable_length_records_survive_snapshot_and_incremental_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<str, [u8]> = builder(dir.path()).checkpoint_retention(3).open().unwrap();
    let mut s = store.session().unwrap();
    let value = |k: u64, round: u64| -> Vec<u8> {
        (0..(k * 13 + round * 7) % 500)
            .map(|i| (i + k + round) as u8)
            .collect()
    };
    let mut expected: std::collections::BTreeMap<u64, Vec<u8>> = std::collections::BTreeMap::new();
    for (round, kind) in [
        LogCheckpointKind::Snapshot,
        LogCheckpointKind::IncrementalSnapshot,
        LogCheckpointKind::IncrementalSnapshot,
    ]
    .into_iter()
    .enumerate()
    {
        let round = round as u64;
        for k in 0..300u64 {
            // Same length as before for some keys (in place), other lengths for the rest.
            let v = if k % 3 == 0 && round > 0 {
                let mut v: Vec<u8> = expected[&k].clone();
                v.iter_mut().for_each(|b| *b ^= 0xff);
                v
            } else {
                value(k, round)
            };
            s.upsert(&format!("key-{k}"), &v).unwrap();
            expected.insert(k, v);
        }
        store
            .checkpoint_with(CheckpointOptions {
                log: kind,
                index: round == 0,
            })
            .unwrap()
            .wait()
            .unwrap();
    }
    for k in 0..50u64 {
        s.upsert(&format!("key-{k}"), b"after the last checkpoint")
            .unwrap();
    }
    drop(s);
    drop(store);
    let (store, _) = builder(dir.path()).recover::<str, [u8]>(None).unwrap();
    let mut s = store.session().unwrap();
    for (k, v) in &expected {
        assert_eq!(
            s.read(&format!("key-{k}")).unwrap().as_ref(),
            Some(v),
            "key {k}"
        );
    }
}
