//! Checkpoints without a timer of the caller's: the store takes them in the background by
//! time or by bytes written, and a closing checkpoint when asked for.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::small_in;
use faster_kv::{FasterKv, OpenError};

/// Complete checkpoints in the store's directory.
fn complete(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("checkpoints"))
        .map(|d| {
            d.filter(|e| e.as_ref().unwrap().path().join("COMPLETE").exists())
                .count()
        })
        .unwrap_or(0)
}

/// Waits until `cond` holds (or fails after 20 s).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn checkpoints_by_time_recover_what_was_written_before_them() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = small_in(dir.path())
        .checkpoint_every(Duration::from_millis(20))
        .checkpoint_retention(3)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    for k in 0..3_000u64 {
        s.upsert(&k, &k).unwrap();
    }
    let before = complete(dir.path());
    // Two more checkpoints after the writes: the second began after the last write.
    eventually("two more checkpoints", || {
        complete(dir.path()) >= before + 2
    });
    drop((s, store));
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    assert!(store.opened().recovered().is_some());
    let mut s = store.session().unwrap();
    for k in 0..3_000u64 {
        assert_eq!(s.read(&k).unwrap(), Some(k), "key {k}");
    }
}

#[test]
fn checkpoints_by_bytes_follow_the_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = small_in(dir.path())
        .checkpoint_every_bytes(64 << 10)
        .open()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(complete(dir.path()), 0, "no checkpoint without writes");
    let mut s = store.session().unwrap();
    for k in 0..20_000u64 {
        s.upsert(&k, &(k + 1)).unwrap(); // 24 bytes a record: ~480 KiB of log
    }
    eventually("a checkpoint after 64 KiB written", || {
        complete(dir.path()) >= 1
    });
    drop((s, store));
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    assert!(store.opened().recovered().is_some());
}

#[test]
fn a_closing_checkpoint_keeps_everything_written() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = small_in(dir.path())
        .checkpoint_on_close(true)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    for k in 0..5_000u64 {
        s.upsert(&k, &(k * 2)).unwrap();
    }
    drop(s);
    let info = store.close().unwrap().unwrap();
    // Reopened without the setting: the manifest does not remember behaviour, only shape.
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    assert_eq!(store.opened().recovered().unwrap().token, info.token);
    let mut s = store.session().unwrap();
    s.upsert(&1, &7).unwrap();
    drop((s, store)); // no closing checkpoint this time
    let store: FasterKv<u64, u64> = small_in(dir.path())
        .checkpoint_on_close(true)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    assert_eq!(s.read(&1).unwrap(), Some(2));
    assert_eq!(s.read(&4_999).unwrap(), Some(9_998));
    s.upsert(&1, &8).unwrap();
    drop(s);
    drop(store); // dropping the last handle closes too
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    assert_eq!(store.session().unwrap().read(&1).unwrap(), Some(8));
}

#[test]
fn policy_settings_out_of_range_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (builder, setting) in [
        (
            small_in(dir.path()).checkpoint_every(Duration::ZERO),
            "checkpoint_every",
        ),
        (
            small_in(dir.path()).checkpoint_every_bytes(0),
            "checkpoint_every_bytes",
        ),
        (small_in(dir.path()).max_sessions(0), "max_sessions"),
        (
            small_in(dir.path()).checkpoint_retention(0),
            "checkpoint_retention",
        ),
    ] {
        match builder.open::<u64, u64>().unwrap_err() {
            OpenError::InvalidSetting { setting: s, .. } => assert_eq!(s, setting),
            other => panic!("{setting}: {other}"),
        }
    }
}
