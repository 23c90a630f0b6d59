//! Crash tests with real processes: a child writes from two sessions into an F2 store whose
//! tiny budgets make keys migrate to the cold store all the time, takes checkpoints, reads
//! from a third thread, and is killed with SIGKILL at a random moment. The parent reopens the
//! store and checks that each session recovered exactly a prefix of its operations (nothing
//! after its commit point, across both stores) and that the recovered checkpoint is at least
//! the last one the child saw complete. Each seed runs two lives; the second continues the
//! sessions from their commit points.
//!
//! Seeds: `FASTER_F2_CRASH_SEEDS=N` (default 3) from `FASTER_F2_CRASH_FIRST_SEED` (default 1).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::tiny;
use faster_f2::{F2Kv, F2Session};
use faster_kv::SessionId;

const CHILD_DIR: &str = "FASTER_F2_CRASH_DIR";
const CHILD_SEED: &str = "FASTER_F2_CRASH_SEED";
const TEST: &str = "sigkill_during_migrations_recovers_a_prefix_of_every_session";
const SESSIONS: u64 = 2;
const COUNTERS: u64 = 64;

fn key(s: u64, n: u64) -> u64 {
    (s << 40) | n
}

fn counter(s: u64, n: u64) -> u64 {
    (s << 40) | (1 << 39) | (n % COUNTERS)
}

/// Operation `n` of session `s`: an upsert of its own key, a delete of the previous
/// operation's key, or an increment of a counter.
fn run_op(session: &mut F2Session<u64, u64>, s: u64, n: u64) {
    match n % 4 {
        0 => {
            session.add(&counter(s, n), 1).unwrap();
        }
        3 => session.delete(&key(s, n - 1)).unwrap(),
        _ => session.upsert(&key(s, n), &n).unwrap(),
    }
}

/// What key `key(s, n)` holds once every operation up to `commit` ran and none after.
fn expected(n: u64, commit: u64) -> Option<u64> {
    match n % 4 {
        1 if n <= commit => Some(n),
        2 if n <= commit && n + 1 > commit => Some(n),
        _ => None,
    }
}

fn child(dir: &Path) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        std::process::exit(101);
    }));
    let seed: u64 = std::env::var(CHILD_SEED).unwrap().parse().unwrap();
    let store: Arc<F2Kv<u64, u64>> = Arc::new(tiny(dir).open().unwrap());
    let resume: HashMap<u64, u64> = store
        .opened()
        .recovered()
        .map(|r| {
            r.sessions
                .iter()
                .map(|c| (c.id.get(), c.serial.get()))
                .collect()
        })
        .unwrap_or_default();
    let stop = Arc::new(AtomicBool::new(false));
    let sessions: Vec<_> = (1..=SESSIONS)
        .map(|s| match resume.get(&s) {
            Some(_) => {
                let (session, serial) = store.continue_session(SessionId::new(s)).unwrap();
                (s, session, serial.get())
            }
            None => (s, store.session().unwrap(), 0),
        })
        .collect();
    let mut threads: Vec<_> = sessions
        .into_iter()
        .map(|(s, mut session, mut n)| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    run_op(&mut session, s, n);
                }
            })
        })
        .collect();
    threads.push({
        let store = Arc::clone(&store);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut session = store.session().unwrap();
            let mut x = seed | 1;
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let _ = session
                    .read(&key(1 + x % SESSIONS, 1 + (x >> 8) % 20_000))
                    .unwrap();
            }
        })
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nREADY").unwrap();
    out.flush().unwrap();
    for round in 0u64.. {
        let info = store.checkpoint().unwrap();
        writeln!(out, "CHECKPOINT {}", info.token.get()).unwrap();
        out.flush().unwrap();
        std::thread::sleep(Duration::from_millis((seed * 7 + round * 3) % 20));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
}

/// Runs the child for `run_for` after it is ready, kills it, and returns the last checkpoint
/// it reported complete.
fn life(dir: &Path, seed: u64, run_for: Duration) -> Option<u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_SEED, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match receive.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line == "READY" => break,
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                panic!("the child never got ready: {e}");
            }
        }
    }
    std::thread::sleep(run_for);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(
        status.code().is_none(),
        "the child exited by itself: {status}"
    );
    receive
        .try_iter()
        .filter_map(|l| l.strip_prefix("CHECKPOINT ").map(|t| t.parse().unwrap()))
        .last()
}

/// Checks the recovered store; returns the number of keys it checked.
fn verify(seed: u64, life: u32, dir: &Path, reported: Option<u64>) -> u64 {
    let store: F2Kv<u64, u64> = tiny(dir).open().unwrap();
    let opened = store.opened();
    let Some(recovered) = opened.recovered() else {
        assert!(
            reported.is_none(),
            "seed {seed} life {life}: a completed checkpoint was lost"
        );
        return 0;
    };
    let mut checked = 0;
    if let Some(reported) = reported {
        assert!(
            recovered.token.get() >= reported,
            "seed {seed} life {life}: recovered {} older than the completed {reported}",
            recovered.token.get()
        );
    }
    let mut s = store.session().unwrap();
    for session in 1..=SESSIONS {
        let commit = recovered
            .sessions
            .iter()
            .find(|c| c.id.get() == session)
            .map_or(0, |c| {
                assert!(c.excluded.is_empty(), "blocking sessions exclude nothing");
                c.serial.get()
            });
        for n in 1..=commit + 3_000 {
            if n % 4 == 1 || n % 4 == 2 {
                assert_eq!(
                    s.read(&key(session, n)).unwrap(),
                    expected(n, commit),
                    "seed {seed} life {life} session {session} serial {n} (commit {commit})"
                );
                checked += 1;
            }
        }
        for c in 0..COUNTERS {
            let want = (1..=commit)
                .filter(|n| n % 4 == 0 && n % COUNTERS == c)
                .count() as u64;
            let got = s.read(&counter(session, c)).unwrap().unwrap_or(0);
            assert_eq!(
                got, want,
                "seed {seed} life {life} session {session} counter {c}"
            );
        }
    }
    let stats = store.stats();
    drop(s);
    drop(store);
    eprintln!(
        "seed {seed} life {life}: {checked} keys checked, cold log {} bytes",
        stats.cold_log_bytes
    );
    checked
}

#[test]
fn sigkill_during_migrations_recovers_a_prefix_of_every_session() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        child(Path::new(&dir));
        return;
    }
    let n: u64 = std::env::var("FASTER_F2_CRASH_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let first: u64 = std::env::var("FASTER_F2_CRASH_FIRST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut checked = 0;
    for seed in first..first + n {
        let tmp = tempfile::tempdir().unwrap();
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for life_number in 1..=2 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let run_for = Duration::from_millis(200 + rng % 600);
            let reported = life(tmp.path(), seed, run_for);
            checked += verify(seed, life_number, tmp.path(), reported);
        }
    }
    assert!(checked > 0, "no life recovered a checkpoint to check");
}
