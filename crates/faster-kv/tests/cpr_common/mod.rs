//! A workload whose recovered state can be checked against commit points: session `s`'s
//! operation with serial `i` either increments one of the session's counters (every third
//! serial; many counters, so that some are first updated in a new version while a snapshot
//! is being copied) or upserts the key `(s, i)` with a value derived from both. After recovery, a session's
//! commit point `S` (minus its excluded serials) must account for exactly the operations that
//! are present: the prefix property of CPR.

#![allow(dead_code, reason = "each test binary uses a different part")]

pub(crate) mod child;
pub(crate) mod mixed;
pub(crate) mod stall;

use std::collections::{BTreeSet, HashMap};

use faster_kv::{FasterKv, SessionCommit};

/// The key a session's upsert `i` writes.
pub(crate) fn key(session: u64, serial: u64) -> u64 {
    (session << 40) | serial
}

/// Counters per session.
pub(crate) const COUNTERS: u64 = 4096;

/// The session's counter that operation `serial` increments.
pub(crate) fn counter(session: u64, serial: u64) -> u64 {
    (session << 40) | ((1 << 40) - 1 - serial % COUNTERS)
}

pub(crate) fn value(session: u64, serial: u64) -> u64 {
    serial.wrapping_mul(0x9E37_79B9) ^ session
}

/// Whether operation `serial` increments the counter (else it upserts).
pub(crate) fn is_increment(serial: u64) -> bool {
    serial.is_multiple_of(3)
}

/// Runs operation `serial` of session `s` (its serial number must be `serial`).
pub(crate) fn run_op(session: &mut faster_kv::Pinned<'_, u64, u64>, s: u64, serial: u64) {
    if is_increment(serial) {
        session.add(&counter(s, serial), 1).unwrap();
    } else {
        session.upsert(&key(s, serial), &value(s, serial)).unwrap();
    }
}

/// Checks the prefix property for every session in `sessions` (id → number of operations it
/// ran) against the recovered commit points.
pub(crate) fn check_prefix(
    store: &FasterKv<u64, u64>,
    commits: &[SessionCommit],
    sessions: &HashMap<u64, u64>,
) {
    let mut s = store.session().unwrap();
    for (&id, &ran) in sessions {
        let commit = commits
            .iter()
            .find(|c| c.id.get() == id)
            .unwrap_or_else(|| panic!("no commit point for session {id}: {commits:?}"));
        assert!(
            commit.serial.get() <= ran,
            "session {id} committed {} of {ran} operations",
            commit.serial
        );
        let excluded: BTreeSet<u64> = commit.excluded.iter().map(|s| s.get()).collect();
        let mut increments = 0;
        for serial in 1..=ran {
            let included = serial <= commit.serial.get() && !excluded.contains(&serial);
            if is_increment(serial) {
                increments += u64::from(included);
                continue;
            }
            let got = s.read(&key(id, serial)).unwrap();
            if included {
                assert_eq!(
                    got,
                    Some(value(id, serial)),
                    "session {id} serial {serial} (commit {})",
                    commit.serial
                );
            } else {
                assert_eq!(
                    got, None,
                    "session {id} serial {serial} is after its commit point {}",
                    commit.serial
                );
            }
        }
        let mut count = 0;
        for c in 0..COUNTERS {
            count += s.read(&counter(id, c)).unwrap().unwrap_or(0);
        }
        assert_eq!(
            count, increments,
            "session {id}: counters vs increments up to {}",
            commit.serial
        );
    }
}

/// After a child was killed: `recovered` (the store recovered from its directory) must be at
/// least the last checkpoint the child reported (`CHECKPOINT <token>` lines), and every session
/// `1..=sessions` must hold a prefix of its operations. Returns the recovered serial numbers'
/// sum (0 when there was nothing to recover and nothing was reported), or the panic of a
/// failed check, for the caller to report its seed before resuming it.
pub(crate) fn check_killed_life(
    recovered: Result<(FasterKv<u64, u64>, faster_kv::Recovered), faster_kv::OpenError>,
    killed: &child::Killed,
    sessions: u64,
) -> std::thread::Result<u64> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let reported = killed
            .lines
            .iter()
            .filter_map(|l| l.strip_prefix("CHECKPOINT "))
            .next_back()
            .map(|t| t.parse::<u64>().unwrap());
        let Ok((store, info)) = recovered else {
            assert!(reported.is_none(), "nothing recovered after a checkpoint");
            return 0;
        };
        if let Some(reported) = reported {
            assert!(
                info.token.get() >= reported,
                "an older checkpoint was recovered"
            );
        }
        let ran: HashMap<u64, u64> = info
            .sessions
            .iter()
            .filter(|c| (1..=sessions).contains(&c.id.get()))
            .map(|c| (c.id.get(), c.serial.get() + 100_000))
            .collect();
        check_prefix(&store, &info.sessions, &ran);
        info.sessions.iter().map(|c| c.serial.get()).sum()
    }))
}

/// The crash tests' seeds: `FASTER_CRASH_SEED=S` replays one; else `FASTER_CRASH_SEEDS=N`
/// (default 3) from `FASTER_CRASH_FIRST_SEED` (default 1).
pub(crate) fn seeds() -> Vec<u64> {
    if let Ok(seed) = std::env::var("FASTER_CRASH_SEED") {
        return vec![seed.parse().unwrap()];
    }
    let n: u64 = std::env::var("FASTER_CRASH_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let first: u64 = std::env::var("FASTER_CRASH_FIRST_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    (first..first + n).collect()
}
