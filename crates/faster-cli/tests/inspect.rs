//! `faster inspect` and `faster verify` end to end: the built binary on store directories
//! that are healthy, damaged, open in this process, or not stores at all.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking; the directories are the test's own"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use faster_kv::{CheckpointOptions, CheckpointToken, FasterKv, FasterKvBuilder, LogCheckpointKind};

/// What a run of the binary printed, and whether it succeeded.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn faster(command: &str, dir: &Path) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_faster"))
        .arg(command)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        output.status
    );
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// 4 KiB pages, 8 of them in memory, 64 KiB segments: most of the log is in segment files.
fn small(dir: &Path) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir)
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .segment_size(1 << 16)
        .index_buckets(64)
        .checkpoint_retention(4)
}

fn options(log: LogCheckpointKind) -> CheckpointOptions {
    CheckpointOptions { log, index: true }
}

/// A store with a fold-over checkpoint over several segment files; returns its token.
fn store_on_disk(dir: &Path) -> CheckpointToken {
    let store: FasterKv<u64, u64> = small(dir).open().unwrap();
    let mut s = store.session().unwrap();
    (0..12_000u64).for_each(|k| s.upsert(&k, &k).unwrap());
    let handle = store.checkpoint_with(options(LogCheckpointKind::FoldOver));
    handle.unwrap().wait().unwrap().token
}

/// Every file under `dir` with its bytes, in path order.
fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
                out.push((path, Vec::new()));
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn verify_fails_naming_a_deleted_segment_below_a_fold_over_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let token = store_on_disk(dir.path());
    let healthy = faster("verify", dir.path());
    assert!(healthy.ok, "{}{}", healthy.stdout, healthy.stderr);
    assert!(healthy.stdout.contains("verify: ok"), "{}", healthy.stdout);
    assert!(
        healthy
            .stdout
            .contains(&format!("recovery would take checkpoint {token}")),
        "{}",
        healthy.stdout
    );

    let gone = dir.path().join("log.00000001");
    std::fs::remove_file(&gone).unwrap();
    let run = faster("verify", dir.path());
    assert!(!run.ok, "{}", run.stdout);
    let line = format!("{}: bytes 0..0: checkpoint {token} needs", gone.display());
    assert!(
        run.stdout.contains(&line),
        "no `{line}` in:\n{}",
        run.stdout
    );
    assert!(run.stdout.contains("recovery would fail"), "{}", run.stdout);
    assert!(run.stderr.contains("1 problem(s)"), "{}", run.stderr);

    let inspect = faster("inspect", dir.path());
    assert!(inspect.ok, "{}", inspect.stderr);
    assert!(
        inspect
            .stdout
            .contains("recovery would fail: the log a checkpoint needs"),
        "{}",
        inspect.stdout
    );
}

#[test]
fn inspect_names_what_open_recovers_when_the_newest_snapshot_is_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = {
        let store: FasterKv<u64, u64> = small(dir.path()).open().unwrap();
        let mut s = store.session().unwrap();
        (0..2_000u64).for_each(|k| s.upsert(&k, &k).unwrap());
        let snapshot = options(LogCheckpointKind::Snapshot);
        let first = store.checkpoint_with(snapshot).unwrap().wait().unwrap();
        (0..100u64).for_each(|k| s.upsert(&k, &(k + 1)).unwrap());
        let second = store.checkpoint_with(snapshot).unwrap().wait().unwrap();
        (first.token, second.token)
    };
    let file = dir
        .path()
        .join("checkpoints")
        .join(format!("checkpoint-{second:020}"))
        .join("snapshot.dat");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 1;
    std::fs::write(&file, &bytes).unwrap();

    let run = faster("inspect", dir.path());
    assert!(run.ok, "{}", run.stderr);
    let want = format!("recovery would take checkpoint {first}\n");
    assert!(run.stdout.contains(&want), "{}", run.stdout);
    assert!(
        run.stdout.contains("not recoverable: ") && run.stdout.contains("snapshot.dat"),
        "{}",
        run.stdout
    );
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    assert_eq!(store.opened().recovered().map(|r| r.token), Some(first));
}

#[test]
fn both_commands_read_a_store_open_in_this_process_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = small(dir.path()).open().unwrap();
    let mut s = store.session().unwrap();
    (0..5_000u64).for_each(|k| s.upsert(&k, &k).unwrap());
    let token = store
        .checkpoint_with(options(LogCheckpointKind::FoldOver))
        .unwrap()
        .wait()
        .unwrap()
        .token;
    let before = all_files(dir.path());
    let open = format!("open by process {}", std::process::id());
    for command in ["inspect", "verify"] {
        let run = faster(command, dir.path());
        assert!(run.ok, "{command}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains(&open), "{command}: {}", run.stdout);
        let want = format!("recovery would take checkpoint {token}");
        assert!(run.stdout.contains(&want), "{command}: {}", run.stdout);
    }
    assert_eq!(all_files(dir.path()), before);
    drop(s);
    drop(store);
    assert!(faster("inspect", dir.path()).stdout.contains("not open"));
}

#[test]
fn a_stray_file_or_a_missing_directory_is_an_error_of_both_commands() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stray.txt"), b"x").unwrap();
    let missing = dir.path().join("absent");
    for command in ["inspect", "verify"] {
        let run = faster(command, dir.path());
        assert!(!run.ok, "{command}: {}", run.stdout);
        assert!(
            run.stderr.contains("is not a faster-kv store") && run.stderr.contains("stray.txt"),
            "{command}: {}",
            run.stderr
        );
        let run = faster(command, &missing);
        assert!(!run.ok, "{command}: {}", run.stdout);
        assert!(run.stderr.contains("no such directory"), "{}", run.stderr);
    }
    assert!(!missing.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_segment_copied_from_another_store_is_reported() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    store_on_disk(ours.path());
    store_on_disk(theirs.path());
    let target = ours.path().join("log.00000000");
    std::fs::copy(theirs.path().join("log.00000000"), &target).unwrap();

    let inspect = faster("inspect", ours.path());
    assert!(inspect.ok, "{}", inspect.stderr);
    assert!(
        inspect.stdout.contains("log.00000000: ") && inspect.stdout.contains("another log"),
        "{}",
        inspect.stdout
    );
    assert!(
        inspect.stdout.contains("recovery would fail"),
        "{}",
        inspect.stdout
    );
    let verify = faster("verify", ours.path());
    assert!(!verify.ok);
    let line = format!(
        "{}: bytes 0..4096: segment header: belongs to another log",
        target.display()
    );
    assert!(
        verify.stdout.contains(&line),
        "no `{line}` in:\n{}",
        verify.stdout
    );
}
