//! Simulated power loss and device faults around checkpoints (FaultDevice): recovery returns
//! the last checkpoint whose completion was durable, or a clear error — never data that was not
//! written — and damaged checkpoint files are reported by name.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod cpr_common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use cpr_common::{check_prefix, run_op};
use faster_device::{CrashMode, Device, FaultDevice, MemDevice};
use faster_kv::{CheckpointOptions, FasterKv, FasterKvBuilder, LogCheckpointKind, RecoverError};

fn builder(device: Arc<dyn Device>, checkpoints: &Path) -> FasterKvBuilder {
    FasterKv::builder()
        .device(device)
        .checkpoint_dir(checkpoints)
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .mutable_fraction(0.5)
        .index_buckets(1 << 10)
}

/// A full fold-over checkpoint: the scenarios below damage or tear the log's own image.
const FOLD_OVER: CheckpointOptions = CheckpointOptions {
    log: LogCheckpointKind::FoldOver,
    index: true,
};

fn inner() -> Arc<dyn Device> {
    Arc::new(MemDevice::builder().segment_size(1 << 16).build().unwrap())
}

/// Runs serials `from..=to` of session `s` (ignoring failures after an injected fault).
fn ops(store: &FasterKv<u64, u64>, session: &mut faster_kv::Session<u64, u64>, from: u64, to: u64) {
    let _ = store;
    let id = session.id().get();
    let mut pinned = session.pin();
    for serial in from..=to {
        run_op(&mut pinned, id, serial);
    }
}

#[test]
fn power_loss_after_a_checkpoint_recovers_exactly_that_checkpoint() {
    for (seed, mode) in [(0, CrashMode::DropUnflushed)]
        .into_iter()
        .chain((1..=6).map(|seed| (seed, CrashMode::Random { seed })))
    {
        let dir = tempfile::tempdir().unwrap();
        let disk = inner();
        let fault = Arc::new(FaultDevice::new(Arc::clone(&disk)));
        let kind = [LogCheckpointKind::FoldOver, LogCheckpointKind::Snapshot][seed as usize % 2];
        let store: FasterKv<u64, u64> = builder(fault.clone(), dir.path()).open().unwrap();
        let mut s = store.session().unwrap();
        let id = s.id().get();
        ops(&store, &mut s, 1, 3_000);
        let info = store
            .checkpoint_with(CheckpointOptions {
                log: kind,
                index: true,
            })
            .unwrap()
            .wait()
            .unwrap();
        // Written after the checkpoint, never made durable: lost or torn by the crash.
        ops(&store, &mut s, 3_001, 6_000);
        fault.crash(mode).unwrap();
        drop(s);
        drop(store);

        let fresh = Arc::new(FaultDevice::new(Arc::clone(&disk)));
        let (store, recovered) = builder(fresh, dir.path())
            .recover::<u64, u64>(None)
            .unwrap();
        assert_eq!(recovered.token, info.token, "seed {seed}");
        let commit = recovered
            .sessions
            .iter()
            .find(|c| c.id.get() == id)
            .unwrap();
        assert_eq!(commit.serial.get(), 3_000, "seed {seed}");
        check_prefix(&store, &recovered.sessions, &HashMap::from([(id, 6_000)]));
    }
}

#[test]
fn a_checkpoint_whose_device_flush_fails_is_not_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let disk = inner();
    let fault = Arc::new(FaultDevice::new(Arc::clone(&disk)));
    let store: FasterKv<u64, u64> = builder(fault.clone(), dir.path()).open().unwrap();
    let mut s = store.session().unwrap();
    let id = s.id().get();
    ops(&store, &mut s, 1, 2_000);
    let first = store.checkpoint().unwrap().wait().unwrap();
    ops(&store, &mut s, 2_001, 4_000);
    fault.fail_nth_flush(1);
    let failed = store.checkpoint().unwrap().wait();
    assert!(
        failed.is_err(),
        "the flush failed, so must the checkpoint: {failed:?}"
    );
    fault.crash(CrashMode::DropUnflushed).unwrap();
    drop(s);
    drop(store);

    let (store, recovered) = builder(Arc::new(FaultDevice::new(disk)), dir.path())
        .recover::<u64, u64>(None)
        .unwrap();
    assert_eq!(recovered.token, first.token);
    check_prefix(&store, &recovered.sessions, &HashMap::from([(id, 4_000)]));
}

#[test]
fn a_torn_write_during_a_checkpoint_fails_it_and_the_previous_one_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let disk = inner();
    let fault = Arc::new(FaultDevice::new(Arc::clone(&disk)));
    let store: FasterKv<u64, u64> = builder(fault.clone(), dir.path()).open().unwrap();
    let mut s = store.session().unwrap();
    let id = s.id().get();
    ops(&store, &mut s, 1, 2_000);
    let first = store.checkpoint_with(FOLD_OVER).unwrap().wait().unwrap();
    // The next write the log issues is torn halfway: the log is poisoned, operations that need
    // room fail, and so does the checkpoint.
    fault.tear_nth_write(1, 2048);
    let mut pinned = s.pin();
    let mut failed_at = None;
    for serial in 2_001..=20_000 {
        let result = if cpr_common::is_increment(serial) {
            pinned.add(&cpr_common::counter(id, serial), 1).map(|_| ())
        } else {
            pinned.upsert(&cpr_common::key(id, serial), &cpr_common::value(id, serial))
        };
        if result.is_err() {
            failed_at = Some(serial);
            break;
        }
    }
    drop(pinned);
    assert!(failed_at.is_some(), "the torn write surfaced as an error");
    assert!(store.checkpoint_with(FOLD_OVER).unwrap().wait().is_err());
    fault.crash(CrashMode::Random { seed: 7 }).unwrap();
    drop(s);
    drop(store);

    let (store, recovered) = builder(Arc::new(FaultDevice::new(disk)), dir.path())
        .recover::<u64, u64>(None)
        .unwrap();
    assert_eq!(recovered.token, first.token);
    check_prefix(&store, &recovered.sessions, &HashMap::from([(id, 20_000)]));
}

/// Flips bytes in each file of a checkpoint: recovery of that checkpoint fails with an error
/// naming the file, and recovery of "the latest" falls back to the previous checkpoint.
#[test]
fn damaged_checkpoint_files_are_reported_by_name_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let disk = inner();
    let store: FasterKv<u64, u64> = builder(disk.clone(), dir.path()).open().unwrap();
    let mut s = store.session().unwrap();
    let id = s.id().get();
    ops(&store, &mut s, 1, 1_000);
    let first = store.checkpoint_with(FOLD_OVER).unwrap().wait().unwrap();
    ops(&store, &mut s, 1_001, 2_000);
    let second = store
        .checkpoint_with(CheckpointOptions {
            log: LogCheckpointKind::Snapshot,
            index: true,
        })
        .unwrap()
        .wait()
        .unwrap();
    drop(s);
    drop(store);

    let second_dir = dir.path().join(format!("checkpoint-{:020}", second.token));
    let mut files: Vec<_> = std::fs::read_dir(&second_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for wanted in ["COMPLETE", "meta.dat", "index.00000000", "snapshot.dat"] {
        assert!(
            names.iter().any(|n| n == wanted),
            "{wanted} missing from {names:?}"
        );
    }
    for file in &files {
        let original = std::fs::read(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        // A few positions: the start (magic), the middle and the end of the file.
        for at in [0, 9, original.len() / 2, original.len() - 1] {
            let mut bad = original.clone();
            bad[at] ^= 0x5a;
            std::fs::write(file, &bad).unwrap();
            let err = builder(disk.clone(), dir.path())
                .recover::<u64, u64>(Some(second.token))
                .err()
                .unwrap_or_else(|| panic!("a flip at byte {at} of {name} went unnoticed"));
            let message = err.to_string();
            let names_file = message.contains(&name)
                || (name.starts_with("index") && matches!(err, RecoverError::Index { .. }));
            assert!(names_file, "error for {name} does not name it: {message}");
        }
        std::fs::write(file, &original).unwrap();
    }
    let (store, recovered) = builder(disk.clone(), dir.path())
        .recover::<u64, u64>(None)
        .unwrap();
    assert_eq!(recovered.token, second.token);
    check_prefix(&store, &recovered.sessions, &HashMap::from([(id, 2_000)]));
    drop(store);

    // Damaged, the second is skipped: recovery takes the first, and takes the second out of
    // reach for good (its completion marker goes; the files stay).
    let snapshot = files.iter().find(|f| f.ends_with("snapshot.dat")).unwrap();
    let mut bad = std::fs::read(snapshot).unwrap();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x5a;
    std::fs::write(snapshot, &bad).unwrap();
    let (store, recovered) = builder(disk.clone(), dir.path())
        .recover::<u64, u64>(None)
        .unwrap();
    assert_eq!(recovered.token, first.token);
    assert_eq!(recovered.skipped.len(), 1, "{:?}", recovered.skipped);
    check_prefix(&store, &recovered.sessions, &HashMap::from([(id, 1_000)]));
    drop(store);
    assert!(!second_dir.join("COMPLETE").exists());
    assert!(snapshot.exists());
    let (_, again) = builder(disk, dir.path()).recover::<u64, u64>(None).unwrap();
    assert_eq!(again.token, first.token);
    // Reported as incomplete now, not as damaged.
    assert_eq!(again.skipped.len(), 1, "{:?}", again.skipped);
    assert_eq!(again.skipped[0].0, second.token);
}
