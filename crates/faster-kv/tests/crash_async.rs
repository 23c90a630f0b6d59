//! Crash test of async operations with real processes killed by SIGKILL at random moments:
//! three `AsyncSession`s on a tokio runtime keep up to 32 operations each in flight (counter
//! increments whose records are mostly on the device, so they wait for reads, and upserts),
//! while checkpoints run back to back and compactions run beside them. After each kill,
//! recovery must give every session a prefix of its operations (minus those its commit point
//! excludes): nothing an in-flight future did leaks past a commit point, nothing before one is
//! lost.
//!
//! Seeds as in `crash.rs`: `FASTER_CRASH_SEEDS=N`, `FASTER_CRASH_FIRST_SEED`,
//! `FASTER_CRASH_SEED=S`. A failing run prints its seed.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod cpr_common;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cpr_common::child::{exit_on_panic, recover_or_open, run_and_kill};
use cpr_common::{check_killed_life, counter, is_increment, key, value};
use faster_device::{Device, FaultDevice, FileDevice};
use faster_kv::{AsyncSession, CompactionPolicy, FasterKv, FasterKvBuilder, OpFuture, SessionId};

const DIR_ENV: &str = "FASTER_ASYNC_CRASH_DIR";
const SEED_ENV: &str = "FASTER_ASYNC_CRASH_SEED";
const TEST: &str = "sigkill_with_async_operations_in_flight_recovers_a_prefix_of_every_session";
const SESSIONS: u64 = 3;
/// Operations each session keeps in flight.
const DEPTH: usize = 32;

/// The store in `dir`: its log on segment files behind a fault device that delivers every
/// completion `delay` late from a timer thread (so reads go pending and futures wait for real
/// wake-ups; the page cache would answer them at once otherwise), checkpoints beside them.
fn builder(dir: &Path, delay: Duration) -> FasterKvBuilder {
    let files = FileDevice::builder(dir.join("log"))
        .segment_size(1 << 16)
        .open()
        .unwrap();
    let device = Arc::new(FaultDevice::new(Arc::new(files)));
    device.set_delay(delay).unwrap();
    FasterKv::builder()
        .device(device as Arc<dyn Device>)
        .checkpoint_dir(dir.join("checkpoints"))
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .index_buckets(1 << 14)
        .compaction(CompactionPolicy {
            check_every: Duration::from_millis(5),
            ..CompactionPolicy::with_budget(4 << 20)
        })
}

/// An operation in flight.
enum InFlight {
    Add(OpFuture<u64, u64, u64>),
    Upsert(OpFuture<u64, u64, ()>),
}

/// One session's workload: operations in serial order, `DEPTH` of them started before the
/// oldest is awaited.
async fn session_loop(session: AsyncSession<u64, u64>, id: u64, mut serial: u64) {
    let mut in_flight = std::collections::VecDeque::new();
    loop {
        serial += 1;
        in_flight.push_back(if is_increment(serial) {
            InFlight::Add(session.add(&counter(id, serial), 1))
        } else {
            InFlight::Upsert(session.upsert(&key(id, serial), &value(id, serial)))
        });
        if in_flight.len() >= DEPTH {
            match in_flight.pop_front().unwrap() {
                InFlight::Add(op) => drop(op.await.unwrap()),
                InFlight::Upsert(op) => op.await.unwrap(),
            }
        }
    }
}

fn child(dir: &Path) {
    exit_on_panic();
    let seed: u64 = std::env::var(SEED_ENV).unwrap().parse().unwrap();
    let delay = Duration::from_micros(200);
    let (store, resume) = recover_or_open(|| builder(dir, delay));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for id in 1..=SESSIONS {
        let (session, serial) = match resume.get(&id) {
            Some(_) => {
                let (s, serial) = store.continue_session(SessionId::new(id)).unwrap();
                (s, serial.get())
            }
            None => (store.session().unwrap(), 0),
        };
        runtime.spawn(session_loop(session.into_async(), id, serial));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let compacting = {
        let (store, stop) = (store.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match store.compact(store.regions().read_only) {
                    Ok(_) | Err(faster_kv::CompactError::Busy) => {}
                    Err(e) => panic!("compaction failed: {e}"),
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nREADY").unwrap();
    out.flush().unwrap();
    for round in 0u64.. {
        let info = store.checkpoint().unwrap().wait().unwrap();
        writeln!(out, "CHECKPOINT {}", info.token).unwrap();
        writeln!(out, "PENDING {}", store.stats().pending).unwrap();
        out.flush().unwrap();
        std::thread::sleep(Duration::from_millis((seed * 7 + round * 3) % 15));
    }
    stop.store(true, Ordering::Relaxed);
    compacting.join().unwrap();
}

#[test]
fn sigkill_with_async_operations_in_flight_recovers_a_prefix_of_every_session() {
    if let (Ok(dir), Ok(_)) = (std::env::var(DIR_ENV), std::env::var(SEED_ENV))
        && std::env::args().any(|a| a == TEST)
    {
        child(Path::new(&dir));
    }
    for seed in cpr_common::seeds() {
        let dir = tempfile::tempdir().unwrap();
        let mut recovered_ops = 0;
        let mut pending_ops = 0;
        for life in 1..=3u32 {
            let run_for = Duration::from_millis(200 + (seed * 131 + u64::from(life) * 97) % 400);
            let envs = [
                (DIR_ENV, dir.path().display().to_string()),
                (SEED_ENV, seed.to_string()),
            ];
            let killed = run_and_kill(TEST, &envs, run_for);
            pending_ops += killed
                .lines
                .iter()
                .filter_map(|l| l.strip_prefix("PENDING "))
                .filter_map(|n| n.parse::<u64>().ok())
                .max()
                .unwrap_or(0);
            let recovered = builder(dir.path(), Duration::ZERO).recover::<u64, u64>(None);
            let recovered = check_killed_life(recovered, &killed, SESSIONS);
            if let Err(e) = recovered {
                eprintln!("async crash test failed: seed {seed}, life {life}");
                std::panic::resume_unwind(e);
            }
            recovered_ops = recovered_ops.max(recovered.unwrap_or(0));
        }
        assert!(
            recovered_ops > 0,
            "seed {seed}: no operation was ever recovered"
        );
        assert!(
            pending_ops > 0,
            "seed {seed}: no operation waited for the device"
        );
    }
}
