//! A log in a directory: one process at a time (the lock), a manifest that makes every reopen
//! need no setting and refuse contradicting ones, and directories that are not this log's
//! refused with an error naming what was found.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::drain;
use faster_log::manifest::{LogManifest, MANIFEST_FILE};
use faster_log::{CommitPolicy, DeviceError, FasterLog, FasterLogBuilder, LogOpenError};

/// A small log in `dir`, with shaping settings that differ from the defaults.
fn small(dir: &Path) -> FasterLogBuilder {
    FasterLog::builder_in_dir(dir)
        .page_size_bits(13)
        .segment_size(16 << 10)
        .commit_slot_size(8 << 10)
        .memory_pages(4)
        .huge_pages(false)
        .preallocate(false)
}

fn entry(i: usize) -> Vec<u8> {
    format!("entry {i:05} ").repeat(1 + i % 17).into_bytes()
}

/// Enqueues entries `range` and commits them.
fn append(log: &FasterLog, range: std::ops::Range<usize>) {
    for i in range {
        log.enqueue(&entry(i)).unwrap();
    }
    log.commit().unwrap();
}

/// The indices of every committed entry of `log`, each checked byte by byte.
fn committed(log: &FasterLog) -> Vec<usize> {
    drain(&mut log.iter()).iter().map(|p| index(p)).collect()
}

fn upto(n: usize) -> Vec<usize> {
    (0..n).collect()
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_second_open_is_locked_out_until_the_log_and_its_iterators_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let log = small(dir.path()).open().unwrap();
    append(&log, 0..50);
    match FasterLog::builder_in_dir(dir.path()).open() {
        Err(LogOpenError::Locked { dir: locked, .. }) => assert_eq!(locked, dir.path()),
        other => panic!("expected Locked, got {other:?}"),
    }
    let err = FasterLog::builder_in_dir(dir.path()).open().unwrap_err();
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
    // An iterator keeps reading the log's files, so it keeps the directory locked.
    let mut iter = log.iter();
    drop(log);
    assert!(matches!(
        FasterLog::builder_in_dir(dir.path()).open(),
        Err(LogOpenError::Locked { .. })
    ));
    let read: Vec<usize> = drain(&mut iter).iter().map(|p| index(p)).collect();
    assert_eq!(read, upto(50));
    drop(iter);
    // Dropped and reopened at once, many times, with the committer thread busy. Each round
    // commits ten entries and leaves ten more to the interval policy, which may or may not
    // commit them before the drop.
    let mut must_have: Vec<usize> = (0..50).collect();
    for round in 0..8 {
        let log = FasterLog::builder_in_dir(dir.path())
            .commit_policy(CommitPolicy::EveryInterval(Duration::from_millis(1)))
            .open()
            .unwrap();
        let n = 50 + round * 20;
        append(&log, n..n + 10);
        must_have.extend(n..n + 10);
        for i in n + 10..n + 20 {
            log.enqueue(&entry(i)).unwrap();
        }
        drop(log);
    }
    let log = FasterLog::builder_in_dir(dir.path()).open().unwrap();
    let found = committed(&log);
    assert!(found.is_sorted_by(|a, b| a < b), "{found:?}");
    for i in must_have {
        assert!(
            found.contains(&i),
            "committed entry {i} is missing: {found:?}"
        );
    }
}

/// The index `i` of `entry(i)`, after checking every byte of it.
fn index(payload: &[u8]) -> usize {
    let text = std::str::from_utf8(payload).unwrap();
    let i = text[6..11].parse().unwrap();
    assert_eq!(payload, entry(i), "entry {i} differs");
    i
}

#[test]
fn a_reopen_at_once_succeeds_while_another_thread_spawns_processes() {
    // A process being spawned holds copies of its parent's descriptors, the lock's among
    // them, until it execs: the lock outlives the dropped log for that moment.
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let spawner = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut spawned = 0u32;
            while !stop.load(Ordering::Relaxed) {
                Command::new("true").status().unwrap();
                spawned += 1;
            }
            spawned
        })
    };
    let mut opened = 0;
    for i in 0..150 {
        let log = small(dir.path())
            .open()
            .unwrap_or_else(|e| panic!("open {i}: {e}"));
        log.enqueue(&entry(i)).unwrap();
        log.commit().unwrap();
        opened += 1;
    }
    stop.store(true, Ordering::Relaxed);
    assert!(spawner.join().unwrap() > 0);
    assert_eq!(opened, 150);
    let log = small(dir.path()).open().unwrap();
    assert_eq!(committed(&log), upto(150));
}

/// Set in the child process of the test below: the directory of the log it holds.
const CHILD_ENV: &str = "FASTER_LOG_LOCK_CHILD";
/// What the child prints before the number of entries it committed.
const REPORT: &str = "child committed entries: ";
/// Entries the child commits before it reports.
const CHILD_COMMITTED: usize = 300;

/// Kills the child process if the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn another_process_holding_the_directory_is_named_and_its_commits_survive_its_kill() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        // The child: commit, report, append more without committing, and wait to be killed.
        let log = small(Path::new(&dir)).open().unwrap();
        append(&log, 0..CHILD_COMMITTED / 2);
        append(&log, CHILD_COMMITTED / 2..CHILD_COMMITTED);
        for i in CHILD_COMMITTED..CHILD_COMMITTED + 40 {
            log.enqueue(&entry(i)).unwrap();
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "{REPORT}{CHILD_COMMITTED}").unwrap();
        out.flush().unwrap();
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "another_process_holding_the_directory_is_named_and_its_commits_survive_its_kill",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let reported: usize = loop {
        let line = lines
            .next()
            .expect("the child exited before reporting")
            .unwrap();
        // The test harness may print on the same line before the child's report.
        if let Some((_, n)) = line.split_once(REPORT) {
            break n.trim().parse().unwrap();
        }
    };
    assert_eq!(reported, CHILD_COMMITTED);
    match FasterLog::builder_in_dir(dir.path()).open() {
        Err(LogOpenError::Locked {
            dir: locked,
            holder,
        }) => {
            assert_eq!(locked, dir.path());
            assert_eq!(holder, Some(child.0.id()));
        }
        other => panic!("expected Locked by the child, got {other:?}"),
    }
    // SIGKILL: the kernel releases the lock; nothing is cleaned up.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let log = FasterLog::builder_in_dir(dir.path()).open().unwrap();
    assert_eq!(log.page_size(), 1 << 13);
    assert_eq!(committed(&log), upto(reported));
}

#[test]
fn a_reopen_takes_every_shaping_setting_from_the_manifest_and_refuses_contradictions() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = small(dir.path()).open().unwrap();
        append(&log, 0..400);
    }
    let segments = file_names(dir.path())
        .into_iter()
        .filter(|n| n.starts_with("log."))
        .count();
    assert!(segments >= 4, "{segments} segment files");
    {
        let log = FasterLog::builder_in_dir(dir.path()).open().unwrap();
        assert_eq!(log.page_size(), 1 << 13);
        assert_eq!(committed(&log), upto(400));
        append(&log, 400..500);
    }
    let manifest =
        LogManifest::decode(&std::fs::read(dir.path().join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(
        (
            manifest.page_size_bits,
            manifest.segment_size,
            manifest.commit_slot_size
        ),
        (13, 16 << 10, 8 << 10)
    );
    let refused = [
        (
            FasterLog::builder_in_dir(dir.path()).page_size_bits(22),
            "page_size_bits",
            "13",
            "22",
        ),
        (
            FasterLog::builder_in_dir(dir.path()).segment_size(1 << 30),
            "segment_size",
            "16384",
            "1073741824",
        ),
        (
            FasterLog::builder_in_dir(dir.path()).commit_slot_size(64 << 10),
            "commit_slot_size",
            "8192",
            "65536",
        ),
    ];
    for (builder, name, old, new) in refused {
        match builder.open() {
            Err(LogOpenError::SettingMismatch {
                setting,
                stored,
                requested,
            }) => assert_eq!(
                (setting, stored.as_str(), requested.as_str()),
                (name, old, new)
            ),
            other => panic!("{name}: expected SettingMismatch, got {other:?}"),
        }
    }
    // The same values, set again, are accepted; nothing was lost to the refused opens.
    let log = small(dir.path()).open().unwrap();
    assert_eq!(committed(&log), upto(500));
}

#[test]
fn a_directory_that_is_not_a_log_is_refused_and_a_cut_short_creation_is_not() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    match small(dir.path()).open() {
        Err(LogOpenError::NotALog { dir: d, reason }) => {
            assert_eq!(d, dir.path());
            assert!(reason.contains("notes.txt"), "{reason}");
        }
        other => panic!("expected NotALog, got {other:?}"),
    }
    assert_eq!(file_names(dir.path()), ["LOCK", "notes.txt"]);

    // Segment files without a manifest: written by an older build.
    let old = tempfile::tempdir().unwrap();
    std::fs::write(old.path().join("log.00000000"), vec![7; 8192]).unwrap();
    std::fs::write(old.path().join("commit.00000000"), vec![7; 8192]).unwrap();
    match FasterLog::builder_in_dir(old.path()).open() {
        Err(LogOpenError::NotALog { reason, .. }) => {
            assert!(reason.contains("commit.00000000, log.00000000"), "{reason}");
            assert!(reason.contains("earlier build"), "{reason}");
        }
        other => panic!("expected NotALog, got {other:?}"),
    }

    // A creation cut short before its manifest was in place leaves a lock file and a
    // temporary manifest: the directory is a new log.
    let cut = tempfile::tempdir().unwrap();
    std::fs::write(cut.path().join("LOCK"), b"12345\n").unwrap();
    std::fs::write(cut.path().join("MANIFEST.tmp"), b"FRSLOGM\n").unwrap();
    let log = small(cut.path()).open().unwrap();
    assert!(log.recovery_info().created);
    let names = file_names(cut.path());
    assert!(!names.contains(&"MANIFEST.tmp".to_owned()), "{names:?}");
    assert!(names.contains(&"MANIFEST".to_owned()), "{names:?}");
}

#[test]
fn segment_files_of_another_log_are_refused() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    for dir in [&ours, &theirs] {
        let log = small(dir.path()).open().unwrap();
        append(&log, 0..200);
    }
    for name in file_names(ours.path()) {
        if name.starts_with("log.") {
            std::fs::remove_file(ours.path().join(name)).unwrap();
        }
    }
    for name in file_names(theirs.path()) {
        if name.starts_with("log.") {
            std::fs::copy(theirs.path().join(&name), ours.path().join(&name)).unwrap();
        }
    }
    match FasterLog::builder_in_dir(ours.path()).open() {
        Err(LogOpenError::DirDevice {
            dir,
            source:
                DeviceError::ForeignSegment {
                    path,
                    found,
                    expected,
                },
        }) => {
            assert_eq!(dir, ours.path());
            assert!(path.starts_with(ours.path()), "{}", path.display());
            assert_ne!(found, expected);
        }
        other => panic!("expected ForeignSegment, got {other:?}"),
    }
    // Their commit file is refused too.
    let ours = tempfile::tempdir().unwrap();
    drop(small(ours.path()).open().unwrap());
    std::fs::copy(
        theirs.path().join("commit.00000000"),
        ours.path().join("commit.00000000"),
    )
    .unwrap();
    assert!(matches!(
        FasterLog::builder_in_dir(ours.path()).open(),
        Err(LogOpenError::DirDevice {
            source: DeviceError::ForeignSegment { .. },
            ..
        })
    ));
}

#[test]
fn a_damaged_manifest_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    drop(small(dir.path()).open().unwrap());
    let path = dir.path().join(MANIFEST_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[30] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    match FasterLog::builder_in_dir(dir.path()).open() {
        Err(LogOpenError::Manifest { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected Manifest, got {other:?}"),
    }
}

#[test]
fn io_errors_and_bad_settings_name_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let inside = file.join("log");
    match FasterLog::builder_in_dir(&inside).open() {
        Err(LogOpenError::Io { path, source }) => {
            assert_eq!(path, inside);
            assert_eq!(source.kind(), std::io::ErrorKind::NotADirectory);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    for (builder, name) in [
        (small(dir.path()).segment_size(3 << 12), "segment_size"),
        (small(dir.path()).segment_size(2048), "segment_size"),
        (small(dir.path()).commit_slot_size(100), "commit_slot_size"),
        (
            small(dir.path()).commit_slot_size(32 << 20),
            "commit_slot_size",
        ),
        (small(dir.path()).page_size_bits(40), "page_size_bits"),
    ] {
        match builder.open() {
            Err(LogOpenError::InvalidSetting { setting, .. }) => assert_eq!(setting, name),
            other => panic!("{name}: expected InvalidSetting, got {other:?}"),
        }
    }
    // A refused creation leaves no manifest behind.
    assert!(!dir.path().join(MANIFEST_FILE).exists());
}
