//! Writers outrunning the flush: four threads enqueue a hundred times the memory budget with
//! commits in between; every entry comes back exactly once, in address order, with its
//! exact bytes — while writing, after the last commit, and after reopening.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{identify, payload, payload_len};
use faster_log::{Address, FasterLog, LogIterator};

const WRITERS: u32 = 4;
const PAGE_BITS: u32 = 14;
const PAGES: u64 = 4;
const MAX_PAYLOAD: usize = 1200;

/// Checks that `iter` yields exactly `counts[w]` entries of each writer `w`, in address
/// order and in each writer's order, with exact bytes; returns how many it saw.
fn verify(iter: &mut LogIterator, counts: &HashMap<u32, u64>) -> u64 {
    let mut next_seq: HashMap<u32, u64> = HashMap::new();
    let mut last = Address::INVALID;
    let mut total = 0;
    while let Some(entry) = iter.next().unwrap() {
        assert!(entry.address > last, "addresses out of order");
        last = entry.address;
        let (writer, seq, _) = identify(entry.payload);
        let expected = next_seq.entry(writer).or_insert(0);
        assert_eq!(seq, *expected, "writer {writer}: entry missing or repeated");
        *expected += 1;
        total += 1;
    }
    assert_eq!(&next_seq, counts);
    total
}

fn open(dir: &std::path::Path) -> FasterLog {
    FasterLog::builder_in_dir(dir)
        .page_size_bits(PAGE_BITS)
        .memory_pages(PAGES)
        .huge_pages(false)
        .segment_size(1 << 20)
        .open()
        .unwrap()
}

#[test]
fn writers_outrunning_the_flush_lose_and_repeat_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let budget = (1u64 << PAGE_BITS) * PAGES;
    let per_writer_bytes = 100 * budget / u64::from(WRITERS);
    let log = Arc::new(open(dir.path()));

    let done = Arc::new(AtomicBool::new(false));
    let committer = {
        let (log, done) = (Arc::clone(&log), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut commits = 0;
            while !done.load(Ordering::Acquire) {
                log.commit().unwrap();
                commits += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            commits
        })
    };
    // A tailing reader checks order and bytes while the writers run.
    let reader = {
        let mut iter = log.iter();
        std::thread::spawn(move || {
            let mut next_seq: HashMap<u32, u64> = HashMap::new();
            let mut seen = 0u64;
            while let Some(entry) = iter.next_blocking().unwrap() {
                let (writer, seq, _) = identify(entry.payload);
                let expected = next_seq.entry(writer).or_insert(0);
                assert_eq!(
                    seq, *expected,
                    "tailing reader: writer {writer} out of order"
                );
                *expected += 1;
                seen += 1;
            }
            seen
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut written = 0u64;
                let mut seq = 0u64;
                while written < per_writer_bytes {
                    let bytes = payload(w, seq, 0, payload_len(w, seq, MAX_PAYLOAD));
                    log.enqueue(&bytes).unwrap();
                    written += bytes.len() as u64;
                    seq += 1;
                }
                (w, seq)
            })
        })
        .collect();
    let counts: HashMap<u32, u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    done.store(true, Ordering::Release);
    assert!(committer.join().unwrap() > 0);
    log.commit().unwrap();
    let total: u64 = counts.values().sum();
    assert!(
        log.tail_address().raw() > 100 * budget,
        "wrote less than 100× the budget"
    );

    assert_eq!(verify(&mut log.iter(), &counts), total);
    let log = Arc::into_inner(log).unwrap();
    drop(log);
    assert_eq!(
        reader.join().unwrap(),
        total,
        "the tailing reader missed entries"
    );

    let log = open(dir.path());
    assert_eq!(verify(&mut log.iter(), &counts), total);
}
