//! [`DirLock`]: one holder at a time, whether the other holder is in this process or
//! another, and a lock that dies with its process.
//!
//! The cross-process test runs this test binary again as a child (the environment variable
//! `FASTER_LOCK_CHILD_DIR` tells it which directory to lock); the child takes the lock, says
//! so on stdout and waits to be killed.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use faster_device::{DirLock, LOCK_FILE, LockError};

const CHILD_ENV: &str = "FASTER_LOCK_CHILD_DIR";
const CROSS_PROCESS_TEST: &str = "a_lock_held_by_another_process_names_it_and_dies_with_it";

fn holder_pid(dir: &Path) -> Option<u32> {
    DirLock::holder(dir).unwrap().map(|h| h.pid)
}

#[test]
fn a_second_acquire_in_the_same_process_is_refused_until_the_first_drops() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(holder_pid(dir.path()), None, "no LOCK file yet");
    let me = std::process::id();

    let first = DirLock::acquire(dir.path()).unwrap();
    assert_eq!(first.dir(), dir.path());
    assert_eq!(
        std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap(),
        format!("{me}\n")
    );
    assert_eq!(holder_pid(dir.path()), Some(me));
    match DirLock::acquire(dir.path()) {
        Err(LockError::Locked {
            dir: locked,
            holder,
        }) => {
            assert_eq!(locked, dir.path());
            assert_eq!(holder, Some(me));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    let message = DirLock::acquire(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    // The refused attempt left the holder's pid in place.
    assert_eq!(
        std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap(),
        format!("{me}\n")
    );

    drop(first);
    assert_eq!(holder_pid(dir.path()), None, "dropping releases the lock");
    let again = DirLock::acquire(dir.path()).unwrap();
    assert_eq!(holder_pid(dir.path()), Some(me));
    drop(again);
}

#[test]
fn a_missing_directory_is_an_io_error_naming_the_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent");
    match DirLock::acquire(&missing) {
        Err(LockError::Io { path, source }) => {
            assert_eq!(path, missing.join(LOCK_FILE));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert_eq!(holder_pid(&missing), None);
}

/// Kills the child if the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_lock_held_by_another_process_names_it_and_dies_with_it() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        hold_until_killed(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            CROSS_PROCESS_TEST,
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let child_pid = child.0.id();
    let stdout = child.0.stdout.take().unwrap();
    let announced = BufReader::new(stdout)
        .lines()
        .map(|line| line.unwrap())
        // The harness prints the test's name on the same line first.
        .find_map(|line| line.rsplit_once("LOCKED ").map(|(_, pid)| pid.to_owned()))
        .expect("the child ended without taking the lock");
    assert_eq!(announced, child_pid.to_string());

    match DirLock::acquire(dir.path()) {
        Err(LockError::Locked {
            dir: locked,
            holder,
        }) => {
            assert_eq!(locked, dir.path());
            assert_eq!(holder, Some(child_pid));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert_eq!(holder_pid(dir.path()), Some(child_pid));

    // SIGKILL: the process gets no chance to clean up; the kernel releases the lock.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    assert_eq!(holder_pid(dir.path()), None);
    let lock = DirLock::acquire(dir.path()).unwrap();
    assert_eq!(holder_pid(dir.path()), Some(std::process::id()));
    assert_eq!(
        std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap(),
        format!("{}\n", std::process::id())
    );
    drop(lock);
}

/// The child's side: take the lock, announce it, and wait to be killed.
fn hold_until_killed(dir: &Path) -> ! {
    let _lock = DirLock::acquire(dir).unwrap();
    println!("LOCKED {}", std::process::id());
    loop {
        std::thread::park();
    }
}
