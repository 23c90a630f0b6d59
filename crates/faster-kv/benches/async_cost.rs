//! What the async API costs when nothing waits for the device: one thread runs the same
//! operations on an in-memory store through `Session` (each call pins and unpins the session,
//! blocking if the device were needed) and through `AsyncSession` (each call returns a future,
//! polled once with a no-op waker, as an executor's first poll of a ready future). The two
//! alternate in rounds so that drift of the machine hits both; the report gives each one's
//! median round and the ratio async ÷ blocking per operation kind.
//!
//! Run with `cargo xtask bench async [KEYS] [ROUNDS] [KINDS]` (default 1000000 7
//! read,upsert,add).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use faster_kv::{AsyncSession, FasterKv, Session};

/// Operations per round and kind.
const OPS: u64 = 2_000_000;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let keys: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(7);
    let kinds: Vec<&str> = match args.get(2) {
        Some(list) => list.split(',').collect(),
        None => vec!["read", "upsert", "add"],
    };
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .memory_budget(keys * 24 * 8)
        .index_buckets((keys.next_power_of_two() / 2).max(1024))
        .open()
        .expect("open");
    let mut load = store.session().expect("session");
    for k in 0..keys {
        load.upsert(&k, &k).expect("upsert");
    }
    drop(load);
    let mut blocking = store.session().expect("session");
    let asynchronous = store.session().expect("session").into_async();
    println!("{keys} keys in memory, {OPS} operations per round and kind, {rounds} rounds");
    println!("| operation | blocking Mops/s | async Mops/s | async ÷ blocking |");
    println!("|---|---|---|---|");
    for kind in kinds {
        let mut b = Vec::new();
        let mut a = Vec::new();
        for round in 0..rounds {
            let seed = round as u64;
            // Which goes first alternates, so that neither always meets the caches the other
            // left.
            for blocking_turn in [round % 2 == 0, round % 2 != 0] {
                if blocking_turn {
                    b.push(run_blocking(&mut blocking, kind, keys, seed));
                } else {
                    a.push(run_async(&asynchronous, kind, keys, seed));
                }
            }
        }
        let (b, a) = (median(&mut b), median(&mut a));
        println!("| {kind} | {b:.2} | {a:.2} | {:.2} |", a / b);
    }
}

/// The keys of a round: a fixed pseudo-random walk over `0..keys`.
fn key_stream(keys: u64, seed: u64) -> impl Iterator<Item = u64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..OPS).map(move |_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % keys
    })
}

#[inline(never)]
fn run_blocking(s: &mut Session<u64, u64>, kind: &str, keys: u64, seed: u64) -> f64 {
    let mut check = 0u64;
    let t = Instant::now();
    for k in key_stream(keys, seed) {
        match kind {
            "read" => check ^= s.read(&k).expect("read").unwrap_or(0),
            "upsert" => s.upsert(&k, &k).expect("upsert"),
            _ => check ^= s.add(&k, 1).expect("add"),
        }
    }
    let rate = OPS as f64 / t.elapsed().as_secs_f64() / 1e6;
    std::hint::black_box(check);
    rate
}

#[inline(never)]
fn run_async(s: &AsyncSession<u64, u64>, kind: &str, keys: u64, seed: u64) -> f64 {
    let mut cx = Context::from_waker(Waker::noop());
    let mut check = 0u64;
    let t = Instant::now();
    for k in key_stream(keys, seed) {
        match kind {
            "read" => check ^= ready(&mut cx, s.read(&k)).unwrap_or(0),
            "upsert" => ready(&mut cx, s.upsert(&k, &k)),
            _ => check ^= ready(&mut cx, s.add(&k, 1)),
        }
    }
    let rate = OPS as f64 / t.elapsed().as_secs_f64() / 1e6;
    std::hint::black_box(check);
    rate
}

/// Polls `future` once: an operation on an in-memory store is ready at its first poll.
fn ready<T>(
    cx: &mut Context<'_>,
    future: impl Future<Output = Result<T, faster_kv::OpError>>,
) -> T {
    match pin!(future).poll(cx) {
        Poll::Ready(result) => result.expect("operation"),
        Poll::Pending => panic!("an in-memory operation waited for the device"),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
