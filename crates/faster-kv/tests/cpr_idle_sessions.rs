//! Commit points of sessions that were not running when a checkpoint changed version: a
//! session idle through a whole checkpoint that wakes in the middle of the next one, and a
//! session started (or continued) after a checkpoint's version change. Their operations in
//! the new version must not be credited to the checkpoint (CPR: a prefix, none after).
//!
//! A pinned session that stops refreshing holds the checkpoint before its final address is
//! taken, so that the other sessions can act at exactly that moment.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::Path;

use faster_kv::{CheckpointHandle, FasterKv, FasterKvBuilder, Serial, Session};

fn builder(dir: &Path) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir)
        .page_size_bits(14)
        .memory_budget(16 << 14)
        .segment_size(1 << 20)
        .index_buckets(1 << 12)
}

fn key(session: u64, serial: u64) -> u64 {
    (session << 32) | serial
}

/// Upserts `key(id, serial)` for the session's next `n` operations.
fn run(session: &mut Session<u64, u64>, n: u64) {
    for _ in 0..n {
        let serial = session.serial().next().get();
        session
            .upsert(&key(session.id().get(), serial), &serial)
            .unwrap();
    }
}

/// Starts a checkpoint and holds it after its version change: `holder` stays pinned, having
/// acknowledged at most the first phase of the new version, so the checkpoint cannot take
/// its final address until the returned guard drops.
fn start_and_hold<'s>(
    store: &FasterKv<u64, u64>,
    holder: &'s mut Session<u64, u64>,
) -> (CheckpointHandle, faster_kv::Pinned<'s, u64, u64>) {
    let version = store.version();
    let handle = store.checkpoint().unwrap();
    let mut pinned = holder.pin();
    let mut n = 0u64;
    while store.version() == version {
        n += 1;
        pinned.upsert(&(u64::MAX - n % 64), &n).unwrap();
    }
    assert!(!handle.is_finished());
    (handle, pinned)
}

#[test]
fn a_session_idle_through_a_checkpoint_commits_only_what_it_did_before_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = builder(dir.path()).open().unwrap();
    let mut idle = store.session().unwrap();
    let mut holder = store.session().unwrap();
    run(&mut idle, 10);
    // The whole first checkpoint passes while `idle` does nothing.
    store.checkpoint().unwrap().wait().unwrap();
    let (handle, pinned) = start_and_hold(&store, &mut holder);
    // `idle` wakes in the middle of the second checkpoint, after its version change: it moves
    // two versions at once, and these operations belong to the newer one.
    run(&mut idle, 5);
    // A session started now starts in the new version too.
    let mut late = store.session().unwrap();
    run(&mut late, 7);
    drop(pinned);
    let info = handle.wait().unwrap();
    let commit = |id| {
        info.sessions
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.serial.get())
    };
    assert_eq!(commit(idle.id()), Some(10), "{:?}", info.sessions);
    assert_eq!(commit(late.id()).unwrap_or(0), 0, "{:?}", info.sessions);
    let (idle_id, late_id) = (idle.id().get(), late.id().get());
    drop((idle, late, holder, store));

    let (store, recovered) = builder(dir.path())
        .recover::<u64, u64>(Some(info.token))
        .unwrap();
    let mut s = store.session().unwrap();
    for serial in 1..=15 {
        let want = (serial <= 10).then_some(serial);
        assert_eq!(
            s.read(&key(idle_id, serial)).unwrap(),
            want,
            "serial {serial}"
        );
    }
    for serial in 1..=7 {
        assert_eq!(s.read(&key(late_id, serial)).unwrap(), None);
    }
    assert_eq!(recovered.token, info.token);
}

#[test]
fn a_session_continued_after_the_version_change_commits_its_recovered_serial() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = builder(dir.path()).open().unwrap();
    let mut first = store.session().unwrap();
    run(&mut first, 20);
    let id = first.id();
    store.checkpoint().unwrap().wait().unwrap();
    drop((first, store));

    let (store, _) = builder(dir.path()).recover::<u64, u64>(None).unwrap();
    let mut holder = store.session().unwrap();
    let (handle, pinned) = start_and_hold(&store, &mut holder);
    let (mut continued, serial) = store.continue_session(id).unwrap();
    assert_eq!(serial, Serial::new(20));
    run(&mut continued, 9);
    drop(pinned);
    let info = handle.wait().unwrap();
    let commit = info.sessions.iter().find(|c| c.id == id).unwrap();
    assert_eq!(commit.serial, Serial::new(20), "{:?}", info.sessions);
}
