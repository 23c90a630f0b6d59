//! Checkpoints taken while sessions keep writing recover a prefix of every session's
//! operations (CPR), for every checkpoint kind, in memory and ten times larger than memory.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod cpr_common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpr_common::{check_prefix, run_op};
use faster_kv::{
    CheckpointOptions, CheckpointToken, FasterKv, FasterKvBuilder, LogCheckpointKind, Serial,
    SessionId,
};

fn builder(dir: &Path, memory_pages: u64) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir)
        .page_size_bits(14)
        .memory_budget(memory_pages << 14)
        .mutable_fraction(0.5)
        .segment_size(1 << 20)
        .index_buckets(1 << 12)
}

/// Takes a checkpoint and waits until it is durable.
fn checkpoint(
    store: &FasterKv<u64, u64>,
    log: LogCheckpointKind,
    index: bool,
) -> faster_kv::CheckpointInfo {
    store
        .checkpoint_with(CheckpointOptions { log, index })
        .unwrap()
        .wait()
        .unwrap()
}

/// Sessions write while checkpoints of `kind` run back to back; the store is then dropped
/// (no final checkpoint) and recovered. Returns the number of checkpoints taken.
fn checkpoint_under_load(memory_pages: u64, kinds: &[LogCheckpointKind], writers: u64) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = builder(dir.path(), memory_pages).open().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let ran: Arc<Mutex<HashMap<u64, u64>>> = Arc::default();
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let (store, stop, ran) = (store.clone(), Arc::clone(&stop), Arc::clone(&ran));
            std::thread::spawn(move || {
                let mut session = store.session().unwrap();
                let id = session.id().get();
                let mut serial = 0;
                while !stop.load(Ordering::Relaxed) && serial < 200_000 {
                    // Writer 0 keeps its session pinned for batches; the others protect per
                    // operation.
                    let batch = if w == 0 { 100 } else { 1 };
                    let mut pinned = session.pin();
                    for _ in 0..batch {
                        serial += 1;
                        run_op(&mut pinned, id, serial);
                    }
                }
                assert_eq!(session.serial(), Serial::new(serial));
                ran.lock().unwrap().insert(id, serial);
            })
        })
        .collect();
    let mut taken = 0;
    for (i, &kind) in kinds.iter().enumerate() {
        std::thread::sleep(Duration::from_millis(20));
        let handle = store
            .checkpoint_with(CheckpointOptions {
                log: kind,
                index: i % 2 == 0,
            })
            .unwrap();
        let info = handle.wait().unwrap();
        assert_eq!(info.token, handle.token());
        taken += 1;
    }
    // Let the writers run on past the last checkpoint: those operations must not come back.
    std::thread::sleep(Duration::from_millis(20));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let version = store.version();
    drop(store);

    let (recovered, info) = builder(dir.path(), memory_pages)
        .recover::<u64, u64>(None)
        .unwrap();
    assert_eq!(
        info.version + 1,
        version,
        "the last checkpoint was recovered"
    );
    assert!(info.skipped.is_empty(), "{:?}", info.skipped);
    let ran = ran.lock().unwrap().clone();
    check_prefix(&recovered, &info.sessions, &ran);
    drop(recovered);
    no_live_record_of_the_next_version(dir.path(), info.token);
    taken
}

/// The recovered log holds no valid record of the version after the checkpoint: each was
/// marked invalid (header bit 49) by recovery. Read from the closed store's segment files:
/// records of this store are 24 bytes (header, key, value; docs/formats.md), bit 50 is
/// in-new-version, a zero header ends a page.
fn no_live_record_of_the_next_version(dir: &Path, token: CheckpointToken) {
    use faster_device::DeviceExt;
    let meta = faster_cpr::CheckpointDir::open(dir.join("checkpoints"))
        .unwrap()
        .read(token)
        .unwrap();
    let log_meta = meta.log.unwrap();
    let device = faster_device::FileDevice::builder(dir)
        .prefix("log")
        .segment_size(1 << 20)
        .open()
        .unwrap();
    const PAGE: u64 = 1 << 14;
    let first_page = log_meta.start / PAGE * PAGE;
    let len = (log_meta.final_address.div_ceil(PAGE) * PAGE - first_page) as usize;
    let mut bytes = faster_device::AlignedBuf::zeroed(len);
    device.read_blocking(first_page, &mut bytes).unwrap();
    let mut address = log_meta.start;
    let mut checked = 0;
    while address + 24 <= log_meta.final_address {
        let at = (address - first_page) as usize;
        let header = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        if header == 0 {
            address = (address / PAGE + 1) * PAGE;
            continue;
        }
        if header & (1 << 50) != 0 {
            assert_ne!(
                header & (1 << 49),
                0,
                "record at {address:#x} of the next version is live"
            );
        }
        checked += 1;
        address += 24;
    }
    assert!(
        checked > 0 || log_meta.start == log_meta.final_address,
        "no record checked"
    );
}

#[test]
fn fold_over_checkpoints_under_load_recover_a_prefix_of_every_session() {
    checkpoint_under_load(64, &[LogCheckpointKind::FoldOver; 4], 3);
}

#[test]
fn snapshot_and_incremental_checkpoints_under_load_recover_a_prefix_of_every_session() {
    use LogCheckpointKind::*;
    checkpoint_under_load(
        64,
        &[
            Snapshot,
            IncrementalSnapshot,
            IncrementalSnapshot,
            Snapshot,
            IncrementalSnapshot,
        ],
        3,
    );
}

#[test]
fn checkpoints_of_a_store_ten_times_larger_than_memory_recover_a_prefix() {
    use LogCheckpointKind::*;
    checkpoint_under_load(4, &[FoldOver, Snapshot, IncrementalSnapshot, FoldOver], 2);
}

#[test]
fn a_recovered_session_continues_from_its_commit_point() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = builder(dir.path(), 16).open().unwrap();
    let mut s = store.session().unwrap();
    let id = s.id();
    for serial in 1..=100 {
        run_op(&mut s.pin(), id.get(), serial);
    }
    store.checkpoint().unwrap().wait().unwrap();
    for serial in 101..=150 {
        run_op(&mut s.pin(), id.get(), serial);
    }
    drop(s);
    drop(store);

    let (store, info) = builder(dir.path(), 16).recover::<u64, u64>(None).unwrap();
    let commit = info.sessions.iter().find(|c| c.id == id).unwrap();
    assert_eq!(commit.serial, Serial::new(100));
    let (mut s, serial) = store.continue_session(id).unwrap();
    assert_eq!(serial, Serial::new(100));
    assert_eq!(s.id(), id);
    // Replay what was lost, then go on: the store ends as if nothing happened.
    for serial in 101..=150 {
        run_op(&mut s.pin(), id.get(), serial);
    }
    assert_eq!(s.serial(), Serial::new(150));
    check_prefix(
        &store,
        &[faster_kv::SessionCommit {
            id,
            serial: Serial::new(150),
            excluded: vec![],
        }],
        &HashMap::from([(id.get(), 150)]),
    );
    assert!(
        store.continue_session(id).is_err(),
        "a live session cannot be continued twice"
    );
}

#[test]
fn an_idle_session_does_not_stall_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = builder(dir.path(), 16).open().unwrap();
    let mut idle = store.session().unwrap();
    idle.upsert(&1, &1).unwrap();
    // `idle` stays alive and never runs another operation.
    let info = store
        .checkpoint()
        .unwrap()
        .wait_timeout(Duration::from_secs(20));
    let info = info.expect("the checkpoint finished").unwrap();
    let commit = info.sessions.iter().find(|c| c.id == idle.id()).unwrap();
    assert_eq!(commit.serial, Serial::new(1));
    // A pinned session that refreshes does not stall it either.
    let mut busy = store.session().unwrap();
    let handle = store.checkpoint().unwrap();
    let mut pinned = busy.pin();
    let mut n = 0;
    while !handle.is_finished() {
        n += 1;
        pinned.upsert(&(1000 + n % 10), &n).unwrap();
    }
    drop(pinned);
    handle.wait().unwrap();
    drop(idle);
}

#[test]
fn in_memory_stores_need_a_checkpoint_directory() {
    let store: FasterKv<u64, u64> = FasterKv::builder().in_memory().open().unwrap();
    assert!(matches!(
        store.checkpoint(),
        Err(faster_kv::CheckpointError::NoCheckpointDir)
    ));
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .in_memory()
        .checkpoint_dir(dir.path())
        .open()
        .unwrap();
    store.session().unwrap().upsert(&1, &2).unwrap();
    store.checkpoint().unwrap().wait().unwrap();
}

#[test]
fn retention_keeps_the_newest_checkpoints_and_what_they_need() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = builder(dir.path(), 16)
        .checkpoint_retention(2)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    let mut tokens = Vec::new();
    for round in 0..5u64 {
        s.upsert(&round, &round).unwrap();
        let options = CheckpointOptions {
            log: LogCheckpointKind::FoldOver,
            index: round == 0,
        };
        tokens.push(
            store
                .checkpoint_with(options)
                .unwrap()
                .wait()
                .unwrap()
                .token,
        );
    }
    let root = dir.path().join("checkpoints");
    let mut left: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    // The two newest, and the first one whose index snapshot they still use.
    assert_eq!(left.len(), 3, "{left:?}");
    drop(s);
    drop(store);
    let (store, info) = builder(dir.path(), 16).recover::<u64, u64>(None).unwrap();
    assert_eq!(info.token, *tokens.last().unwrap());
    let mut s = store.session().unwrap();
    for round in 0..5u64 {
        assert_eq!(s.read(&round).unwrap(), Some(round));
    }
    // An older retained checkpoint recovers too, by token.
    drop(s);
    drop(store);
    let (_, older) = builder(dir.path(), 16)
        .recover::<u64, u64>(Some(tokens[3]))
        .unwrap();
    assert_eq!(older.token, tokens[3]);
}

#[test]
fn replay_leaves_every_key_at_its_newest_value() {
    // The first checkpoint's index snapshot is of an empty store, and the second writes none:
    // recovery replays the whole log, several versions of each key and tombstones, in batches
    // whose buckets are prefetched before they are installed.
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = builder(dir.path(), 8).open().unwrap();
    store.checkpoint().unwrap().wait().unwrap();
    let mut s = store.session().unwrap();
    const KEYS: u64 = 20_000;
    for round in 0..4u64 {
        for k in 0..KEYS {
            if (k + round) % 3 != 0 {
                s.upsert(&k, &(k * 10 + round)).unwrap();
            }
        }
    }
    for k in (0..KEYS).step_by(11) {
        s.delete(&k).unwrap();
    }
    let options = CheckpointOptions {
        index: false,
        ..CheckpointOptions::default()
    };
    store.checkpoint_with(options).unwrap().wait().unwrap();
    drop(s);
    drop(store);

    let (store, info) = builder(dir.path(), 8).recover::<u64, u64>(None).unwrap();
    assert!(info.replayed_bytes > 20 * KEYS, "{info:?}");
    let mut s = store.session().unwrap();
    for k in 0..KEYS {
        let newest = (0..4u64).rev().find(|round| (k + round) % 3 != 0);
        let expected = if k % 11 == 0 {
            None
        } else {
            newest.map(|round| k * 10 + round)
        };
        assert_eq!(s.read(&k).unwrap(), expected, "key {k}");
    }
}

/// A store that has never flushed a page (its log begins inside its first page) recovers from
/// snapshot and incremental checkpoints, as it does from fold-over ones.
#[test]
fn a_store_that_never_flushed_recovers_from_every_checkpoint_kind() {
    for kind in [
        LogCheckpointKind::FoldOver,
        LogCheckpointKind::Snapshot,
        LogCheckpointKind::IncrementalSnapshot,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let open = || file_store(dir.path(), 16 << 20, 1 << 10);
        let store: FasterKv<u64, u64> = open().open().unwrap();
        let mut s = store.session().unwrap();
        for k in 0..1000 {
            s.upsert(&k, &(k * 3)).unwrap();
        }
        checkpoint(&store, kind, true);
        for k in 0..1000 {
            s.add(&k, 1).unwrap();
        }
        checkpoint(&store, kind, false);
        drop(s);
        drop(store);
        let (recovered, _) = open().recover::<u64, u64>(None).unwrap();
        let mut s = recovered.session().unwrap();
        for k in 0..1000 {
            assert_eq!(s.read(&k).unwrap(), Some(k * 3 + 1), "{kind:?}: key {k}");
        }
    }
}

/// A store on files in `dir` with `memory` bytes of log pages and `buckets` index buckets.
fn file_store(dir: &Path, memory: u64, buckets: u64) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir)
        .memory_budget(memory)
        .index_buckets(buckets)
}

/// Rule R12 with the default snapshot buffer, which holds the whole log here: every page is
/// copied at memory speed, ahead of the file writes.
#[test]
fn new_version_updates_in_place_wait_for_the_snapshot_copy() {
    updates_during_snapshots_leave_exact_sums(None);
}

/// Rule R12 with a one-page snapshot buffer: the copy waits for the file writes page by page,
/// so pages stay uncopied for longer.
#[test]
fn new_version_updates_in_place_wait_for_a_one_page_snapshot_buffer() {
    updates_during_snapshots_leave_exact_sums(Some(0));
}

/// Rule R12: while a snapshot of version `v` is being copied, a `v + 1` session may update a
/// version-`v` record in place only once its page has been copied. Many counters, all in the
/// mutable region, are incremented at random while snapshots are taken; after recovery each
/// session's counters sum to exactly its increments up to its commit point. (Publishing the
/// copied address before copying makes this fail: increments after the commit point leak into
/// the snapshot.)
fn updates_during_snapshots_leave_exact_sums(snapshot_buffer: Option<u64>) {
    const COUNTERS: u64 = 1 << 18;
    const SESSIONS: u64 = 2;
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let builder = file_store(dir.path(), 128 << 20, 1 << 19);
        match snapshot_buffer {
            Some(bytes) => builder.snapshot_buffer(bytes),
            None => builder,
        }
    };
    let store: FasterKv<u64, u64> = open().open().unwrap();
    let counter = |s: u64, i: u64| (s << 40) | (i.wrapping_mul(0x9E37_79B9) % COUNTERS);
    {
        let mut loader = store.session().unwrap();
        let mut pinned = loader.pin();
        for s in 0..SESSIONS {
            for i in 0..COUNTERS {
                pinned.upsert(&((s << 40) | i), &0).unwrap();
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..SESSIONS)
        .map(|s| {
            let (store, stop) = (store.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut session = store.session().unwrap();
                let mut serial = 0;
                while !stop.load(Ordering::Relaxed) {
                    let mut pinned = session.pin();
                    for _ in 0..256 {
                        serial += 1;
                        pinned.add(&counter(s, serial), 1).unwrap();
                    }
                }
                (session.id(), s)
            })
        })
        .collect();
    for kind in [
        LogCheckpointKind::Snapshot,
        LogCheckpointKind::IncrementalSnapshot,
        LogCheckpointKind::Snapshot,
    ] {
        std::thread::sleep(Duration::from_millis(30));
        checkpoint(&store, kind, false);
    }
    stop.store(true, Ordering::Relaxed);
    let ids: Vec<(SessionId, u64)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    drop(store);

    let (recovered, info) = open().recover::<u64, u64>(None).unwrap();
    let mut reader = recovered.session().unwrap();
    for (id, s) in ids {
        let commit = info.sessions.iter().find(|c| c.id == id).unwrap();
        let included = commit.serial.get() - commit.excluded.len() as u64;
        let mut sum = 0;
        for i in 0..COUNTERS {
            sum += reader.read(&((s << 40) | i)).unwrap().unwrap();
        }
        assert_eq!(
            sum, included,
            "session {id}: its counters hold the increments up to its commit point {}",
            commit.serial
        );
    }
}

/// Recovering an older checkpoint rewrites the log that newer ones need, so it retires them
/// (their completion markers go): a later recovery without a token takes the older one again,
/// never a newer one over the rewritten log.
#[test]
fn recovering_an_older_checkpoint_retires_the_newer_ones() {
    let dir = tempfile::tempdir().unwrap();
    let open = || builder(dir.path(), 8).checkpoint_retention(4);
    let store: FasterKv<u64, u64> = open().open().unwrap();
    let mut s = store.session().unwrap();
    let mut tokens = Vec::new();
    for round in 0..3u64 {
        for k in 0..2_000u64 {
            s.upsert(&k, &(k + round * 10_000)).unwrap();
        }
        let kind = [LogCheckpointKind::Snapshot, LogCheckpointKind::FoldOver][round as usize % 2];
        tokens.push(checkpoint(&store, kind, true).token);
    }
    drop(s);
    drop(store);
    let check = |store: &FasterKv<u64, u64>, round: u64| {
        let mut s = store.session().unwrap();
        for k in 0..2_000u64 {
            assert_eq!(
                s.read(&k).unwrap(),
                Some(k + round * 10_000),
                "key {k}, round {round}"
            );
        }
    };
    let (store, info) = open().recover::<u64, u64>(Some(tokens[0])).unwrap();
    assert_eq!(info.token, tokens[0]);
    check(&store, 0);
    drop(store);
    let (store, info) = open().recover::<u64, u64>(None).unwrap();
    assert_eq!(info.token, tokens[0], "the newer checkpoints are gone");
    check(&store, 0);
}
