//! A store's whole life, many times over: a child process opens the store, runs random
//! operations from two sessions while taking checkpoints (or not), and then either closes
//! (dropping the store, or closing it with a final checkpoint) or is killed with SIGKILL at a
//! random moment. After every life the parent opens the store and checks it against a model of
//! what the last completed checkpoint holds: each session's operations up to its recovered
//! commit point, and none after.
//!
//! Each session owns its keys and counters and the two share one counter (additions commute),
//! so the state at a commit point follows from the commit points alone. A session continues
//! across lives from its recovered serial number, so its operations form one stream.
//!
//! `FASTER_RESTART_CYCLES=N` sets the number of lives (default 200); `FASTER_RESTART_SEED=S`
//! changes the seed. The child runs at the top of the same test (`FASTER_RESTART_CHILD`), so
//! it is never counted as a test of its own.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::small_in;
use faster_kv::{
    CheckpointOptions, CheckpointToken, FasterKv, LogCheckpointKind, SessionCommit, SessionId,
};

const CHILD_ENV: &str = "FASTER_RESTART_CHILD";
const SESSIONS: u64 = 2;
const KEYS: u64 = 300;
const SHARED: u64 = u64::MAX;

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Operation `serial` of session `s`.
#[derive(Debug, Clone, Copy)]
enum Op {
    Upsert(u64, u64),
    Delete(u64),
    AddOwn,
    AddShared,
}

fn op(s: u64, serial: u64) -> Op {
    let r = mix((s << 48) ^ serial);
    let key = (s << 32) | ((r >> 8) % KEYS);
    match r % 10 {
        0..=5 => Op::Upsert(key, r | 1),
        6 => Op::Delete(key),
        7 | 8 => Op::AddOwn,
        _ => Op::AddShared,
    }
}

fn own_counter(s: u64) -> u64 {
    (s << 32) | 0xffff_ffff
}

fn run(session: &mut faster_kv::Session<u64, u64>, s: u64, serial: u64) {
    match op(s, serial) {
        Op::Upsert(k, v) => session.upsert(&k, &v).unwrap(),
        Op::Delete(k) => {
            session.delete(&k).unwrap();
        }
        Op::AddOwn => {
            session.add(&own_counter(s), 1).unwrap();
        }
        Op::AddShared => {
            session.add(&SHARED, 1).unwrap();
        }
    }
}

/// The state the commit points describe: every key of every session, and the counters.
fn model(commits: &[SessionCommit]) -> HashMap<u64, Option<u64>> {
    let mut state = HashMap::new();
    let mut shared = 0;
    for s in 1..=SESSIONS {
        for k in 0..KEYS {
            state.insert((s << 32) | k, None);
        }
        let Some(commit) = commits.iter().find(|c| c.id.get() == s) else {
            state.insert(own_counter(s), None);
            continue;
        };
        let excluded: BTreeSet<u64> = commit.excluded.iter().map(|i| i.get()).collect();
        let mut own = 0;
        for serial in (1..=commit.serial.get()).filter(|i| !excluded.contains(i)) {
            match op(s, serial) {
                Op::Upsert(k, v) => {
                    state.insert(k, Some(v));
                }
                Op::Delete(k) => {
                    state.insert(k, None);
                }
                Op::AddOwn => own += 1,
                Op::AddShared => shared += 1,
            }
        }
        state.insert(own_counter(s), (own > 0).then_some(own));
    }
    state.insert(SHARED, (shared > 0).then_some(shared));
    state
}

/// One life of the child: `plan` is `run_ms checkpoints ending` (ending: kill, drop, close).
fn child(dir: &Path, seed: u64, plan: &str) {
    let mut words = plan.split(' ');
    let run_ms: u64 = words.next().unwrap().parse().unwrap();
    let checkpoints: u64 = words.next().unwrap().parse().unwrap();
    let ending = words.next().unwrap();
    let store: FasterKv<u64, u64> = small_in(dir)
        .checkpoint_on_close(ending == "close")
        .open()
        .unwrap();
    let recovered = store.opened().recovered().map(|r| r.sessions.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (1..=SESSIONS)
        .map(|s| {
            let (mut session, mut serial) = match &recovered {
                Some(commits) if commits.iter().any(|c| c.id.get() == s) => {
                    let (session, serial) = store.continue_session(SessionId::new(s)).unwrap();
                    (session, serial.get())
                }
                _ => (store.session().unwrap(), 0),
            };
            assert_eq!(session.id(), SessionId::new(s));
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    serial += 1;
                    run(&mut session, s, serial);
                    // Stalls between operations (sessions unprotected, checkpoints moving on
                    // without them), which also keep the log from growing too fast.
                    match mix(seed ^ serial) % 64 {
                        0..=3 => std::thread::sleep(Duration::from_micros(200)),
                        4..=7 => std::thread::yield_now(),
                        _ => {}
                    }
                }
            })
        })
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nREADY").unwrap();
    out.flush().unwrap();
    let kinds = [
        LogCheckpointKind::Snapshot,
        LogCheckpointKind::FoldOver,
        LogCheckpointKind::IncrementalSnapshot,
    ];
    let slice = Duration::from_millis(run_ms / (checkpoints + 1));
    for i in 0..checkpoints {
        std::thread::sleep(slice);
        let options = CheckpointOptions {
            log: kinds[((seed + i) % 3) as usize],
            index: (seed + i).is_multiple_of(2),
        };
        let info = store.checkpoint_with(options).unwrap().wait().unwrap();
        writeln!(out, "CHECKPOINT {}", info.token).unwrap();
        out.flush().unwrap();
    }
    std::thread::sleep(slice);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    match ending {
        "close" => {
            let info = store.close().unwrap().unwrap();
            writeln!(out, "CHECKPOINT {}", info.token).unwrap();
        }
        _ => drop(store),
    }
    writeln!(out, "DONE").unwrap();
    out.flush().unwrap();
}

/// Runs one life; returns the last checkpoint the child reported complete.
fn life(
    dir: &Path,
    seed: u64,
    plan: &str,
    kill_after: Option<Duration>,
) -> Option<CheckpointToken> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "restart_two_hundred_times_with_drops_and_sigkills",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format!("{}|{seed}|{plan}", dir.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = send.send(line);
        }
    });
    let mut lines = Vec::new();
    loop {
        match receive.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line == "READY" => break,
            Ok(line) => lines.push(line),
            Err(e) => {
                let _ = child.kill();
                panic!("seed {seed}: the child never got ready ({e}): {lines:?}");
            }
        }
    }
    if let Some(after) = kill_after {
        std::thread::sleep(after);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    } else {
        let status = child.wait().unwrap();
        assert!(status.success(), "seed {seed}: the child failed: {status}");
    }
    reader.join().unwrap();
    lines.extend(receive.try_iter());
    if kill_after.is_none() {
        assert!(lines.iter().any(|l| l == "DONE"), "seed {seed}: {lines:?}");
    }
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("CHECKPOINT "))
        .map(|t| CheckpointToken::new(t.parse().unwrap()))
        .next_back()
}

#[test]
fn restart_two_hundred_times_with_drops_and_sigkills() {
    if let Ok(args) = std::env::var(CHILD_ENV) {
        let mut parts = args.splitn(3, '|');
        let dir = parts.next().unwrap().to_owned();
        let seed = parts.next().unwrap().parse().unwrap();
        child(Path::new(&dir), seed, parts.next().unwrap());
        return;
    }
    let cycles: u64 = std::env::var("FASTER_RESTART_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let base: u64 = std::env::var("FASTER_RESTART_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let dir = tempfile::tempdir().unwrap();
    let mut last_complete = None;
    let (mut kills, mut recovered_lives) = (0, 0);
    for cycle in 0..cycles {
        let seed = mix(base ^ cycle.wrapping_mul(0x9E37_79B9));
        let run_ms = 10 + seed % 60;
        let checkpoints = (seed >> 8) % 4;
        let ending = ["kill", "kill", "drop", "close"][((seed >> 16) % 4) as usize];
        let plan = format!("{run_ms} {checkpoints} {ending}");
        let kill_after =
            (ending == "kill").then(|| Duration::from_millis((seed >> 24) % (run_ms + 20)));
        let reported = life(dir.path(), seed, &plan, kill_after);
        kills += u64::from(kill_after.is_some());
        // The parent's own open: what the last completed checkpoint holds.
        let store: FasterKv<u64, u64> = FasterKv::open(dir.path())
            .unwrap_or_else(|e| panic!("cycle {cycle} ({plan}): open failed: {e}"));
        let commits = match store.opened().recovered() {
            Some(r) => {
                recovered_lives += 1;
                if let Some(t) = reported.or(last_complete) {
                    assert!(
                        r.token >= t,
                        "cycle {cycle} ({plan}): recovered {} before the completed {t}",
                        r.token
                    );
                }
                last_complete = Some(r.token);
                r.sessions.clone()
            }
            None => {
                assert!(
                    reported.is_none() && last_complete.is_none(),
                    "cycle {cycle} ({plan}): checkpoint {reported:?} / {last_complete:?} lost"
                );
                Vec::new()
            }
        };
        let expected = model(&commits);
        let mut s = store.session().unwrap();
        for (key, want) in &expected {
            assert_eq!(
                s.read(key).unwrap(),
                *want,
                "cycle {cycle} ({plan}, seed {seed}): key {key:#x} with commits {commits:?}"
            );
        }
        drop((s, store));
    }
    eprintln!("{cycles} lives, {kills} killed, {recovered_lives} recovered");
    assert!(recovered_lives > cycles / 2);
}
