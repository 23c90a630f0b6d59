//! SIGKILL crash tests: a child process (this test binary, re-run in the child role)
//! enqueues, consumes, truncates and commits in a loop, reporting each commit that returned;
//! the parent kills it at a random moment, reopens the log and checks it. Each seed runs two
//! lives on the same files, so the second life appends over whatever the first left behind.
//!
//! `FASTER_LOG_CRASH_SEEDS=n` runs seeds `0..n` (default 8); `FASTER_LOG_CRASH_SEED=s` replays
//! seed `s` alone. A failure names its seed.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Rng, identify, payload};
use faster_log::{Address, FasterLog};

/// Set in the child: `dir;seed;life`.
const CHILD_ENV: &str = "FASTER_LOG_CRASH_CHILD";
const LIVES: u32 = 2;

fn open(dir: &Path, seed: u64) -> FasterLog {
    FasterLog::builder_in_dir(dir)
        .page_size_bits(12 + (seed % 3) as u32)
        .memory_pages(4)
        .huge_pages(false)
        .segment_size(64 << 10)
        .fast_commit(seed % 4 != 3)
        .open()
        .unwrap()
}

/// Payload length of entry `seq`: a function of the seed, so the parent can check it.
fn length(seed: u64, seq: u64) -> usize {
    16 + ((seed.wrapping_mul(7919) ^ seq.wrapping_mul(104_729)) % 900) as usize
}

/// The child role, run inside the parent test when the parent set `FASTER_LOG_CRASH_CHILD`
/// (so that it never counts as a test of its own).
fn crash_child_role(spec: &str) {
    let mut parts = spec.split(';');
    let dir = parts.next().unwrap().to_owned();
    let seed: u64 = parts.next().unwrap().parse().unwrap();
    let life: u32 = parts.next().unwrap().parse().unwrap();
    let log = open(Path::new(&dir), seed);
    let mut next_seq = match log.iter().next().unwrap() {
        Some(_) => {
            let mut iter = log.iter();
            let mut last = 0;
            while let Some(entry) = iter.next().unwrap() {
                last = identify(entry.payload).1 + 1;
            }
            last
        }
        None => 0,
    };
    let mut consumer = log.named_iterator("consumer").unwrap();
    let mut rng = Rng(seed ^ (u64::from(life) << 32));
    let mut stdout = std::io::stdout().lock();
    loop {
        for _ in 0..1 + rng.below(20) {
            if rng.below(8) == 0 {
                // Batch members are writers 10, 11 and 12, so the parent can tell a batch apart.
                let batch: Vec<_> = (0..3)
                    .map(|i| {
                        let seq = next_seq + i;
                        payload(10 + i as u32, seq, life, length(seed, seq))
                    })
                    .collect();
                log.enqueue_batch(&batch).unwrap();
                next_seq += 3;
            } else {
                log.enqueue(&payload(0, next_seq, life, length(seed, next_seq)))
                    .unwrap();
                next_seq += 1;
            }
        }
        // The consumer processes a few committed entries and marks them done.
        for _ in 0..rng.below(10) {
            match consumer.next().unwrap() {
                Some(entry) => {
                    let done = entry.next_address;
                    consumer.complete_until(done);
                }
                None => break,
            }
        }
        let position = consumer.next_address();
        if rng.below(40) == 0 {
            log.truncate_until(position).unwrap();
        }
        let committed = log.commit().unwrap();
        writeln!(
            stdout,
            "C {next_seq} {} {}",
            position.raw(),
            committed.raw()
        )
        .unwrap();
        stdout.flush().unwrap();
    }
}

/// What the child reported for its last returned commit: entries enqueued before it, the
/// consumer's position and the committed-until address.
#[derive(Debug, Clone, Copy, Default)]
struct Reported {
    entries: u64,
    position: u64,
    committed: u64,
}

fn run_child(dir: &Path, seed: u64, life: u32, kill_after: Duration) -> Option<Reported> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "sigkill_at_random_moments_loses_no_commit_and_returns_no_garbage",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format!("{};{seed};{life}", dir.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let last = Arc::new(Mutex::new(None));
    let reader = {
        let last = Arc::clone(&last);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Some(rest) = line.strip_prefix("C ") else {
                    continue;
                };
                let fields: Vec<u64> = rest.split(' ').map(|f| f.parse().unwrap()).collect();
                *last.lock().unwrap() = Some(Reported {
                    entries: fields[0],
                    position: fields[1],
                    committed: fields[2],
                });
            }
        })
    };
    std::thread::sleep(kill_after);
    if let Some(status) = child.try_wait().unwrap() {
        panic!("seed {seed}, life {life}: the child stopped by itself: {status}");
    }
    // `kill` sends SIGKILL on Unix: no destructor, no flush, no goodbye.
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    *last.lock().unwrap()
}

/// Checks the reopened log against the last report; returns the entries it holds.
fn check(dir: &Path, seed: u64, life: u32, reported: Option<Reported>) -> u64 {
    let log = open(dir, seed);
    let reported = reported.unwrap_or_default();
    assert!(
        log.committed_until().raw() >= reported.committed,
        "committed-until {:?} is behind the reported {}",
        log.committed_until(),
        reported.committed
    );
    let mut iter = log.iter();
    let mut expected_seq = None;
    let mut count = 0;
    let mut last_life = 0;
    let mut last_writer = 0;
    while let Some(entry) = iter.next().unwrap() {
        let (writer, seq, entry_life) = identify(entry.payload);
        // Single entries are writer 0; a batch is writers 10, 11 and 12 in a row.
        match (last_writer, writer) {
            (0 | 12, 0 | 10) | (10, 11) | (11, 12) => {}
            // The first entry after a truncation may be inside a batch.
            (_, 11 | 12) if expected_seq.is_none() => {}
            other => panic!("entry {seq}: a batch was split or reordered: {other:?}"),
        }
        last_writer = writer;
        assert_eq!(
            entry.payload.len(),
            length(seed, seq),
            "entry {seq} has a wrong length"
        );
        if let Some(expected) = expected_seq {
            assert_eq!(seq, expected, "entries missing, repeated or out of order");
        }
        assert!(
            entry_life >= last_life && entry_life <= life,
            "entry {seq} of life {entry_life}"
        );
        last_life = entry_life;
        expected_seq = Some(seq + 1);
        count = seq + 1;
    }
    assert!(
        !matches!(last_writer, 10 | 11),
        "the recovered log ends inside a batch"
    );
    assert!(
        count >= reported.entries,
        "{count} entries after recovery, but a commit returned after {}",
        reported.entries
    );
    let position = log
        .named_iterators()
        .into_iter()
        .find(|(name, _)| name == "consumer")
        .map_or(Address::FIRST_VALID, |(_, p)| p);
    assert!(
        position.raw() >= reported.position.max(log.begin_address().raw()),
        "the consumer resumes at {position:?}, behind the committed {}",
        reported.position
    );
    assert!(position <= log.committed_until());
    count
}

fn seeds() -> Vec<u64> {
    if let Ok(seed) = std::env::var("FASTER_LOG_CRASH_SEED") {
        return vec![seed.parse().unwrap()];
    }
    let count = std::env::var("FASTER_LOG_CRASH_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(8);
    (0..count).collect()
}

#[test]
fn sigkill_at_random_moments_loses_no_commit_and_returns_no_garbage() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        crash_child_role(&spec);
        return;
    }
    for seed in seeds() {
        eprintln!("crash seed {seed} (replay: FASTER_LOG_CRASH_SEED={seed})");
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng(seed.wrapping_mul(31).wrapping_add(7));
        let mut entries = 0;
        for life in 0..LIVES {
            let kill_after = Duration::from_millis(40 + rng.below(260));
            let reported = run_child(dir.path(), seed, life, kill_after);
            let count = check(dir.path(), seed, life, reported);
            eprintln!(
                "  life {life}: killed after {kill_after:?}; {count} entries recovered, the last \
                 returned commit covered {}",
                reported.map_or(0, |r| r.entries)
            );
            assert!(
                count >= entries,
                "seed {seed}: life {life} lost earlier entries"
            );
            entries = count;
        }
    }
}
