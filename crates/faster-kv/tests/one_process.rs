//! One open store per directory: a second open, from this process or another, fails with
//! `Locked` naming the directory; the lock goes with the store's last handle and session, and
//! with a process killed by SIGKILL.
//!
//! The cross-process test re-runs this test binary as the child (`FASTER_LOCK_CHILD_DIR`); the
//! child's code runs at the top of that same test, so it is never counted as a test of its own.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{FOLD_OVER, small_in};
use faster_kv::{FasterKv, OpenError};

const CHILD_ENV: &str = "FASTER_LOCK_CHILD_DIR";

fn open(dir: &Path) -> Result<FasterKv<u64, u64>, OpenError> {
    small_in(dir).open()
}

#[test]
fn a_second_open_in_this_process_is_locked_until_the_last_session_goes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).unwrap();
    let err = open(dir.path()).unwrap_err();
    match &err {
        OpenError::Locked {
            dir: locked,
            holder,
        } => {
            assert_eq!(locked, dir.path());
            assert_eq!(*holder, Some(std::process::id()));
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains(&dir.path().display().to_string()));
    // A session keeps the store (and the lock) after its last handle is dropped.
    let mut session = store.session().unwrap();
    session.upsert(&1, &1).unwrap();
    let clone = store.clone();
    drop(store);
    assert!(matches!(open(dir.path()), Err(OpenError::Locked { .. })));
    drop(clone);
    assert!(matches!(open(dir.path()), Err(OpenError::Locked { .. })));
    drop(session);
    // Dropped right after a checkpoint started: the drop waits for it, then unlocks.
    let store = open(dir.path()).unwrap();
    store.session().unwrap().upsert(&2, &2).unwrap();
    let handle = store.checkpoint().unwrap();
    drop(store);
    let store = open(dir.path()).unwrap();
    assert!(handle.is_finished());
    assert_eq!(
        store.opened().recovered().unwrap().token,
        handle.wait().unwrap().token
    );
    assert_eq!(store.session().unwrap().read(&2).unwrap(), Some(2));
}

/// The child: opens the store, writes keys `0..n` with a checkpoint after each thousand,
/// reports each checkpoint, and waits to be killed.
fn child(dir: &Path) -> ! {
    let store = open(dir).unwrap();
    let mut s = store.session().unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nOPEN").unwrap();
    for k in 0..5_000u64 {
        s.upsert(&k, &(k * 3)).unwrap();
        if k % 1_000 == 999 {
            let info = store.checkpoint_with(FOLD_OVER).unwrap().wait().unwrap();
            writeln!(out, "CHECKPOINT {} {}", info.token, k + 1).unwrap();
            out.flush().unwrap();
        }
    }
    writeln!(out, "DONE").unwrap();
    out.flush().unwrap();
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[test]
fn a_store_open_in_another_process_is_locked_until_that_process_dies() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "a_store_open_in_another_process_is_locked_until_that_process_dies",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut last = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("CHECKPOINT ") {
            let mut parts = rest.split(' ').map(|p| p.parse::<u64>().unwrap());
            last = Some((parts.next().unwrap(), parts.next().unwrap()));
        }
        if line == "DONE" {
            break;
        }
    }
    let (token, keys) = last.unwrap();
    match open(dir.path()).unwrap_err() {
        OpenError::Locked {
            dir: locked,
            holder,
        } => {
            assert_eq!(locked, dir.path());
            assert_eq!(holder, Some(child.id()));
        }
        other => panic!("{other}"),
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let store = open(dir.path()).unwrap();
    assert_eq!(store.opened().recovered().unwrap().token.get(), token);
    let mut s = store.session().unwrap();
    for k in 0..keys {
        assert_eq!(s.read(&k).unwrap(), Some(k * 3), "key {k}");
    }
}
