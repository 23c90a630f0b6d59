//! A lock dropped and taken again at once while another thread spawns processes: each child
//! holds copies of the parent's descriptors, the lock file's among them, from its fork to its
//! exec. In a test binary of its own, because those copies also delay the release that other
//! lock tests observe.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::process::Command;

use faster_device::{DirLock, LockError};

/// A lock dropped and taken again at once must still succeed, while a lock
/// that a live `DirLock` holds is refused at once.
#[test]
fn a_lock_taken_again_at_once_waits_out_a_copy_lent_to_a_child_being_spawned() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
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
    for i in 0..300 {
        let lock = DirLock::acquire(dir.path()).unwrap_or_else(|e| panic!("acquire {i}: {e}"));
        let started = std::time::Instant::now();
        assert!(matches!(
            DirLock::acquire(dir.path()),
            Err(LockError::Locked { .. })
        ));
        assert!(
            started.elapsed() < faster_device::LENT_LOCK_WAIT_MAX,
            "a lock held by a live DirLock is refused without waiting"
        );
        drop(lock);
    }
    stop.store(true, Ordering::Relaxed);
    assert!(spawner.join().unwrap() > 0);
}
