//! Throughput over time while checkpoints run: two threads add 1 to uniformly random keys of
//! a loaded store (one operation at a time, no prefetching) while a third takes a checkpoint
//! every PERIOD seconds; every 100 ms it prints the throughput of the last interval and the
//! log's regions, and each checkpoint's duration, so that the dip during a checkpoint and the
//! time it lasts can be read off. `none` as the kind runs the same load without checkpoints.
//!
//! Run with `cargo xtask bench checkpoint-load [KEYS] [PERIOD] [SECONDS] [fold-over|snapshot|incremental|none]`
//! (default 10000000 1 10 snapshot).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use faster_kv::{CheckpointOptions, FasterKv, LogCheckpointKind};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let keys: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let period: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let seconds: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10.0);
    let kind = match args.get(3).map(String::as_str) {
        Some("fold-over") => Some(LogCheckpointKind::FoldOver),
        Some("incremental") => Some(LogCheckpointKind::IncrementalSnapshot),
        Some("none") => None,
        _ => Some(LogCheckpointKind::Snapshot),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // Eight times the data, as `faster bench --checkpoint-every` gives both its stores.
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .dir(dir.path())
        .memory_budget(keys * 24 * 8)
        .index_buckets((keys.next_power_of_two() / 2).max(1024))
        .open()
        .expect("open");
    let t = Instant::now();
    std::thread::scope(|scope| {
        for part in 0..2u64 {
            let store = &store;
            scope.spawn(move || {
                let mut s = store.session().expect("session");
                let mut p = s.pin();
                for k in (part..keys).step_by(2) {
                    p.upsert(&k, &k).expect("upsert");
                }
            });
        }
    });
    println!(
        "{keys} keys loaded in {:.1} s; {kind:?} checkpoints every {period} s",
        t.elapsed().as_secs_f64()
    );
    let done = AtomicBool::new(false);
    let ops = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for part in 0..2u64 {
            let (store, done, ops) = (&store, &done, &ops);
            scope.spawn(move || {
                let mut s = store.session().expect("session");
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ part;
                while !done.load(Ordering::Relaxed) {
                    let mut p = s.pin();
                    for _ in 0..1024 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        p.add(&(x % keys), 1).expect("add");
                    }
                    ops.fetch_add(1024, Ordering::Relaxed);
                }
            });
        }
        if let Some(kind) = kind {
            let (store, done) = (&store, &done);
            scope.spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_secs_f64(period));
                    if done.load(Ordering::Relaxed) {
                        break;
                    }
                    let began = start.elapsed().as_secs_f64();
                    let info = store
                        .checkpoint_with(CheckpointOptions {
                            log: kind,
                            index: false,
                        })
                        .expect("start a checkpoint")
                        .wait()
                        .expect("checkpoint");
                    println!(
                        "  checkpoint from {began:6.2} s: {:.3} s",
                        info.duration.as_secs_f64()
                    );
                }
            });
        }
        let mut last = 0;
        let mut last_t = 0.0;
        while start.elapsed().as_secs_f64() < seconds {
            std::thread::sleep(Duration::from_millis(100));
            let now = ops.load(Ordering::Relaxed);
            let t = start.elapsed().as_secs_f64();
            let r = store.regions();
            println!(
                "{t:6.2} s: {:6.2} Mops/s | log MiB: tail {:>6} read-only {:>6} head {:>6} flushed {:>6}",
                (now - last) as f64 / (t - last_t) / 1e6,
                r.tail.raw() >> 20,
                r.read_only.raw() >> 20,
                r.head.raw() >> 20,
                r.flushed_until.raw() >> 20,
            );
            last = now;
            last_t = t;
        }
        done.store(true, Ordering::Relaxed);
    });
    println!(
        "total: {:.2} Mops/s",
        ops.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64() / 1e6
    );
}
