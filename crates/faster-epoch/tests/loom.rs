//! Loom models of the epoch protocol. Run with `cargo xtask loom`
//! (`RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p faster-epoch --test loom --release`).
#![cfg(loom)]
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

use faster_epoch::Epoch;

/// A reader protected while a writer replaces the object it reads: the retiring action may
/// run before, after or during the reader's visit, but never while the reader can still see
/// the retired object — and it runs exactly once.
#[test]
fn action_never_runs_under_a_reader_of_the_old_state() {
    loom::model(|| {
        let epoch = Epoch::with_capacity(2).unwrap();
        // Which object is live (0 or 1), and whether each was retired.
        let live = Arc::new(AtomicUsize::new(0));
        let retired = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let runs = Arc::new(AtomicUsize::new(0));

        let reader = {
            let (epoch, live, retired) = (epoch.clone(), live.clone(), retired.clone());
            thread::spawn(move || {
                let handle = epoch.register().unwrap();
                let mut guard = handle.protect();
                let seen = live.load(Ordering::Acquire);
                assert!(
                    !retired[seen].load(Ordering::Acquire),
                    "read a retired object"
                );
                guard.refresh();
                let seen = live.load(Ordering::Acquire);
                assert!(
                    !retired[seen].load(Ordering::Acquire),
                    "read a retired object"
                );
            })
        };

        let writer = {
            let (epoch, live, retired, runs) =
                (epoch.clone(), live.clone(), retired.clone(), runs.clone());
            thread::spawn(move || {
                let _handle = epoch.register().unwrap();
                live.store(1, Ordering::Release);
                epoch.bump_with(move || {
                    retired[0].store(true, Ordering::Release);
                    runs.fetch_add(1, Ordering::SeqCst);
                });
            })
        };

        reader.join().unwrap();
        writer.join().unwrap();
        epoch.try_drain();
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the action ran exactly once"
        );
    });
}

/// Two writers bump concurrently while a reader refreshes: both actions run exactly once.
#[test]
fn concurrent_bumps_each_run_once() {
    loom::model(|| {
        let epoch = Epoch::with_capacity(3).unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let bumpers: Vec<_> = (0..2)
            .map(|_| {
                let (epoch, runs) = (epoch.clone(), runs.clone());
                thread::spawn(move || {
                    let handle = epoch.register().unwrap();
                    let _guard = handle.protect();
                    epoch.bump_with(move || {
                        runs.fetch_add(1, Ordering::SeqCst);
                    });
                })
            })
            .collect();
        let handle = epoch.register().unwrap();
        let mut guard = handle.protect();
        guard.refresh();
        drop(guard);
        for b in bumpers {
            b.join().unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(epoch.pending_actions(), 0);
    });
}

/// A one-slot table shared by two threads: a slot is never owned twice, and a released slot
/// can be claimed again.
#[test]
fn a_slot_is_owned_by_one_handle_at_a_time_and_reused() {
    loom::model(|| {
        let epoch = Epoch::with_capacity(1).unwrap();
        let owners = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (epoch, owners) = (epoch.clone(), owners.clone());
                thread::spawn(move || {
                    if let Ok(handle) = epoch.register() {
                        assert_eq!(owners.fetch_add(1, Ordering::SeqCst), 0, "slot owned twice");
                        let _guard = handle.protect();
                        owners.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(epoch.register().is_ok(), "a released slot is free again");
    });
}
