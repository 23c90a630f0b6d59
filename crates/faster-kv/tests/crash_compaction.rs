//! Crash tests of compaction with real processes killed by SIGKILL at random moments:
//!
//! - the CPR workload of `crash.rs` (three sessions, checkpoints back to back) with
//!   compactions running beside it and the automatic policy on: every session recovers a
//!   prefix of its operations — nothing compaction moved is lost, nothing after a commit
//!   point comes back;
//! - rounds of upserts and deletes, a checkpoint after each, compactions (and so segment
//!   deletions) running all the time: the recovered store is exactly the state after one
//!   round, the last one reported complete or the one after — no deleted key comes back, no
//!   overwritten value either.
//!
//! Seeds: `FASTER_CRASH_SEEDS=N` (default 3) from `FASTER_CRASH_FIRST_SEED` (default 1);
//! `FASTER_CRASH_SEED=S` replays one. A failing run prints its seed.
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
use cpr_common::{check_killed_life, run_op};
use faster_kv::{CompactionPolicy, FasterKv, FasterKvBuilder, SessionId};

const DIR_ENV: &str = "FASTER_COMPACT_CRASH_DIR";
const SEED_ENV: &str = "FASTER_COMPACT_CRASH_SEED";
const PREFIX_TEST: &str = "sigkill_during_compaction_recovers_a_prefix_of_every_session";
const ROUNDS_TEST: &str = "sigkill_during_compaction_and_deletion_recovers_a_whole_round";
const SESSIONS: u64 = 3;

fn builder(dir: &Path) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir)
        .page_size_bits(14)
        .memory_budget(16 << 14)
        .mutable_fraction(0.5)
        .segment_size(1 << 16)
        .index_buckets(1 << 10)
        .compaction(CompactionPolicy {
            check_every: Duration::from_millis(5),
            ..CompactionPolicy::with_budget(1 << 20)
        })
}

/// A thread that compacts everything below the read-only address, over and over.
fn compactor(store: &FasterKv<u64, u64>, stop: &Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let (store, stop) = (store.clone(), Arc::clone(stop));
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let until = store.regions().read_only;
            match store.compact(until) {
                Ok(_) | Err(faster_kv::CompactError::Busy) => {}
                Err(e) => panic!("compaction failed: {e}"),
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    })
}

/// The prefix workload's store also takes background checkpoints: besides the child's own,
/// back to back, a log-only one after every automatic compaction
/// (`CompactionPolicy::checkpoint_after`), whose retention retires the checkpoints kept only
/// for their index snapshot. (The rounds workload cannot: a checkpoint in the middle of a
/// round would make a part of it durable.)
fn prefix_builder(dir: &Path) -> FasterKvBuilder {
    builder(dir).checkpoint_every(Duration::from_secs(3600))
}

fn prefix_child(dir: &Path) {
    exit_on_panic();
    let seed: u64 = std::env::var(SEED_ENV).unwrap().parse().unwrap();
    let (store, resume) = recover_or_open(|| prefix_builder(dir));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (1..=SESSIONS)
        .map(|id| {
            let (mut session, mut serial) = match resume.get(&id) {
                Some(_) => {
                    let (s, serial) = store.continue_session(SessionId::new(id)).unwrap();
                    (s, serial.get())
                }
                None => (store.session().unwrap(), 0),
            };
            let stop = Arc::clone(&stop);
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
    let compacting = compactor(&store, &stop);
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nREADY").unwrap();
    out.flush().unwrap();
    for round in 0u64.. {
        let handle = loop {
            match store.checkpoint() {
                Ok(handle) => break handle,
                // One the store took by itself is running.
                Err(faster_kv::CheckpointError::Busy) => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("checkpoint: {e}"),
            }
        };
        let info = handle.wait().unwrap();
        writeln!(out, "CHECKPOINT {}", info.token).unwrap();
        out.flush().unwrap();
        std::thread::sleep(Duration::from_millis((seed * 7 + round * 3) % 15));
    }
    stop.store(true, Ordering::Relaxed);
    compacting.join().unwrap();
    for w in writers {
        w.join().unwrap();
    }
}

#[test]
fn sigkill_during_compaction_recovers_a_prefix_of_every_session() {
    if let (Ok(dir), Ok(_)) = (std::env::var(DIR_ENV), std::env::var(SEED_ENV))
        && std::env::args().any(|a| a == PREFIX_TEST)
    {
        prefix_child(Path::new(&dir));
    }
    for seed in cpr_common::seeds() {
        let dir = tempfile::tempdir().unwrap();
        for life in 1..=2u32 {
            let run_for = Duration::from_millis(100 + (seed * 131 + u64::from(life) * 97) % 400);
            let envs = [
                (DIR_ENV, dir.path().display().to_string()),
                (SEED_ENV, seed.to_string()),
            ];
            let killed = run_and_kill(PREFIX_TEST, &envs, run_for);
            let recovered = prefix_builder(dir.path()).recover::<u64, u64>(None);
            if let Err(e) = check_killed_life(recovered, &killed, SESSIONS) {
                eprintln!("compaction crash test failed: seed {seed}, life {life}");
                std::panic::resume_unwind(e);
            }
        }
    }
}

/// Keys of the rounds workload.
const KEYS: u64 = 3000;

/// The value of `key` after round `round`, or `None` if that round deleted it.
fn state(key: u64, round: u64) -> Option<u64> {
    (!(key + round).is_multiple_of(4)).then_some(round * 1_000_000 + key)
}

fn rounds_child(dir: &Path) {
    exit_on_panic();
    let store: FasterKv<u64, u64> = builder(dir).open().unwrap();
    let mut s = store.session().unwrap();
    // Continue after the recovered round, if any.
    let start = match s.read(&u64::MAX).unwrap() {
        Some(round) => round + 1,
        None => 0,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let compacting = compactor(&store, &stop);
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nREADY").unwrap();
    out.flush().unwrap();
    for round in start.. {
        for key in 0..KEYS {
            match state(key, round) {
                Some(v) => s.upsert(&key, &v).unwrap(),
                None => {
                    s.delete(&key).unwrap();
                }
            }
        }
        s.upsert(&u64::MAX, &round).unwrap();
        store.checkpoint().unwrap().wait().unwrap();
        writeln!(out, "ROUND {round}").unwrap();
        out.flush().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    compacting.join().unwrap();
}

#[test]
fn sigkill_during_compaction_and_deletion_recovers_a_whole_round() {
    if let (Ok(dir), Ok(_)) = (std::env::var(DIR_ENV), std::env::var(SEED_ENV))
        && std::env::args().any(|a| a == ROUNDS_TEST)
    {
        rounds_child(Path::new(&dir));
    }
    for seed in cpr_common::seeds() {
        let dir = tempfile::tempdir().unwrap();
        for life in 1..=3u32 {
            let run_for = Duration::from_millis(150 + (seed * 173 + u64::from(life) * 89) % 500);
            let envs = [
                (DIR_ENV, dir.path().display().to_string()),
                (SEED_ENV, seed.to_string()),
            ];
            let killed = run_and_kill(ROUNDS_TEST, &envs, run_for);
            let reported = killed
                .lines
                .iter()
                .filter_map(|l| l.strip_prefix("ROUND "))
                .next_back()
                .map(|r| r.parse::<u64>().unwrap());
            let store: FasterKv<u64, u64> = builder(dir.path()).open().unwrap();
            let mut s = store.session().unwrap();
            let Some(round) = s.read(&u64::MAX).unwrap() else {
                assert!(
                    reported.is_none(),
                    "seed {seed} life {life}: a reported round was lost"
                );
                continue;
            };
            if let Some(reported) = reported {
                assert!(
                    round == reported || round == reported + 1,
                    "seed {seed} life {life}: recovered round {round}, last reported {reported}"
                );
            }
            for key in 0..KEYS {
                assert_eq!(
                    s.read(&key).unwrap(),
                    state(key, round),
                    "seed {seed} life {life}: key {key} after round {round}"
                );
            }
            let live = store.scan().unwrap().count() as u64;
            let expected = (0..KEYS).filter(|&k| state(k, round).is_some()).count() as u64 + 1;
            assert_eq!(live, expected, "seed {seed} life {life}: live records");
        }
    }
}
