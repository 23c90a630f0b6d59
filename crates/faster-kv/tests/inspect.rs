//! `inspect` lists what a store directory holds and names the checkpoint recovery would take;
//! `verify` checks every header, checksum and needed log byte and names the first bad byte
//! range of each damaged file. Neither writes anything.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::path::{Path, PathBuf};

use common::{FOLD_OVER, SNAPSHOT, all_files, small_in};

use faster_device::DeviceError;
use faster_kv::checkpoint::{InspectError, SegmentState, inspect, verify};
use faster_kv::{
    CheckpointOptions, CheckpointToken, FasterKv, FasterKvBuilder, LogCheckpointKind, OpenError,
};

fn small(dir: &Path) -> FasterKvBuilder {
    small_in(dir).index_buckets(64).checkpoint_retention(4)
}

fn checkpoint_dir(dir: &Path, token: CheckpointToken) -> PathBuf {
    dir.join("checkpoints")
        .join(format!("checkpoint-{token:020}"))
}

#[test]
fn inspect_lists_and_verify_locates_damage() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .dir(dir.path())
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .segment_size(1 << 16)
        .index_buckets(64)
        .checkpoint_retention(4)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    for k in 0..3_000u64 {
        s.upsert(&k, &k).unwrap();
    }
    let first = store
        .checkpoint_with(CheckpointOptions {
            log: LogCheckpointKind::FoldOver,
            index: true,
        })
        .unwrap()
        .wait()
        .unwrap();
    for k in 0..100u64 {
        s.upsert(&k, &(k + 1)).unwrap();
    }
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

    let inventory = inspect(dir.path()).unwrap();
    assert!(inventory.segments.len() > 1, "{:?}", inventory.segments);
    let tokens: Vec<CheckpointToken> = inventory.checkpoints.iter().map(|c| c.token).collect();
    assert_eq!(tokens, vec![first.token, second.token]);
    assert!(
        inventory
            .checkpoints
            .iter()
            .all(|c| c.meta.is_some() && c.problem.is_none())
    );
    assert_eq!(verify(dir.path()).unwrap(), vec![]);

    let second_dir = dir
        .path()
        .join("checkpoints")
        .join(format!("checkpoint-{:020}", second.token));
    // A byte in the last chunk of the snapshot file.
    let snapshot = second_dir.join("snapshot.dat");
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 0xff;
    std::fs::write(&snapshot, &bytes).unwrap();
    // A byte in the data of the first checkpoint's index snapshot.
    let first_dir = dir
        .path()
        .join("checkpoints")
        .join(format!("checkpoint-{:020}", first.token));
    let index = first_dir.join("index.00000000");
    let mut bytes = std::fs::read(&index).unwrap();
    // The snapshot follows the device's segment header in the file.
    let flipped = faster_device::SEGMENT_HEADER_BYTES as usize + 5_000;
    bytes[flipped] ^= 0x01;
    std::fs::write(&index, &bytes).unwrap();

    let findings = verify(dir.path()).unwrap();
    assert_eq!(findings.len(), 2, "{findings:#?}");
    let snap = findings.iter().find(|f| f.file == snapshot).unwrap();
    assert!(
        snap.range.start > 32 && snap.range.start <= at as u64 && at as u64 <= snap.range.end,
        "{snap:?}"
    );
    let idx = findings.iter().find(|f| f.file == index).unwrap();
    let flipped = flipped as u64;
    assert!(
        idx.range.start <= flipped && flipped < idx.range.end,
        "{idx:?}"
    );
    assert!(idx.problem.contains("checksum"), "{idx:?}");
}

/// The newest checkpoint's metadata is valid but its snapshot file is damaged: recovery passes
/// it over, and inspect names the older one, as the open then recovers it.
#[test]
fn inspect_names_the_checkpoint_open_recovers_when_the_newest_snapshot_is_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = {
        let store: FasterKv<u64, u64> = small(dir.path()).open().unwrap();
        let mut s = store.session().unwrap();
        (0..2_000u64).for_each(|k| s.upsert(&k, &k).unwrap());
        let first = store.checkpoint_with(SNAPSHOT).unwrap().wait().unwrap();
        (0..100u64).for_each(|k| s.upsert(&k, &(k + 7)).unwrap());
        let second = store.checkpoint_with(SNAPSHOT).unwrap().wait().unwrap();
        (first.token, second.token)
    };
    let file = checkpoint_dir(dir.path(), second).join("snapshot.dat");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() - 9;
    bytes[at] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();

    let inventory = inspect(dir.path()).unwrap();
    let newest = inventory.checkpoints.last().unwrap();
    assert_eq!(newest.token, second);
    // Its metadata alone is valid: a listing that trusted it would name it.
    assert!(newest.meta.is_some());
    assert!(
        newest.problem.as_deref().unwrap().contains("snapshot.dat"),
        "{newest:?}"
    );
    assert_eq!(inventory.recovery, Ok(Some(first)));

    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    assert_eq!(store.opened().recovered().map(|r| r.token), Some(first));
    let mut s = store.session().unwrap();
    assert_eq!(s.read(&5).unwrap(), Some(5));
}

/// Builds a store whose fold-over checkpoint needs several log segments; returns the token.
fn store_on_disk(dir: &Path) -> CheckpointToken {
    let store: FasterKv<u64, u64> = small(dir).open().unwrap();
    let mut s = store.session().unwrap();
    (0..12_000u64).for_each(|k| s.upsert(&k, &k).unwrap());
    store
        .checkpoint_with(FOLD_OVER)
        .unwrap()
        .wait()
        .unwrap()
        .token
}

#[test]
fn verify_names_a_deleted_log_segment_below_a_fold_over_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let token = store_on_disk(dir.path());
    let inventory = inspect(dir.path()).unwrap();
    assert!(inventory.segments.len() >= 3, "{:?}", inventory.segments);
    assert!(
        inventory
            .segments
            .iter()
            .all(|s| s.state == SegmentState::Valid)
    );
    assert_eq!(inventory.recovery, Ok(Some(token)));
    assert_eq!(verify(dir.path()).unwrap(), vec![]);

    let gone = dir.path().join("log.00000001");
    std::fs::remove_file(&gone).unwrap();
    let findings = verify(dir.path()).unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].file, gone);
    assert!(findings[0].problem.contains("missing"), "{findings:?}");

    let recovery = inspect(dir.path()).unwrap().recovery.unwrap_err();
    assert!(recovery.contains("log.00000001"), "{recovery}");
    let open = FasterKv::<u64, u64>::open(dir.path())
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(open, OpenError::LogMissing { .. }), "{open}");
    assert_eq!(open.to_string(), recovery);
}

#[test]
fn a_segment_cut_short_below_a_checkpoint_is_named_with_its_missing_bytes() {
    let dir = tempfile::tempdir().unwrap();
    store_on_disk(dir.path());
    let short = dir.path().join("log.00000001");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&short)
        .unwrap();
    file.set_len(4096 + 8192).unwrap();
    let findings = verify(dir.path()).unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].file, short);
    assert_eq!(findings[0].range.start, 4096 + 8192);
    assert!(findings[0].problem.contains("too short"), "{findings:?}");
}

#[test]
fn inspect_and_verify_read_an_open_store_and_change_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = small(dir.path()).open().unwrap();
    let mut s = store.session().unwrap();
    (0..5_000u64).for_each(|k| s.upsert(&k, &k).unwrap());
    let token = store
        .checkpoint_with(FOLD_OVER)
        .unwrap()
        .wait()
        .unwrap()
        .token;
    let before = all_files(dir.path(), true);

    let inventory = inspect(dir.path()).unwrap();
    assert_eq!(inventory.open_by, Ok(Some(std::process::id())));
    assert_eq!(inventory.recovery, Ok(Some(token)));
    let manifest = inventory.manifest.unwrap().unwrap();
    assert_eq!(manifest.page_size_bits, 12);
    assert_eq!(verify(dir.path()).unwrap(), vec![]);
    assert_eq!(all_files(dir.path(), true), before);

    drop(s);
    drop(store);
    assert_eq!(inspect(dir.path()).unwrap().open_by, Ok(None));
}

#[test]
fn a_directory_that_is_not_a_store_or_is_missing_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    for result in [
        inspect(dir.path()).map(|_| ()),
        verify(dir.path()).map(|_| ()),
    ] {
        match result {
            Err(InspectError::NotAStore { reason, .. }) => {
                assert!(reason.contains("notes.txt"), "{reason}");
            }
            other => panic!("expected NotAStore, got {other:?}"),
        }
    }
    let missing = dir.path().join("absent");
    assert!(matches!(
        inspect(&missing),
        Err(InspectError::Missing { .. })
    ));
    assert!(matches!(
        verify(&missing),
        Err(InspectError::Missing { .. })
    ));
    assert!(!missing.exists());

    // An empty directory holds no store yet: nothing to recover, nothing created.
    let empty = tempfile::tempdir().unwrap();
    let inventory = inspect(empty.path()).unwrap();
    assert_eq!(inventory.manifest, Ok(None));
    assert_eq!(inventory.recovery, Ok(None));
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

#[test]
fn a_segment_of_another_store_is_reported_as_the_open_reports_it() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    store_on_disk(ours.path());
    store_on_disk(theirs.path());
    let their_log = inspect(theirs.path())
        .unwrap()
        .manifest
        .unwrap()
        .unwrap()
        .log_id;
    let target = ours.path().join("log.00000002");
    std::fs::copy(theirs.path().join("log.00000002"), &target).unwrap();

    let inventory = inspect(ours.path()).unwrap();
    let segment = inventory.segments.iter().find(|s| s.index == 2).unwrap();
    assert_eq!(
        segment.state,
        SegmentState::Foreign {
            identity: their_log
        }
    );
    let findings = verify(ours.path()).unwrap();
    assert!(!findings.is_empty());
    assert!(findings.iter().all(|f| f.file == target), "{findings:#?}");
    assert!(findings[0].problem.contains("another log"), "{findings:?}");

    let recovery = inventory.recovery.unwrap_err();
    let open = FasterKv::<u64, u64>::open(ours.path())
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(
            open,
            OpenError::Segments {
                source: DeviceError::ForeignSegment { .. },
                ..
            }
        ),
        "{open}"
    );
    assert_eq!(open.to_string(), recovery);
}

#[test]
fn a_checkpoint_of_another_store_is_reported_and_stops_recovery() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let kept = store_on_disk(ours.path());
    // Checkpoints of the other store until one has a newer token than ours, so that
    // recovery meets it first.
    let token = {
        let store: FasterKv<u64, u64> = small(theirs.path()).open().unwrap();
        let mut s = store.session().unwrap();
        (0..100u64).for_each(|k| s.upsert(&k, &k).unwrap());
        loop {
            let token = store
                .checkpoint_with(SNAPSHOT)
                .unwrap()
                .wait()
                .unwrap()
                .token;
            if token > kept {
                break token;
            }
        }
    };
    let from = checkpoint_dir(theirs.path(), token);
    let to = checkpoint_dir(ours.path(), token);
    std::fs::create_dir(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    let findings = verify(ours.path()).unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f.file.starts_with(&to) && f.problem.contains("not of this store")),
        "{findings:#?}"
    );
    let inventory = inspect(ours.path()).unwrap();
    assert!(inventory.checkpoints.iter().any(|c| c.token == kept));
    let recovery = inventory.recovery.unwrap_err();
    assert!(recovery.contains("not of this store"), "{recovery}");
    let open = FasterKv::<u64, u64>::open(ours.path())
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(open, OpenError::Foreign { .. }), "{open}");
    assert_eq!(open.to_string(), recovery);
}

#[test]
fn a_checkpoint_kept_only_for_its_index_snapshot_is_retired_and_still_verified() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        FasterKv::builder()
            .dir(dir.path())
            .page_size_bits(12)
            .memory_budget(8 << 12)
            .segment_size(1 << 16)
            .index_buckets(64)
            .checkpoint_retention(2)
            .open::<u64, u64>()
            .unwrap()
    };
    let store = open();
    let mut s = store.session().unwrap();
    let log_only = CheckpointOptions {
        log: LogCheckpointKind::FoldOver,
        index: false,
    };
    let mut tokens = Vec::new();
    for round in 0..3u64 {
        for k in 0..1_000u64 {
            s.upsert(&k, &(k + round)).unwrap();
        }
        let options = if round == 0 {
            CheckpointOptions::default()
        } else {
            log_only
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
    drop(s);
    drop(store);

    // The first is beyond the retention of 2, but holds the index snapshot the others use:
    // kept, and retired so that recovery never chooses it (and its log can go).
    let inventory = inspect(dir.path()).unwrap();
    let listed: Vec<CheckpointToken> = inventory.checkpoints.iter().map(|c| c.token).collect();
    assert_eq!(listed, tokens);
    let first = &inventory.checkpoints[0];
    assert!(first.meta.is_none(), "{first:?}");
    let problem = first.problem.as_deref().unwrap_or_default();
    assert!(problem.starts_with("retired"), "{problem}");
    assert!(problem.contains(&tokens[2].to_string()), "{problem}");
    assert_eq!(verify(dir.path()).unwrap(), vec![]);

    // Its index snapshot is still checked: the newest checkpoint recovers through it.
    let index_file = checkpoint_dir(dir.path(), tokens[0]).join("index.00000000");
    let mut bytes = std::fs::read(&index_file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xFF;
    std::fs::write(&index_file, &bytes).unwrap();
    let findings = verify(dir.path()).unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].file, index_file);
    bytes[last] ^= 0xFF;
    std::fs::write(&index_file, &bytes).unwrap();

    let store = open();
    let mut s = store.session().unwrap();
    for k in 0..1_000u64 {
        assert_eq!(s.read(&k).unwrap(), Some(k + 2));
    }
}
