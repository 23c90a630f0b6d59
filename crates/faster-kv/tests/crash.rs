//! Crash tests with real processes: a child process writes from three sessions while taking
//! checkpoints back to back, and is killed with SIGKILL at a random moment. The parent
//! recovers and checks that every session recovered a prefix of its operations (CPR) and that
//! the recovered checkpoint is at least the last one the child saw complete. Each seed runs
//! two lives: the second recovers, continues the sessions from their commit points, and is
//! killed again.
//!
//! Seeds: `FASTER_CRASH_SEEDS=N` runs N seeds from `FASTER_CRASH_FIRST_SEED` (default 1;
//! N defaults to 4); `FASTER_CRASH_SEED=S` replays
//! one. A failing run prints its seed. `cargo xtask crash --seeds N` runs many.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod cpr_common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cpr_common::child::{exit_on_panic, recover_or_open, run_and_kill};
use cpr_common::{check_prefix, run_op};
use faster_kv::{
    CheckpointOptions, CheckpointToken, FasterKv, FasterKvBuilder, LogCheckpointKind, SessionId,
};

const CHILD_ENV: &str = "FASTER_CRASH_CHILD_DIR";
const TEST: &str = "sigkill_at_random_moments_recovers_a_prefix_of_every_session";
const SESSIONS: u64 = 3;

fn builder(dir: &Path) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir)
        .page_size_bits(14)
        .memory_budget(16 << 14)
        .mutable_fraction(0.5)
        .segment_size(1 << 20)
        .index_buckets(1 << 12)
}

/// The child: runs until killed. Prints `CHECKPOINT <token>` after each completed checkpoint.
fn crash_child(dir: &Path) {
    exit_on_panic();
    let seed: u64 = std::env::var("FASTER_CRASH_CHILD_SEED")
        .unwrap()
        .parse()
        .unwrap();
    // Recover if an earlier life completed a checkpoint; otherwise start afresh (nothing was
    // promised durable).
    // Even seeds run with a read cache and a reader, so that index entries point at copies
    // while checkpoints snapshot the index (the recovering parent opens without one).
    let with_cache = seed.is_multiple_of(2);
    let (store, resume) = recover_or_open(|| {
        let b = builder(dir);
        if with_cache { b.read_cache(1 << 20) } else { b }
    });
    let stop = Arc::new(AtomicBool::new(false));
    // Sessions 1..=3, created in order (fresh) or continued (after recovery).
    let sessions: Vec<_> = (1..=SESSIONS)
        .map(|id| match resume.get(&id) {
            Some(_) => {
                let (session, serial) = store.continue_session(SessionId::new(id)).unwrap();
                (session, serial.get())
            }
            None => (store.session().unwrap(), 0),
        })
        .collect();
    let writers: Vec<_> = sessions
        .into_iter()
        .map(|(mut session, mut serial)| {
            let stop = Arc::clone(&stop);
            let id = session.id().get();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut pinned = session.pin();
                    for _ in 0..(1 + id * 20) {
                        serial += 1;
                        run_op(&mut pinned, id, serial);
                    }
                }
            })
        })
        .collect();
    let reader = with_cache.then(|| {
        let mut session = store.session().unwrap();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut x = seed | 1;
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let s = 1 + x % SESSIONS;
                let serial = 1 + (x >> 8) % 50_000;
                let k = if x & 1 == 0 {
                    cpr_common::key(s, serial)
                } else {
                    cpr_common::counter(s, serial)
                };
                let _ = session.read(&k).unwrap();
            }
        })
    });
    let kinds = [
        LogCheckpointKind::FoldOver,
        LogCheckpointKind::Snapshot,
        LogCheckpointKind::IncrementalSnapshot,
    ];
    let mut out = std::io::stdout().lock();
    // On a line of its own: the test harness has printed "test crash_child ... " already.
    writeln!(out, "\nREADY").unwrap();
    out.flush().unwrap();
    for round in 0u64.. {
        let kind = kinds[((round + seed) % 3) as usize];
        let options = CheckpointOptions {
            log: kind,
            index: round % 4 == 0,
        };
        let info = store.checkpoint_with(options).unwrap().wait().unwrap();
        writeln!(out, "CHECKPOINT {}", info.token).unwrap();
        out.flush().unwrap();
        std::thread::sleep(Duration::from_millis((seed * 7 + round * 3) % 15));
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers.into_iter().chain(reader) {
        w.join().unwrap();
    }
}

/// One life: start the child, let it run `run_for`, SIGKILL it; returns the last checkpoint
/// token it reported complete (if any).
fn life(dir: &Path, seed: u64, run_for: Duration) -> Option<CheckpointToken> {
    let envs = [
        (CHILD_ENV, dir.display().to_string()),
        ("FASTER_CRASH_CHILD_SEED", seed.to_string()),
    ];
    run_and_kill(TEST, &envs, run_for)
        .lines
        .iter()
        .filter_map(|line| line.strip_prefix("CHECKPOINT "))
        .map(|token| CheckpointToken::new(token.parse().unwrap()))
        .next_back()
}

fn check_seed(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for life_number in 1..=2 {
        let run_for = Duration::from_millis(60 + next() % 400);
        let reported = life(dir.path(), seed, run_for);
        let recovered = builder(dir.path()).recover::<u64, u64>(None);
        let Some(reported) = reported else {
            // Killed before its first checkpoint completed: there may be nothing to recover.
            if let Ok((store, info)) = recovered {
                verify(seed, life_number, &store, &info.sessions);
            }
            continue;
        };
        let (store, info) = recovered
            .unwrap_or_else(|e| panic!("seed {seed} life {life_number}: recovery failed: {e}"));
        assert!(
            info.token >= reported,
            "seed {seed} life {life_number}: recovered checkpoint {} older than the completed {reported}",
            info.token
        );
        verify(seed, life_number, &store, &info.sessions);
    }
}

/// Checks the prefix property for the three sessions: everything up to each commit point is
/// there, and nothing in the 100,000 serial numbers after it.
fn verify(
    seed: u64,
    life_number: u32,
    store: &FasterKv<u64, u64>,
    commits: &[faster_kv::SessionCommit],
) {
    let ran: HashMap<u64, u64> = commits
        .iter()
        .filter(|c| (1..=SESSIONS).contains(&c.id.get()))
        .map(|c| (c.id.get(), c.serial.get() + 100_000))
        .collect();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_prefix(store, commits, &ran)
    }));
    if let Err(e) = result {
        eprintln!(
            "crash test failed: seed {seed}, life {life_number} (replay with FASTER_CRASH_SEED={seed})"
        );
        std::panic::resume_unwind(e);
    }
}

#[test]
fn sigkill_at_random_moments_recovers_a_prefix_of_every_session() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        crash_child(Path::new(&dir));
    }
    let seeds: Vec<u64> = match std::env::var("FASTER_CRASH_SEED") {
        Ok(seed) => vec![seed.parse().unwrap()],
        Err(_) => {
            let n: u64 = std::env::var("FASTER_CRASH_SEEDS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(4);
            let first: u64 = std::env::var("FASTER_CRASH_FIRST_SEED")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            (first..first + n).collect()
        }
    };
    for seed in seeds {
        eprintln!("crash seed {seed}");
        check_seed(seed);
    }
}
