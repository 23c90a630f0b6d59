//! Faults injected with `FaultDevice`: torn and dropped unflushed writes at the tail, I/O
//! errors during commits, stale entries of a crashed life, and corrupted bytes.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;

use common::{Rng, drain, identify, payload};
use faster_log::{
    CommitError, CrashMode, Device, DeviceExt, EnqueueError, FasterLog, FaultDevice, IterError,
    LogOpenError, MemDevice, ScanStop,
};

/// A log device and a commit device, each a `FaultDevice` over memory.
struct Devices {
    log: Arc<FaultDevice>,
    commit: Arc<FaultDevice>,
}

impl Devices {
    fn new() -> Self {
        let mem = || Arc::new(FaultDevice::new(Arc::new(MemDevice::new())));
        Self {
            log: mem(),
            commit: mem(),
        }
    }

    fn open(&self, fast: bool) -> FasterLog {
        self.builder(fast).open().unwrap()
    }

    fn builder(&self, fast: bool) -> faster_log::FasterLogBuilder {
        let log: Arc<dyn Device> = Arc::clone(&self.log) as Arc<dyn Device>;
        let commit: Arc<dyn Device> = Arc::clone(&self.commit) as Arc<dyn Device>;
        FasterLog::builder(log, commit)
            .page_size_bits(12)
            .memory_pages(4)
            .huge_pages(false)
            .fast_commit(fast)
            .commit_slot_size(4096)
    }

    fn crash(&self, mode: CrashMode) {
        self.log.crash(mode).unwrap();
        self.commit.crash(mode).unwrap();
    }
}

/// What a test expects of the log: every entry enqueued (in order) and how many of them a
/// returned commit covers.
#[derive(Default)]
struct Model {
    entries: Vec<Vec<u8>>,
    committed: usize,
    /// Indices of entries that are not the last of their batch: no recovered log ends there.
    inside_batch: std::collections::HashSet<usize>,
}

impl Model {
    /// Checks the reopened log: a prefix of the entries, at least the committed ones, each
    /// intact. Keeps that prefix as the new truth.
    fn check(&mut self, log: &FasterLog, context: &str) {
        let seen = drain(&mut log.iter());
        assert!(
            seen.len() >= self.committed,
            "{context}: {} entries recovered, {} were committed",
            seen.len(),
            self.committed
        );
        assert!(
            seen.len() <= self.entries.len(),
            "{context}: entries out of nowhere"
        );
        assert!(
            !self.inside_batch.contains(&seen.len().wrapping_sub(1)),
            "{context}: the recovered log ends inside a batch"
        );
        for (i, bytes) in seen.iter().enumerate() {
            assert_eq!(bytes, &self.entries[i], "{context}: entry {i} differs");
        }
        self.entries.truncate(seen.len());
        self.committed = seen.len();
    }
}

/// Enqueues `count` entries of `life`, committing now and then.
fn workload(log: &FasterLog, rng: &mut Rng, life: u32, count: usize, model: &mut Model) {
    for _ in 0..count {
        let seq = model.entries.len() as u64;
        let len = 16 + rng.below(600) as usize;
        let bytes = payload(0, seq, life, len);
        if rng.below(10) == 0 {
            let batch = [bytes.clone(), payload(0, seq + 1, life, 20)];
            log.enqueue_batch(&batch).unwrap();
            model.inside_batch.insert(model.entries.len());
            model.entries.extend(batch);
        } else {
            log.enqueue(&bytes).unwrap();
            model.entries.push(bytes);
        }
        if rng.below(12) == 0 {
            log.commit().unwrap();
            model.committed = model.entries.len();
        }
    }
}

#[test]
fn torn_and_dropped_tail_writes_never_lose_a_commit_or_return_garbage() {
    for seed in 0..40u64 {
        let fast = seed % 2 == 0;
        let devices = Devices::new();
        let mut rng = Rng(seed);
        let mut model = Model::default();
        for life in 0..3 {
            let log = devices.open(fast);
            model.check(&log, &format!("seed {seed}, life {life}"));
            let count = 100 + rng.below(200) as usize;
            workload(&log, &mut rng, life, count, &mut model);
            drop(log);
            let mode = if rng.below(4) == 0 {
                CrashMode::DropUnflushed
            } else {
                CrashMode::Random { seed: rng.next() }
            };
            devices.crash(mode);
        }
        let log = devices.open(fast);
        model.check(&log, &format!("seed {seed}, last"));
    }
}

#[test]
fn stale_entries_of_a_crashed_life_never_come_back() {
    for fast in [true, false] {
        let devices = Devices::new();
        let log = devices.open(fast);
        let first: Vec<_> = (0..50).map(|seq| payload(0, seq, 0, 100)).collect();
        for bytes in &first {
            log.enqueue(bytes).unwrap();
        }
        log.commit().unwrap();
        // 200 more entries reach the device and are made durable there, but no commit
        // covers them.
        for seq in 50..250 {
            log.enqueue(&payload(0, seq, 0, 100)).unwrap();
        }
        assert!(log.tail_address().raw() > 4 * 4096);
        let flushed = log.tail_address().raw() & !4095;
        while log.committed_until().raw() < flushed && devices.log.unflushed_writes() == 0 {
            std::thread::yield_now();
        }
        devices.log.flush().unwrap();
        drop(log);
        devices.crash(CrashMode::DropUnflushed);

        // Second life: resumes after the 50, over the stale 200; appends three and commits.
        let log = devices.open(fast);
        assert_eq!(drain(&mut log.iter()), first, "fast: {fast}");
        let mut expected = first.clone();
        for seq in 50..53 {
            let bytes = payload(0, seq, 1, 100);
            log.enqueue(&bytes).unwrap();
            expected.push(bytes);
        }
        log.commit().unwrap();
        drop(log);
        devices.crash(CrashMode::DropUnflushed);

        // Third life: exactly the 50 and the three; the stale entries right after them are
        // of another generation and stop the scan.
        let log = devices.open(fast);
        let seen = drain(&mut log.iter());
        for bytes in &seen {
            identify(bytes);
        }
        assert_eq!(seen, expected, "fast: {fast}");
        if fast {
            assert_eq!(log.recovery_info().scan_stop, ScanStop::OtherGeneration);
        }
    }
}

#[test]
fn a_failed_page_write_fails_the_commit_and_poisons_the_log() {
    let devices = Devices::new();
    let log = devices.open(true);
    log.enqueue(b"kept").unwrap();
    log.commit().unwrap();
    log.enqueue(b"lost").unwrap();
    devices.log.fail_nth_write(1);
    match log.commit() {
        Err(CommitError::Log(_)) => {}
        other => panic!("expected a write error, got {other:?}"),
    }
    assert!(log.poisoned().is_some());
    assert!(matches!(log.commit(), Err(CommitError::Poisoned(_))));
    assert!(matches!(log.enqueue(b"x"), Err(EnqueueError::Poisoned(_))));
    drop(log);
    devices.crash(CrashMode::DropUnflushed);
    let log = devices.open(true);
    assert_eq!(drain(&mut log.iter()), vec![b"kept".to_vec()]);
    log.enqueue(b"again").unwrap();
    log.commit().unwrap();
}

#[test]
fn a_failed_device_flush_fails_the_commit_and_refuses_commits_until_reopened() {
    for fast in [true, false] {
        let devices = Devices::new();
        let log = devices.open(fast);
        log.enqueue(b"kept").unwrap();
        log.commit().unwrap();
        log.enqueue(b"unknown").unwrap();
        devices.log.fail_nth_flush(1);
        match log.commit() {
            Err(CommitError::Device(e)) => assert_eq!(e.raw_os_error(), Some(libc::EIO)),
            other => panic!("expected a flush error, got {other:?}"),
        }
        assert!(matches!(log.commit(), Err(CommitError::Poisoned(_))));
        drop(log);
        devices.crash(CrashMode::DropUnflushed);
        let log = devices.open(fast);
        assert_eq!(
            drain(&mut log.iter()),
            vec![b"kept".to_vec()],
            "fast: {fast}"
        );
        log.commit().unwrap();
    }
}

#[test]
fn a_failed_metadata_write_fails_the_commit() {
    let devices = Devices::new();
    let log = devices.open(false);
    log.enqueue(b"kept").unwrap();
    log.commit().unwrap();
    log.enqueue(b"unknown").unwrap();
    devices.commit.fail_nth_write(1);
    assert!(matches!(log.commit(), Err(CommitError::Device(_))));
    assert!(matches!(log.commit(), Err(CommitError::Poisoned(_))));
    drop(log);
    devices.crash(CrashMode::DropUnflushed);
    let log = devices.open(false);
    assert_eq!(drain(&mut log.iter()), vec![b"kept".to_vec()]);
}

/// Flips one byte of the device at `offset`.
fn flip(device: &dyn Device, offset: u64) {
    let sector = device.geometry().sector_size as u64;
    let start = offset / sector * sector;
    let mut buf = vec![0; sector as usize];
    device.read_blocking(start, &mut buf).unwrap();
    buf[(offset - start) as usize] ^= 0x10;
    device.write_blocking(start, &buf).unwrap();
    device.flush().unwrap();
}

#[test]
fn a_corrupted_committed_entry_is_an_error_not_data() {
    let devices = Devices::new();
    let log = devices.open(false);
    let addresses: Vec<_> = (0..20)
        .map(|seq| log.enqueue(&payload(0, seq, 0, 200)).unwrap())
        .collect();
    log.commit().unwrap();
    drop(log);
    flip(devices.log.as_ref(), addresses[7].raw() + 30);
    let log = devices.open(false);
    let mut iter = log.iter();
    for _ in 0..7 {
        identify(iter.next().unwrap().unwrap().payload);
    }
    for _ in 0..2 {
        match iter.next() {
            Err(IterError::Corrupt(e)) => assert!(e.to_string().contains("checksum"), "{e}"),
            other => panic!("expected a checksum error, got {other:?}"),
        }
    }
    assert!(matches!(
        log.read_entry(addresses[7]),
        Err(IterError::Corrupt(_))
    ));
}

#[test]
fn a_corrupted_fast_commit_tail_is_cut_at_the_last_valid_entry() {
    let devices = Devices::new();
    let log = devices.open(true);
    let mut expected = Vec::new();
    let mut addresses = Vec::new();
    for seq in 0..6 {
        let bytes = payload(0, seq, 0, 60);
        addresses.push(log.enqueue(&bytes).unwrap());
        expected.push(bytes);
        log.commit().unwrap();
    }
    drop(log);
    // Corrupt the fifth entry: the fast commits of the fifth and sixth are cut off.
    flip(devices.log.as_ref(), addresses[4].raw() + 20);
    let log = devices.open(true);
    let info = log.recovery_info().clone();
    assert_eq!(info.scan_stop, ScanStop::InvalidEntry);
    assert_eq!(info.scan_stopped_at, addresses[4]);
    assert_eq!(drain(&mut log.iter()), expected[..4]);
}

#[test]
fn a_torn_newest_metadata_slot_falls_back_and_two_bad_slots_are_an_error() {
    let devices = Devices::new();
    let log = devices.open(false);
    log.enqueue(b"one").unwrap();
    log.commit().unwrap(); // sequence 2, slot 0
    log.enqueue(b"two").unwrap();
    log.commit().unwrap(); // sequence 3, slot 1
    drop(log);
    flip(devices.commit.as_ref(), 4096 + 40);
    let log = devices.open(false);
    assert_eq!(log.recovery_info().commit_sequence, 2);
    assert_eq!(drain(&mut log.iter()), vec![b"one".to_vec()]);
    drop(log);
    // The reopen wrote sequence 3 to slot 1; damage both.
    flip(devices.commit.as_ref(), 40);
    flip(devices.commit.as_ref(), 4096 + 41);
    match devices.builder(false).open() {
        Err(LogOpenError::CorruptMetadata { slot0, slot1 }) => {
            assert!(slot0.to_string().contains("checksum"), "{slot0}");
            assert!(slot1.to_string().contains("checksum"), "{slot1}");
        }
        other => panic!("expected CorruptMetadata, got {other:?}"),
    }
}
