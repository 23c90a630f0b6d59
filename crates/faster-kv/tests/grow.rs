//! Growing the index while sessions write, and excluding checkpoints meanwhile.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use faster_kv::FasterKv;

#[test]
fn the_index_doubles_while_sessions_write_and_every_key_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .dir(dir.path())
        .page_size_bits(14)
        .memory_budget(8 << 14)
        .index_buckets(64)
        .open()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let written: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let (store, stop, written) = (store.clone(), Arc::clone(&stop), Arc::clone(&written));
            std::thread::spawn(move || {
                let mut s = store.session().unwrap();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) || i < 20_000 {
                    s.upsert(&(i * 2 + w), &(i * 10 + w)).unwrap();
                    i += 1;
                    written[w as usize].store(i, Ordering::Release);
                }
            })
        })
        .collect();
    while written[0].load(Ordering::Acquire) < 5_000 {
        std::thread::yield_now();
    }
    assert_eq!(store.grow_index().unwrap(), 128);
    assert_eq!(store.grow_index().unwrap(), 256);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let mut s = store.session().unwrap();
    for w in 0..2u64 {
        for i in 0..written[w as usize].load(Ordering::Acquire) {
            assert_eq!(
                s.read(&(i * 2 + w)).unwrap(),
                Some(i * 10 + w),
                "key {}",
                i * 2 + w
            );
        }
    }
    // A checkpoint after growing records the grown table and recovers it.
    store.checkpoint().unwrap().wait().unwrap();
    drop(s);
    drop(store);
    let (store, _) = FasterKv::builder()
        .dir(dir.path())
        .page_size_bits(14)
        .memory_budget(8 << 14)
        .index_buckets(64)
        .recover::<u64, u64>(None)
        .unwrap();
    let mut s = store.session().unwrap();
    assert_eq!(s.read(&2).unwrap(), Some(10));
}
