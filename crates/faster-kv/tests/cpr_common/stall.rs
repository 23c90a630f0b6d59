//! Session threads for crash tests whose sessions do not all run flat out: busy ones run
//! pinned loops; stalling ones run plain operations (each protects and unprotects) and stall
//! between them — yielding, sleeping briefly, sleeping through whole checkpoints, or blocking
//! on I/O — so that they wake in any phase of a checkpoint, after any number of version
//! changes.
//!
//! Every thread announces how far it may go before it goes there: it prints `AT <id> <n>`
//! (and flushes) before running serial numbers up to `n`, so that whoever kills the process
//! knows an upper bound of each session's serial numbers from its output. Before sleeping
//! through checkpoints it prints `NAP <id> <serial> <duration>`, and `WOKE <id> <serial>`
//! after.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use faster_kv::Session;

use super::mixed::{run_mixed, splitmix};

/// A small deterministic generator.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        Self(splitmix(
            splitmix(seed) ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03),
        ))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix(self.0)
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True with probability `1 / n`.
    pub(crate) fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

/// How a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pace {
    /// Pinned batches back to back.
    Busy,
    /// Plain operations with stalls between them.
    Stalling,
}

/// A running session thread.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) id: u64,
    pub(crate) pace: Pace,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Asks the thread to end (it drops its session when it sees the request).
    pub(crate) fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.thread.take());
    }
}

/// Starts a thread running `session` (whose last serial number is `serial`) at `pace`.
/// Stalling threads also append lines to `trace` (blocking file I/O).
pub(crate) fn spawn(
    session: Session<u64, u64>,
    serial: u64,
    pace: Pace,
    rng: Rng,
    trace: PathBuf,
) -> Worker {
    let id = session.id().get();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name(format!("session-{id}"))
        .spawn(move || match pace {
            Pace::Busy => busy(session, serial, rng, &flag),
            Pace::Stalling => stalling(session, serial, rng, &flag, &trace),
        })
        .unwrap();
    Worker {
        id,
        pace,
        stop,
        thread: Some(thread),
    }
}

/// Announces that session `id` may run serial numbers up to `upto` (blocking pipe I/O).
fn announce(id: u64, upto: u64) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "AT {id} {upto}").unwrap();
    out.flush().unwrap();
}

fn busy(mut session: Session<u64, u64>, mut serial: u64, mut rng: Rng, stop: &AtomicBool) {
    let id = session.id().get();
    let mut reserved = serial;
    while !stop.load(Ordering::Relaxed) {
        if serial >= reserved {
            reserved = serial + rng.range(2_000, 5_000);
            announce(id, reserved);
        }
        let batch = rng.range(1, 100).min(reserved - serial);
        let mut pinned = session.pin();
        for _ in 0..batch {
            serial += 1;
            run_mixed(&mut pinned, id, serial);
        }
        drop(pinned);
        assert_eq!(session.serial().get(), serial, "session {id} lost count");
    }
}

/// What a stalling session does between two operations, for a while.
#[derive(Debug, Clone, Copy)]
enum Mood {
    /// Yields now and then, sleeps briefly sometimes.
    Jittery,
    /// Sleeps 10 µs – 2 ms after every operation.
    Sleepy,
    /// Sleeps 5–30 ms (through whole checkpoints), then runs a burst of operations.
    Napper,
    /// Runs flat out (its operations still protect and unprotect one by one).
    Eager,
}

fn stalling(
    mut session: Session<u64, u64>,
    mut serial: u64,
    mut rng: Rng,
    stop: &AtomicBool,
    trace: &Path,
) {
    let id = session.id().get();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(trace)
        .unwrap();
    let mut reserved = serial;
    let mut mood = Mood::Napper;
    let mut mood_left = 0u64;
    let mut burst = 0u64;
    let mut next_trace = serial + rng.range(50, 300);
    while !stop.load(Ordering::Relaxed) {
        if mood_left == 0 {
            mood = match rng.next() % 8 {
                0 | 1 => Mood::Jittery,
                2 => Mood::Sleepy,
                3 => Mood::Eager,
                _ => Mood::Napper,
            };
            mood_left = rng.range(100, 2_000);
        }
        mood_left -= 1;
        if serial >= reserved {
            reserved = serial + rng.range(100, 500);
            announce(id, reserved);
        }
        if serial >= next_trace {
            next_trace = serial + rng.range(50, 300);
            writeln!(file, "session {id} at {serial}").unwrap();
            if rng.one_in(4) {
                file.sync_data().unwrap();
            }
        }
        serial += 1;
        run_mixed(&mut session, id, serial);
        assert_eq!(session.serial().get(), serial, "session {id} lost count");
        match mood {
            Mood::Jittery if rng.one_in(3) => std::thread::yield_now(),
            Mood::Jittery if rng.one_in(20) => sleep_us(rng.range(10, 2_000)),
            Mood::Sleepy => sleep_us(rng.range(10, 2_000)),
            Mood::Napper if burst == 0 => {
                let us = rng.range(5_000, 30_000);
                let mut out = std::io::stdout().lock();
                writeln!(out, "NAP {id} {serial} {us}us").unwrap();
                out.flush().unwrap();
                drop(out);
                sleep_us(us);
                let mut out = std::io::stdout().lock();
                writeln!(out, "WOKE {id} {serial}").unwrap();
                out.flush().unwrap();
                burst = rng.range(20, 2_000);
            }
            Mood::Napper => burst -= 1,
            Mood::Jittery | Mood::Eager => {}
        }
    }
}

fn sleep_us(us: u64) {
    std::thread::sleep(Duration::from_micros(us));
}
