//! Errors, durability and recovery of the hybrid log.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;
use std::sync::mpsc::channel;
use std::time::Duration;

use common::{mem_log, payload_len, read_back, record, write_at};
use faster_device::{Device, FaultDevice, FileDevice, MemDevice};
use faster_epoch::Epoch;
use faster_hlog::{Address, HybridLog, LogConfig, LogError, RecoveryPoint};

fn append(log: &HybridLog, n: u64) -> Vec<(Address, Vec<u8>)> {
    let handle = log.epoch().register().unwrap();
    let mut guard = handle.protect();
    (0..n)
        .map(|seq| {
            let bytes = record(1, seq, payload_len(1, seq));
            let address = log.allocate(bytes.len() as u64, &mut guard).unwrap();
            write_at(log, address, &bytes);
            guard.refresh();
            (address, bytes)
        })
        .collect()
}

#[test]
fn an_allocation_larger_than_a_page_is_an_error() {
    let log = mem_log(12, 4);
    let handle = log.epoch().register().unwrap();
    let guard = handle.protect();
    match log.try_allocate(4097, &guard) {
        Err(LogError::RecordTooLarge {
            size: 4104,
            page_size: 4096,
        }) => {}
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    // A whole page fits.
    assert!(log.try_allocate(4096, &guard).unwrap().is_some());
}

#[test]
fn invalid_settings_are_errors() {
    let device: Arc<dyn Device> = Arc::new(MemDevice::new());
    for config in [
        LogConfig::new().memory_pages(6),
        LogConfig::new().memory_pages(2),
        LogConfig::new().page_size_bits(11),
        LogConfig::new().page_size_bits(31),
        LogConfig::new().mutable_fraction(1.5),
    ] {
        let result = HybridLog::open(config.clone(), device.clone(), Epoch::new());
        assert!(
            matches!(result, Err(LogError::InvalidConfig(_))),
            "{config:?} was accepted"
        );
    }
}

#[test]
fn a_recovered_log_reads_old_records_and_continues_appending() {
    let dir = tempfile::tempdir().unwrap();
    let open_device = || -> Arc<dyn Device> {
        Arc::new(
            FileDevice::builder(dir.path())
                .segment_size(1 << 16)
                .open()
                .unwrap(),
        )
    };
    let config = LogConfig::new().page_size_bits(13).memory_pages(4);
    let (records, point) = {
        let log = HybridLog::open(config.clone(), open_device(), Epoch::new()).unwrap();
        let records = append(&log, 500);
        let tail = log.flush_and_sync().unwrap();
        assert_eq!(tail, log.tail_address());
        (
            records,
            RecoveryPoint {
                begin: log.begin_address(),
                tail,
            },
        )
    };
    let log = HybridLog::recover(config, open_device(), Epoch::new(), point).unwrap();
    assert_eq!(log.tail_address(), point.tail);
    for (address, bytes) in &records {
        assert_eq!(&read_back(&log, *address, bytes.len()), bytes);
    }
    let more = append(&log, 200);
    assert!(more[0].0 >= point.tail);
    for (address, bytes) in records.iter().chain(&more) {
        assert_eq!(&read_back(&log, *address, bytes.len()), bytes);
    }
}

#[test]
fn a_failed_flush_poisons_the_log() {
    let fault = Arc::new(FaultDevice::new(Arc::new(MemDevice::new())));
    fault.fail_nth_write(1);
    let log = HybridLog::open(
        LogConfig::new().page_size_bits(12).memory_pages(4),
        fault.clone(),
        Epoch::new(),
    )
    .unwrap();
    let handle = log.epoch().register().unwrap();
    let mut guard = handle.protect();
    let mut error = None;
    for seq in 0..10_000 {
        let bytes = record(0, seq, 200);
        match log.try_allocate(bytes.len() as u64, &guard) {
            Ok(Some(address)) => write_at(&log, address, &bytes),
            Ok(None) => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        guard.refresh();
    }
    assert!(
        matches!(error, Some(LogError::Poisoned(_))),
        "allocation must stop with the flush error, got {error:?}"
    );
    assert!(log.poisoned().is_some());
    drop(guard);
    assert!(matches!(
        log.wait_flushed(log.tail_address(), Duration::from_secs(1)),
        Err(LogError::Poisoned(_))
    ));
    let (sender, receiver) = channel();
    log.on_flushed(log.tail_address(), move |r| {
        sender.send(r.is_err()).unwrap()
    });
    assert!(receiver.recv().unwrap(), "waiters hear of the poison");
}

#[test]
fn shifting_begin_truncates_segments_and_refuses_reads_below_it() {
    let dir = tempfile::tempdir().unwrap();
    let device: Arc<dyn Device> = Arc::new(
        FileDevice::builder(dir.path())
            .segment_size(1 << 14)
            .open()
            .unwrap(),
    );
    let log = HybridLog::open(
        LogConfig::new().page_size_bits(12).memory_pages(4),
        device,
        Epoch::new(),
    )
    .unwrap();
    let records = append(&log, 400);
    log.flush_and_sync().unwrap();
    let segments = || std::fs::read_dir(dir.path()).unwrap().count();
    let before = segments();
    let cut = records[records.len() / 2].0;
    log.shift_begin(cut).unwrap();
    assert_eq!(log.begin_address(), cut);
    assert!(log.head_address() >= cut, "begin pushes the head");
    assert!(segments() < before, "segments below begin are removed");
    assert!(matches!(
        log.read_blocking(records[0].0, 64),
        Err(LogError::Truncated { .. })
    ));
    for (address, bytes) in &records[records.len() / 2..] {
        assert_eq!(&read_back(&log, *address, bytes.len()), bytes);
    }
    // Begin cannot pass what is on the device.
    let beyond = Address::new(log.flushed_until_address().raw() + 8).unwrap();
    assert!(matches!(
        log.shift_begin(beyond),
        Err(LogError::InvalidRange { .. })
    ));
}

#[test]
fn reads_of_bytes_not_yet_on_the_device_are_refused() {
    let log = mem_log(12, 4);
    let records = append(&log, 3);
    assert!(matches!(
        log.read_blocking(records[0].0, 8),
        Err(LogError::InvalidRange { .. })
    ));
}

#[test]
fn flush_waiters_run_once_the_bytes_are_written() {
    let log = mem_log(12, 4);
    let records = append(&log, 3);
    let (sender, receiver) = channel();
    let end = log.tail_address();
    log.on_flushed(end, move |r| sender.send(r.is_ok()).unwrap());
    assert!(receiver.try_recv().is_err(), "nothing is flushed yet");
    log.flush_until(end);
    assert!(log.wait_flushed(end, Duration::from_secs(5)).unwrap());
    assert!(receiver.recv_timeout(Duration::from_secs(5)).unwrap());
    assert_eq!(
        &read_back(&log, records[2].0, records[2].1.len()),
        &records[2].1
    );
    assert!(log.read_blocking(records[0].0, 16).is_ok());
}

#[test]
fn a_scan_that_keeps_going_refreshes_its_protection() {
    let log = mem_log(12, 64);
    append(&log, 200);
    let end = log.shift_read_only_to_tail();
    assert!(log.wait_flushed(end, Duration::from_secs(5)).unwrap());
    let mut scan = log.scan(Address::FIRST_VALID, end, common::sizer).unwrap();
    assert!(scan.next().unwrap().is_some()); // protected now
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    log.epoch()
        .bump_with(move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
    assert!(
        !ran.load(std::sync::atomic::Ordering::SeqCst),
        "the action waits for the scan's protection"
    );
    let mut handed_out = 0;
    for _ in 0..faster_hlog::SCAN_REFRESH_INTERVAL {
        if scan.next().unwrap().is_some() {
            handed_out += 1;
        }
    }
    assert_eq!(handed_out, faster_hlog::SCAN_REFRESH_INTERVAL);
    assert!(
        ran.load(std::sync::atomic::Ordering::SeqCst),
        "a scan refreshes within SCAN_REFRESH_INTERVAL records, letting the action run"
    );
}

#[test]
fn a_paused_scan_no_longer_holds_back_flushes() {
    let log = mem_log(12, 4);
    append(&log, 50);
    let end = log.shift_read_only_to_tail();
    assert!(log.wait_flushed(end, Duration::from_secs(5)).unwrap());
    let mut scan = log.scan(Address::FIRST_VALID, end, common::sizer).unwrap();
    assert!(scan.next().unwrap().is_some()); // protected now, holding a record from memory
    // A little more, within the free frames: writing it must not need an eviction, which would
    // wait on this thread's own scan.
    append(&log, 2);
    let target = log.shift_read_only_to_tail();
    let waiter = {
        let log = log.clone();
        std::thread::spawn(move || {
            log.wait_flushed(target, Duration::from_millis(300))
                .unwrap()
        })
    };
    assert!(
        !waiter.join().unwrap(),
        "an active scan holds the flush back"
    );
    scan.pause();
    assert!(
        log.wait_flushed(target, Duration::from_secs(5)).unwrap(),
        "a paused scan does not"
    );
    // And it resumes where it was.
    assert!(scan.next().unwrap().is_some());
}
