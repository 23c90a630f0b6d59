//! Loom model of the tail: concurrent reservations and page turns. Run with `cargo xtask loom`.
#![cfg(loom)]
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use loom::sync::Arc;
use loom::thread;

use faster_hlog::loom_api::{Reserve, Tail, Turn};

/// Two threads allocate 24-byte records into 64-byte pages until they reach page 2: no two
/// reservations overlap, none crosses a page end, and each page is turned exactly once.
#[test]
fn reservations_never_overlap_and_each_page_turns_once() {
    loom::model(|| {
        let tail = Arc::new(Tail::new(0, 0, 64));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let tail = tail.clone();
                thread::spawn(move || {
                    let mut mine = Vec::new();
                    let mut turns = Vec::new();
                    for _ in 0..3 {
                        loop {
                            match tail.reserve(24) {
                                Reserve::Reserved { page, offset } => {
                                    mine.push((page, offset));
                                    break;
                                }
                                Reserve::PageFull { page } => {
                                    if page >= 1 {
                                        return (mine, turns);
                                    }
                                    if tail.turn_page(page, |_| true) == Turn::Turned {
                                        turns.push(page);
                                    }
                                }
                            }
                        }
                    }
                    (mine, turns)
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut turns = Vec::new();
        for t in threads {
            let (mine, turned) = t.join().unwrap();
            all.extend(mine);
            turns.extend(turned);
        }
        for &(_, offset) in &all {
            assert!(offset + 24 <= 64, "a reservation crosses the page end");
        }
        all.sort_unstable();
        for w in all.windows(2) {
            assert!(
                w[0].0 != w[1].0 || w[0].1 + 24 <= w[1].1,
                "overlapping reservations {w:?}"
            );
        }
        turns.sort_unstable();
        turns.dedup_by(|a, b| {
            assert_ne!(a, b, "page turned twice");
            false
        });
    });
}

/// A turn that finds the next frame busy leaves the tail where it was.
#[test]
fn a_turn_waits_for_the_next_frame() {
    loom::model(|| {
        let tail = Tail::new(0, 60, 64);
        assert_eq!(tail.reserve(8), Reserve::PageFull { page: 0 });
        assert_eq!(tail.turn_page(0, |_| false), Turn::NotReady);
        assert_eq!(tail.load(), (0, 60));
        assert_eq!(tail.turn_page(0, |_| true), Turn::Turned);
        assert_eq!(tail.turn_page(0, |_| true), Turn::AlreadyTurned);
        assert_eq!(tail.reserve(8), Reserve::Reserved { page: 1, offset: 0 });
    });
}
