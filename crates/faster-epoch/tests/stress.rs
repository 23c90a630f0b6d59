//! Many threads reading a shared pointer under protection while others replace it and defer
//! its retirement: no thread ever sees a retired node, and every action runs exactly once.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use faster_epoch::Epoch;

struct Node {
    value: u64,
    retired: AtomicBool,
}

/// Addresses of replaced nodes, freed only at the end of the test so that a protocol
/// violation shows up as a `retired` flag rather than as a use-after-free.
#[derive(Default)]
struct Graveyard(Mutex<Vec<usize>>);

impl Drop for Graveyard {
    fn drop(&mut self) {
        let graves = self
            .0
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for addr in graves.drain(..) {
            // SAFETY: rule E5 — every address here came from `Box::into_raw` in a writer, was
            // unlinked from the shared pointer, and was pushed by the action that retired it,
            // which runs exactly once; no thread runs any more.
            drop(unsafe { Box::from_raw(addr as *mut Node) });
        }
    }
}

#[test]
fn retired_nodes_are_never_seen_and_each_action_runs_once() {
    const THREADS: usize = 6;
    const ITERS: u64 = 100_000;

    let epoch = Epoch::with_capacity(THREADS).unwrap();
    let shared = Arc::new(AtomicPtr::new(Box::into_raw(Box::new(Node {
        value: 0,
        retired: AtomicBool::new(false),
    }))));
    let graveyard = Arc::new(Graveyard::default());
    let bumps = Arc::new(AtomicUsize::new(0));
    let actions_run = Arc::new(AtomicUsize::new(0));
    let violations = Arc::new(AtomicU64::new(0));

    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (epoch, shared, graveyard) = (epoch.clone(), shared.clone(), graveyard.clone());
            let (bumps, actions_run, violations) =
                (bumps.clone(), actions_run.clone(), violations.clone());
            std::thread::spawn(move || {
                let handle = epoch.register().unwrap();
                let mut guard = handle.protect();
                for i in 0..ITERS {
                    let ptr = shared.load(Ordering::Acquire);
                    // SAFETY: rule E4 — `ptr` was read while protected; it is retired only by an
                    // action deferred after it was unlinked, which cannot run before this guard
                    // refreshes — and it is freed only after all threads finish.
                    let node = unsafe { &*ptr };
                    let seen = node.value;
                    if (i + t as u64).is_multiple_of(3) {
                        // Writer step: replace the node, retire the old one later.
                        let fresh = Box::into_raw(Box::new(Node {
                            value: seen + 1,
                            retired: AtomicBool::new(false),
                        }));
                        let old = shared.swap(fresh, Ordering::AcqRel) as usize;
                        let (graveyard, actions_run) = (graveyard.clone(), actions_run.clone());
                        bumps.fetch_add(1, Ordering::SeqCst);
                        epoch.bump_with(move || {
                            // SAFETY: rule E5 — `old` came from `Box::into_raw` and is freed
                            // only by the graveyard, which this action keeps alive and which
                            // receives `old` only here, in the action's one run.
                            unsafe { &*(old as *const Node) }
                                .retired
                                .store(true, Ordering::SeqCst);
                            graveyard.0.lock().unwrap().push(old);
                            actions_run.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                    // Still protected: the node we read must still be live.
                    if node.retired.load(Ordering::SeqCst) {
                        violations.fetch_add(1, Ordering::SeqCst);
                    }
                    if i % 16 == 0 {
                        guard.refresh();
                    }
                    if i % 1024 == 0 {
                        drop(guard);
                        guard = handle.protect();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    epoch.try_drain();
    assert_eq!(
        violations.load(Ordering::SeqCst),
        0,
        "a retired node was read"
    );
    assert_eq!(
        actions_run.load(Ordering::SeqCst),
        bumps.load(Ordering::SeqCst),
        "every deferred action ran exactly once"
    );
    assert_eq!(epoch.pending_actions(), 0);
    let last = shared.load(Ordering::Acquire);
    // SAFETY: rule E4 — all threads have joined; the current node was never unlinked, so no
    // deferred action retires it, and it is owned by nobody else.
    drop(unsafe { Box::from_raw(last) });
}
