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
        .auto_grow_index(false)
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

#[test]
fn a_small_index_grows_by_itself_as_keys_arrive_and_its_snapshot_follows() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .dir(dir.path())
        .page_size_bits(14)
        .memory_budget(8 << 14)
        .index_buckets(64)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    // 64 buckets hold about 450 keys before an eighth of them overflow.
    for k in 0..20_000u64 {
        s.upsert(&k, &(k + 1)).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let buckets = loop {
        let buckets = store.stats().index.unwrap().buckets;
        if buckets >= 2048 || std::time::Instant::now() > deadline {
            break buckets;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // 20,000 keys at most 70 % full of 7-entry buckets: at least 4096 buckets once it settles,
    // and no more than it needs (no growth while an eighth of buckets do not overflow).
    assert!((2048..=8192).contains(&buckets), "{buckets} buckets");
    for k in (0..20_000u64).step_by(7) {
        assert_eq!(s.read(&k).unwrap(), Some(k + 1), "key {k}");
    }
    store.checkpoint().unwrap().wait().unwrap();
    drop(s);
    drop(store);
    // The index snapshot is the grown table: 64 bytes a bucket, not a fixed default.
    let mut snapshot_bytes = 0;
    for entry in walk(dir.path()) {
        if entry
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("index"))
        {
            snapshot_bytes += std::fs::metadata(&entry).unwrap().len();
        }
    }
    assert!(
        snapshot_bytes >= buckets * 64 && snapshot_bytes <= 4 * 8192 * 64,
        "{snapshot_bytes} bytes of index snapshot for {buckets} buckets"
    );
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    let mut s = store.session().unwrap();
    assert_eq!(s.read(&19_999).unwrap(), Some(20_000));
}

#[test]
fn a_log_checkpoint_after_a_growth_recovers_every_key() {
    // Recovery replays the log from the index snapshot's start into a table of the snapshot's
    // size. Records written after a growth were chained in the doubled table, where each old
    // bucket's keys are split between two chains: replayed into the old size, only one
    // chain's newest record per tag would stay reachable. So a log checkpoint after a growth
    // takes an index snapshot even when asked not to.
    let dir = tempfile::tempdir().unwrap();
    let builder = || {
        FasterKv::builder()
            .dir(dir.path())
            .page_size_bits(14)
            .memory_budget(8 << 14)
            .index_buckets(64)
            .auto_grow_index(false)
    };
    let store: FasterKv<u64, u64> = builder().open().unwrap();
    let mut s = store.session().unwrap();
    for k in 0..20_000u64 {
        s.upsert(&spread(k), &k).unwrap();
    }
    store.checkpoint().unwrap().wait().unwrap();
    assert_eq!(store.grow_index().unwrap(), 128);
    for k in 20_000..40_000u64 {
        s.upsert(&spread(k), &k).unwrap();
    }
    let options = faster_kv::CheckpointOptions {
        log: faster_kv::LogCheckpointKind::FoldOver,
        index: false,
    };
    let info = store.checkpoint_with(options).unwrap().wait().unwrap();
    drop(s);
    drop(store);
    let (store, recovered) = builder().recover::<u64, u64>(None).unwrap();
    assert_eq!(recovered.token, info.token);
    let mut s = store.session().unwrap();
    let missing: Vec<u64> = (0..40_000u64)
        .filter(|&k| s.read(&spread(k)).unwrap() != Some(k))
        .collect();
    assert!(
        missing.is_empty(),
        "{} keys missing: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert_eq!(store.stats().index.unwrap().buckets, 128);
}

/// Key `k` scattered over the hash space, so that keys of one old bucket share tags and fall
/// on both sides of a split.
fn spread(k: u64) -> u64 {
    let mut z = k.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Growths and checkpoints started over and over from two threads: a growth that ends just
/// as a checkpoint starts from the rest it reached must leave the checkpoint's phases to the
/// checkpoint. (It used to advance them itself, without their entry work, and the checkpoint
/// then never finished.) Every checkpoint finishes and the store keeps every key.
#[test]
fn growths_racing_checkpoints_let_every_checkpoint_finish() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .dir(dir.path())
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .index_buckets(64)
        .auto_grow_index(false)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    for k in 0..2_000u64 {
        s.upsert(&k, &(k + 7)).unwrap();
    }
    drop(s);
    let stop = Arc::new(AtomicBool::new(false));
    let grower = {
        let (store, stop) = (store.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut grew = 0u32;
            while !stop.load(Ordering::Relaxed) && grew < 8 {
                match store.grow_index() {
                    Ok(_) => grew += 1,
                    Err(faster_kv::GrowError::Busy) => std::thread::yield_now(),
                    Err(e) => panic!("growth failed: {e}"),
                }
            }
            grew
        })
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let checkpointer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for _ in 0..60 {
                match store.checkpoint() {
                    Ok(handle) => {
                        handle.wait().unwrap();
                    }
                    Err(faster_kv::CheckpointError::Busy) => std::thread::yield_now(),
                    Err(e) => panic!("checkpoint: {e}"),
                }
            }
            let _ = done_tx.send(());
        })
    };
    assert!(
        done_rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .is_ok(),
        "a checkpoint never finished"
    );
    stop.store(true, Ordering::Relaxed);
    checkpointer.join().unwrap();
    assert!(grower.join().unwrap() > 0, "the index grew at least once");
    let mut s = store.session().unwrap();
    for k in 0..2_000u64 {
        assert_eq!(s.read(&k).unwrap(), Some(k + 7), "key {k}");
    }
}
