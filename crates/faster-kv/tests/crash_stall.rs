//! Crash tests with sessions that stall: a child process runs 2–4 sessions, some in pinned
//! loops, some with plain operations and stalls between them (yields, short sleeps, sleeps
//! through whole checkpoints followed by bursts, blocking writes to a pipe and a file); it
//! creates, drops and continues sessions while checkpoints are in flight, and takes
//! checkpoints of every kind back to back. It is killed with SIGKILL at a random moment; the
//! parent recovers and checks the prefix property of CPR for every session (its keys, its own
//! counters, and one counter all sessions share) and that the recovered checkpoint is at least
//! the last one the child saw complete. Each seed runs several lives: each recovers and
//! continues every recovered session from its commit point.
//!
//! Seeds: `FASTER_CRASH_SEEDS=N` runs N seeds from `FASTER_CRASH_FIRST_SEED` (default 1;
//! N defaults to 3); `FASTER_CRASH_SEED=S` replays
//! one (the schedule depends on timing, so a replay retries the same workload, not the same
//! interleaving). Every failing seed is printed, with what the child reported of the failing
//! session around the recovered checkpoint; `cargo xtask crash --seeds N` runs many.
//! `FASTER_CRASH_STALL_CHURN=0` keeps each life's sessions fixed (stalls alone).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod cpr_common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cpr_common::child::{exit_on_panic, run_and_kill};
use cpr_common::mixed::check_mixed;
use cpr_common::stall::{self, Pace, Rng, Worker};
use faster_kv::{
    CheckpointOptions, CheckpointToken, FasterKv, FasterKvBuilder, LogCheckpointKind, RecoverError,
    SessionError, SessionId,
};

/// This file's one test: the parent, or (with [`CHILD_DIR`] set) the child.
const TEST: &str = "sigkill_with_stalling_sessions_recovers_a_prefix_of_every_session";
const CHILD_DIR: &str = "FASTER_CRASH_STALL_DIR";
const CHILD_SEED: &str = "FASTER_CRASH_STALL_SEED";
const CHILD_LIFE: &str = "FASTER_CRASH_STALL_LIFE";
/// `0` keeps the set of sessions fixed within a life (no session starts or ends while a
/// checkpoint is in flight), to look at stalls alone.
const CHURN: &str = "FASTER_CRASH_STALL_CHURN";
const LIVES: u64 = 3;
/// Most live sessions in a child.
const MAX_LIVE: usize = 4;

fn builder(dir: &Path) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir.join("store"))
        .page_size_bits(14)
        .memory_budget(32 << 14)
        .mutable_fraction(0.5)
        .segment_size(1 << 20)
        .index_buckets(1 << 14)
}

fn env_u64(name: &str) -> u64 {
    std::env::var(name).unwrap().parse().unwrap()
}

/// The child's sessions.
struct Child {
    store: FasterKv<u64, u64>,
    dir: PathBuf,
    rng: Rng,
    live: Vec<Worker>,
    /// Sessions recovered or dropped, to be continued later.
    waiting: Vec<u64>,
}

impl Child {
    /// A pace for a new thread: each kind at least once, then mostly stalling.
    fn pace(&mut self) -> Pace {
        if !self.live.iter().any(|w| w.pace == Pace::Busy) {
            Pace::Busy
        } else if !self.live.iter().any(|w| w.pace == Pace::Stalling) || !self.rng.one_in(3) {
            Pace::Stalling
        } else {
            Pace::Busy
        }
    }

    fn start(&mut self, session: faster_kv::Session<u64, u64>, serial: u64) {
        let pace = self.pace();
        let rng = Rng::new(self.rng.next(), session.id().get());
        let trace = self.dir.join(format!("trace-{}.log", session.id()));
        let mut out = std::io::stdout().lock();
        let version = self.store.version();
        writeln!(out, "SESSION {} {serial} v{version}", session.id()).unwrap();
        out.flush().unwrap();
        drop(out);
        self.live
            .push(stall::spawn(session, serial, pace, rng, trace));
    }

    fn create(&mut self) {
        let session = self.store.session().unwrap();
        self.start(session, 0);
    }

    /// Continues waiting session `index`; keeps it waiting while its old thread still holds it.
    fn resume(&mut self, index: usize) {
        let id = self.waiting.swap_remove(index);
        match self.store.continue_session(SessionId::new(id)) {
            Ok((session, serial)) => self.start(session, serial.get()),
            Err(SessionError::Unknown { .. }) => self.waiting.push(id),
            Err(e) => panic!("continue_session({id}): {e}"),
        }
    }

    fn drop_one(&mut self) {
        let index = (self.rng.next() % self.live.len() as u64) as usize;
        let worker = self.live.swap_remove(index);
        self.waiting.push(worker.id);
        worker.stop();
    }

    /// Creates, continues or drops a session (called while a checkpoint is in flight).
    fn churn(&mut self) {
        match self.rng.next() % 3 {
            0 if !self.waiting.is_empty() => {
                let index = (self.rng.next() % self.waiting.len() as u64) as usize;
                self.resume(index);
            }
            1 if self.live.len() > 2 => self.drop_one(),
            _ => self.create(),
        }
        while self.live.len() > MAX_LIVE {
            self.drop_one();
        }
    }
}

/// The child: recovers (or starts afresh), continues sessions, and checkpoints until killed.
fn child(dir: &Path) -> ! {
    exit_on_panic();
    let seed = env_u64(CHILD_SEED);
    let life = env_u64(CHILD_LIFE);
    let churn = std::env::var(CHURN).map_or(true, |v| v != "0");
    let (store, waiting) = match builder(dir).recover(None) {
        Ok((store, info)) => (store, info.sessions.iter().map(|c| c.id.get()).collect()),
        Err(RecoverError::NoCheckpoint { .. }) => (builder(dir).open().unwrap(), Vec::new()),
        Err(e) => panic!("recovery failed: {e}"),
    };
    let mut child = Child {
        store,
        dir: dir.to_path_buf(),
        rng: Rng::new(seed, life),
        live: Vec::new(),
        waiting,
    };
    let target = 2 + (seed % 3) as usize;
    // Continue most recovered sessions now; the others later, while checkpoints run.
    let mut index = 0;
    while index < child.waiting.len() {
        if child.live.len() < target && !child.rng.one_in(3) {
            child.resume(index);
        } else {
            index += 1;
        }
    }
    while child.live.len() < target {
        child.create();
    }
    let kinds = [
        LogCheckpointKind::FoldOver,
        LogCheckpointKind::Snapshot,
        LogCheckpointKind::IncrementalSnapshot,
    ];
    let shortest = child.rng.range(1, 3) * 1_000;
    {
        // On a line of its own: the test harness has printed "test ... " already.
        let mut out = std::io::stdout().lock();
        writeln!(out, "\nREADY").unwrap();
        out.flush().unwrap();
    }
    let mut round = 0u64;
    loop {
        round += 1;
        let options = CheckpointOptions {
            log: kinds[((round + seed) % 3) as usize],
            index: child.rng.one_in(4),
        };
        let handle = child.store.checkpoint_with(options).unwrap();
        if churn && child.rng.one_in(3) {
            sleep_us(child.rng.range(0, 3_000));
            child.churn();
        }
        let info = handle.wait().unwrap();
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "CHECKPOINT {} v{}", info.token, info.version).unwrap();
            out.flush().unwrap();
        }
        sleep_us(child.rng.range(shortest, 5_000));
    }
}

fn sleep_us(us: u64) {
    std::thread::sleep(Duration::from_micros(us));
}

/// One seed: several lives, each killed and checked (counted in `checked`).
fn check_seed(seed: u64, checked: &mut u64) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed, 0);
    // Upper bounds of every session's serial numbers, over all lives.
    let mut ran: HashMap<u64, u64> = HashMap::new();
    for life in 1..=LIVES {
        *checked += 1;
        let run_for = Duration::from_millis(rng.range(50, 500));
        let envs = [
            (CHILD_DIR, dir.path().display().to_string()),
            (CHILD_SEED, seed.to_string()),
            (CHILD_LIFE, life.to_string()),
        ];
        let killed = run_and_kill(TEST, &envs, run_for);
        let mut reported = None;
        for line in &killed.lines {
            let words: Vec<&str> = line.split(' ').collect();
            match words[..] {
                ["CHECKPOINT", token, _] => {
                    reported = Some(CheckpointToken::new(token.parse().unwrap()));
                }
                ["AT", id, upto] => {
                    let bound = ran.entry(id.parse().unwrap()).or_default();
                    *bound = (*bound).max(upto.parse().unwrap());
                }
                _ => {}
            }
        }
        let started = std::time::Instant::now();
        let (store, info) = match builder(dir.path()).recover::<u64, u64>(None) {
            Ok(recovered) => recovered,
            // Killed before its first checkpoint completed: nothing was promised.
            Err(RecoverError::NoCheckpoint { .. }) if reported.is_none() => continue,
            Err(e) => return Err(format!("life {life}: recovery failed: {e}")),
        };
        if let Some(reported) = reported
            && info.token < reported
        {
            return Err(format!(
                "life {life}: recovered checkpoint {} older than the completed {reported}",
                info.token
            ));
        }
        let recovered = started.elapsed();
        check_mixed(&store, &info.sessions, &ran).map_err(|v| {
            format!(
                "life {life} ({run_for:?}), checkpoint {} of version {}: {}{}",
                info.token,
                info.version,
                v.message,
                v.session
                    .map(|(id, serial)| history(&killed.lines, id, serial, info.token))
                    .unwrap_or_default()
            )
        })?;
        eprintln!(
            "  life {life}: {run_for:?}, checkpoint {} recovered in {recovered:?}, {} sessions \
             ({} operations) checked in {:?}",
            info.token,
            info.sessions.len(),
            info.sessions.iter().map(|c| c.serial.get()).sum::<u64>(),
            started.elapsed() - recovered
        );
    }
    Ok(())
}

/// What the child printed about session `id` from its last event (start, nap) before
/// `serial` up to the completion of checkpoint `token`, with the checkpoints in between.
fn history(lines: &[String], id: u64, serial: u64, token: CheckpointToken) -> String {
    let event = |l: &str| -> Option<u64> {
        let words: Vec<&str> = l.split(' ').collect();
        match words[..] {
            ["SESSION" | "NAP" | "WOKE", who, at, ..] if who == id.to_string() => at.parse().ok(),
            _ => None,
        }
    };
    let end = lines
        .iter()
        .position(|l| l.starts_with(&format!("CHECKPOINT {token} ")))
        .map_or(lines.len(), |i| i + 1);
    // The first event at the serial number of the last event before `serial` (a nap before
    // its wake), or the session's first event.
    let before = lines[..end]
        .iter()
        .rev()
        .filter_map(|l| event(l))
        .find(|&at| at < serial);
    let start = lines[..end]
        .iter()
        .position(|l| event(l).is_some_and(|at| before.is_none_or(|b| at == b)))
        .unwrap_or(end);
    // The session's events, and at most the first and last three checkpoints between two.
    let mut out: Vec<&str> = Vec::new();
    let mut checkpoints: Vec<&str> = Vec::new();
    for l in lines[start..end].iter().map(String::as_str).chain([""]) {
        if l.starts_with("CHECKPOINT ") {
            checkpoints.push(l);
            continue;
        }
        if checkpoints.len() > 6 {
            checkpoints.splice(3..checkpoints.len() - 3, ["..."]);
        }
        out.append(&mut checkpoints);
        if event(l).is_some() {
            out.push(l);
        }
    }
    format!("\n  the child's events of session {id} (from before serial {serial}): {out:?}")
}

#[test]
fn sigkill_with_stalling_sessions_recovers_a_prefix_of_every_session() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        child(Path::new(&dir));
    }
    let seeds = cpr_common::seeds();
    let mut failures = Vec::new();
    let mut checked = 0;
    for &seed in &seeds {
        eprintln!("crash_stall seed {seed}");
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_seed(seed, &mut checked)
        }))
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default();
            Err(format!("panicked: {message}"))
        });
        if let Err(e) = outcome {
            eprintln!(
                "crash_stall FAILED: seed {seed}: {e}\n  replay with FASTER_CRASH_SEED={seed}"
            );
            failures.push(seed);
        }
    }
    eprintln!(
        "crash_stall: {checked} lives over {} seeds, {} failed",
        seeds.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "crash_stall: {} of {} seeds failed: {failures:?} (replay one with FASTER_CRASH_SEED=S)",
        failures.len(),
        seeds.len()
    );
}
