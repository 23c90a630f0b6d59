//! Single-threaded behaviour of the epoch: slots, guards, deferred actions, markers.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use faster_epoch::{Epoch, EpochError};

fn counter() -> (Arc<AtomicUsize>, impl Fn() -> Box<dyn FnOnce() + Send>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    (count, move || {
        let c = Arc::clone(&c);
        Box::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
        })
    })
}

#[test]
fn action_runs_at_once_when_nobody_is_protected() {
    let epoch = Epoch::new();
    let _handle = epoch.register().unwrap();
    let (count, action) = counter();
    let before = epoch.current();
    assert_eq!(epoch.bump_with(action()), before + 1);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(epoch.pending_actions(), 0);
}

#[test]
fn action_waits_for_a_protected_thread_to_refresh() {
    let epoch = Epoch::new();
    let a = epoch.register().unwrap();
    let b = epoch.register().unwrap();
    let (count, action) = counter();
    let mut guard_a = a.protect();
    let entered = guard_a.epoch();
    epoch.bump_with(action());
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "a is still in the old epoch"
    );
    assert_eq!(epoch.pending_actions(), 1);

    // Another thread's activity does not release it while `a` stays in the old epoch.
    let mut guard_b = b.protect();
    guard_b.refresh();
    drop(guard_b);
    assert_eq!(epoch.try_drain(), 0);
    assert_eq!(count.load(Ordering::SeqCst), 0);

    assert_eq!(guard_a.refresh(), entered + 1);
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "refresh moved a on: the action ran"
    );
    assert_eq!(epoch.pending_actions(), 0);
}

#[test]
fn action_runs_when_the_last_old_thread_unprotects() {
    let epoch = Epoch::new();
    let a = epoch.register().unwrap();
    let (count, action) = counter();
    let guard = a.protect();
    epoch.bump_with(action());
    assert_eq!(count.load(Ordering::SeqCst), 0);
    drop(guard);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn action_runs_when_the_old_thread_drops_its_handle() {
    let epoch = Epoch::new();
    let (count, action) = counter();
    let a = epoch.register().unwrap();
    {
        let guard = a.protect();
        epoch.bump_with(action());
        // Leak-free early exit of a thread: guard then handle go away.
        drop(guard);
    }
    drop(a);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn actions_run_in_trigger_order_of_safety_and_each_once() {
    let epoch = Epoch::new();
    let a = epoch.register().unwrap();
    let b = epoch.register().unwrap();
    let (count, action) = counter();
    let mut guard_a = a.protect();
    epoch.bump_with(action()); // trigger e
    let mut guard_b = b.protect(); // b enters at e + 1
    epoch.bump_with(action()); // trigger e + 1
    guard_a.refresh(); // a at e + 2; b still at e + 1: only the first may run
    assert_eq!(count.load(Ordering::SeqCst), 1);
    guard_b.refresh();
    assert_eq!(count.load(Ordering::SeqCst), 2);
    for _ in 0..10 {
        guard_a.refresh();
        guard_b.refresh();
        epoch.try_drain();
    }
    assert_eq!(count.load(Ordering::SeqCst), 2, "no action ran twice");
}

#[test]
fn nested_guard_refresh_does_not_move_the_outer_protection() {
    let epoch = Epoch::new();
    let a = epoch.register().unwrap();
    let (count, action) = counter();
    let outer = a.protect();
    let entered = outer.epoch();
    epoch.bump_with(action());
    {
        let mut inner = a.protect();
        assert_eq!(
            inner.refresh(),
            entered,
            "inner refresh must not move the epoch"
        );
    }
    assert!(a.is_protected(), "the outer guard still protects");
    assert_eq!(count.load(Ordering::SeqCst), 0);
    drop(outer);
    assert!(!a.is_protected());
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn full_table_is_an_error_and_a_freed_slot_is_reused() {
    let epoch = Epoch::with_capacity(2).unwrap();
    let a = epoch.register().unwrap();
    let b = epoch.register().unwrap();
    assert_eq!(
        epoch.register().unwrap_err(),
        EpochError::TableFull { capacity: 2 }
    );
    assert_eq!(epoch.registered(), 2);
    let freed = b.slot_index();
    drop(b);
    let c = epoch.register().unwrap();
    assert_eq!(c.slot_index(), freed);
    assert_ne!(a.slot_index(), c.slot_index());
}

#[test]
fn registration_takes_the_lowest_free_slot_and_scans_see_every_claimed_one() {
    let epoch = Epoch::new();
    let mut handles: Vec<_> = (0..10).map(|_| epoch.register().unwrap()).collect();
    let indices: Vec<_> = handles.iter().map(|h| h.slot_index()).collect();
    assert_eq!(indices, (0..10).collect::<Vec<_>>());
    // Only the highest slot stays, protected: a drain must still find it.
    let last = handles.pop().unwrap();
    handles.clear();
    let mut guard = last.protect();
    let (count, action) = counter();
    epoch.bump_with(action());
    epoch.try_drain();
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "slot 9 still holds the old epoch"
    );
    let again = epoch.register().unwrap();
    assert_eq!(again.slot_index(), 0, "the lowest free slot");
    guard.refresh();
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn zero_capacity_is_an_error() {
    assert_eq!(
        Epoch::with_capacity(0).unwrap_err(),
        EpochError::InvalidCapacity { capacity: 0 }
    );
}

#[test]
fn exited_threads_free_their_slots() {
    let epoch = Epoch::with_capacity(3).unwrap();
    for i in 0..200 {
        let epoch = Arc::clone(&epoch);
        std::thread::spawn(move || {
            let handle = epoch
                .register()
                .unwrap_or_else(|e| panic!("thread {i} found no slot: {e}"));
            let mut guard = handle.protect();
            guard.refresh();
        })
        .join()
        .unwrap();
    }
    assert_eq!(epoch.registered(), 0);
    assert_eq!(epoch.protected(), 0);
}

#[test]
fn markers_count_only_protected_threads() {
    let epoch = Epoch::new();
    let a = epoch.register().unwrap();
    let b = epoch.register().unwrap();
    let _idle = epoch.register().unwrap(); // registered, never protected
    let ga = a.protect();
    let gb = b.protect();
    assert!(!epoch.all_protected_marked(7));
    a.set_marker(7);
    assert!(!epoch.all_protected_marked(7), "b has not marked");
    b.set_marker(7);
    assert!(epoch.all_protected_marked(7));
    assert_eq!(b.marker(), 7);
    b.set_marker(8);
    assert!(!epoch.all_protected_marked(7));
    drop(gb); // b leaves: it no longer holds anyone up
    assert!(epoch.all_protected_marked(7));
    drop(ga);
}

#[test]
fn a_forgotten_guard_stops_protecting_when_its_handle_drops() {
    let (count, action) = counter();
    let epoch = Epoch::new();
    let a = epoch.register().unwrap();
    let guard = a.protect();
    epoch.bump_with(action());
    std::mem::forget(guard); // safe code may leak a guard
    assert_eq!(count.load(Ordering::SeqCst), 0);
    drop(a); // the handle clears its slot whatever its guards did
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(epoch.registered(), 0);
}

#[test]
fn actions_may_bump_from_inside_an_action() {
    let epoch = Epoch::new();
    let (count, action) = counter();
    let inner_epoch = Arc::clone(&epoch);
    let inner = action();
    epoch.bump_with(move || {
        inner_epoch.bump_with(inner);
    });
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn an_owning_guard_protects_until_it_gives_its_handle_back() {
    let epoch = Epoch::with_capacity(1).unwrap();
    let (count, action) = counter();
    let guard = epoch.register().unwrap().into_guard();
    epoch.bump_with(action());
    assert_eq!(count.load(Ordering::SeqCst), 0, "the owning guard protects");
    assert_eq!(epoch.registered(), 1);
    let handle = guard
        .into_handle()
        .expect("an owning guard returns its handle");
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "giving the handle back unprotects"
    );
    assert!(!handle.is_protected());
    drop(handle);
    assert_eq!(epoch.registered(), 0);

    // Dropping an owning guard frees the slot too.
    let guard = epoch.register().unwrap().into_guard();
    drop(guard);
    assert_eq!(epoch.registered(), 0);

    // A borrowed guard has no handle to give back, but still unprotects.
    let handle = epoch.register().unwrap();
    assert!(handle.protect().into_handle().is_none());
    assert!(!handle.is_protected());
}
