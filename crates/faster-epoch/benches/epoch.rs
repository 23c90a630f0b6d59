//! Cost of the epoch's hot paths: ns per refresh and per protect/unprotect, on 1 and 2 threads.
//!
//! Run with `cargo xtask bench epoch` (or `cargo bench -p faster-epoch --bench epoch`).
//! Each figure is the median of five runs of `ITERS` operations per thread.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use faster_epoch::Epoch;

const ITERS: u64 = 20_000_000;
const RUNS: usize = 5;

#[derive(Clone, Copy)]
enum Op {
    /// `guard.refresh()` while nobody bumps: the common case.
    Refresh,
    /// `guard.refresh()` while another thread bumps the epoch in a loop.
    RefreshWhileBumping,
    /// `handle.protect()` then drop.
    ProtectUnprotect,
    /// `handle.protect()` then drop while an action waits for a thread protected in an old
    /// epoch: every unprotect tries to drain it (as operations do while a page flush waits).
    ProtectUnprotectPending,
}

impl Op {
    /// Operations per thread and run: the pending case costs far more per operation.
    fn iters(self) -> u64 {
        match self {
            Self::ProtectUnprotectPending => ITERS / 20,
            _ => ITERS,
        }
    }
}

fn run(op: Op, threads: usize) -> f64 {
    let epoch = Epoch::new();
    let barrier = Arc::new(Barrier::new(threads + 1));
    let stop = Arc::new(AtomicBool::new(false));
    // Holds an action back for the whole run: protected in the epoch before its bump.
    let holder = matches!(op, Op::ProtectUnprotectPending).then(|| {
        let held = Arc::clone(&epoch);
        let stop = Arc::clone(&stop);
        let (ready, protected) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let handle = held.register().expect("room for the holder");
            let guard = handle.protect();
            ready.send(()).expect("bench waits");
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            drop(guard);
        });
        protected.recv().expect("holder protected");
        epoch.bump_with(|| {});
        thread
    });
    let bumper = matches!(op, Op::RefreshWhileBumping).then(|| {
        let epoch = Arc::clone(&epoch);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                epoch.bump();
                std::thread::yield_now();
            }
        })
    });
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let epoch = Arc::clone(&epoch);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let handle = epoch
                    .register()
                    .expect("the table has room for the bench threads");
                barrier.wait();
                let start = Instant::now();
                match op {
                    Op::Refresh | Op::RefreshWhileBumping => {
                        let mut guard = handle.protect();
                        for _ in 0..ITERS {
                            black_box(guard.refresh());
                        }
                    }
                    Op::ProtectUnprotect | Op::ProtectUnprotectPending => {
                        for _ in 0..op.iters() {
                            let guard = handle.protect();
                            black_box(&guard);
                        }
                    }
                }
                start.elapsed().as_nanos() as f64 / op.iters() as f64
            })
        })
        .collect();
    barrier.wait();
    let per_op: Vec<f64> = workers
        .into_iter()
        .map(|w| w.join().expect("bench thread"))
        .collect();
    stop.store(true, Ordering::Relaxed);
    if let Some(b) = bumper {
        b.join().expect("bumper thread");
    }
    if let Some(h) = holder {
        h.join().expect("holder thread");
    }
    per_op.iter().sum::<f64>() / per_op.len() as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    println!("faster-epoch: ns per operation per thread (median of {RUNS} runs of {ITERS} ops)");
    println!("{:<30} {:>10} {:>10}", "operation", "1 thread", "2 threads");
    for (name, op) in [
        ("refresh", Op::Refresh),
        ("refresh, epoch moving", Op::RefreshWhileBumping),
        ("protect + unprotect", Op::ProtectUnprotect),
        ("protect + unprotect, pending", Op::ProtectUnprotectPending),
    ] {
        let one = median((0..RUNS).map(|_| run(op, 1)).collect());
        let two = median((0..RUNS).map(|_| run(op, 2)).collect());
        println!("{name:<30} {one:>10.2} {two:>10.2}");
    }
}
