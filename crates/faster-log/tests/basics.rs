//! Enqueue, commit, iterate, truncate and reopen on a working device.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{drain, identify, mem_devices, payload, payload_len, small};
use faster_log::{
    Address, CommitPolicy, Device, EnqueueError, FasterLog, FaultDevice, IterError, LogIterator,
    LogOpenError, MemDevice, NamedIteratorError, TruncateError,
};

fn enqueue_all(log: &FasterLog, n: u64, max: usize) -> Vec<(Address, Vec<u8>)> {
    (0..n)
        .map(|seq| {
            let bytes = payload(1, seq, 0, payload_len(1, seq, max));
            (log.enqueue(&bytes).unwrap(), bytes)
        })
        .collect()
}

#[test]
fn entries_come_back_in_order_after_commit_and_after_reopening() {
    let (dev, meta) = mem_devices();
    let expected = {
        let log = small(&dev, &meta).open().unwrap();
        let entries = enqueue_all(&log, 2_000, 700);
        let committed = log.commit().unwrap();
        assert_eq!(committed, log.committed_until());
        let mut iter = log.iter();
        let mut seen = Vec::new();
        while let Some(entry) = iter.next().unwrap() {
            seen.push((entry.address, entry.payload.to_vec()));
        }
        assert_eq!(seen, entries);
        entries
    };
    let log = small(&dev, &meta).open().unwrap();
    assert!(!log.recovery_info().created);
    let mut iter = log.iter();
    let mut seen = Vec::new();
    while let Some(entry) = iter.next().unwrap() {
        seen.push((entry.address, entry.payload.to_vec()));
    }
    assert_eq!(seen, expected);
}

#[test]
fn a_scan_covers_exactly_its_range_from_memory_and_from_the_device() {
    let (dev, meta) = mem_devices();
    let log = small(&dev, &meta).open().unwrap();
    // 300 entries of ~300 bytes span ~25 pages: most are evicted from the 4 in memory.
    let entries = enqueue_all(&log, 300, 600);
    log.commit().unwrap();
    for (from, to) in [(0, 300), (3, 7), (120, 121), (250, 300), (299, 300)] {
        let end = entries.get(to).map_or(log.committed_until(), |(a, _)| *a);
        let mut scan = log.scan(entries[from].0, end);
        let mut seen = Vec::new();
        while let Some(entry) = scan.next_blocking().unwrap() {
            seen.push(entry.payload.to_vec());
        }
        assert!(scan.is_at_end());
        let expected: Vec<_> = entries[from..to].iter().map(|(_, b)| b.clone()).collect();
        assert_eq!(seen, expected, "scan of entries {from}..{to}");
    }
}

#[test]
fn uncommitted_entries_are_invisible_until_a_commit() {
    let (dev, meta) = mem_devices();
    let log = small(&dev, &meta).open().unwrap();
    let address = log.enqueue(b"later").unwrap();
    let mut iter = log.iter();
    assert!(iter.next().unwrap().is_none());
    assert!(matches!(
        log.read_entry(address),
        Err(IterError::NoEntry { .. })
    ));
    log.commit().unwrap();
    assert_eq!(iter.next().unwrap().unwrap().payload, b"later");
    assert_eq!(log.read_entry(address).unwrap(), b"later");
    assert!(iter.next().unwrap().is_none());
}

#[test]
fn an_entry_larger_than_a_page_is_refused_and_the_largest_fits() {
    let (dev, meta) = mem_devices();
    let log = small(&dev, &meta).open().unwrap();
    assert_eq!(log.max_entry_size(), 4096 - 16);
    let too_large = vec![7; 4096 - 15];
    assert!(matches!(
        log.enqueue(&too_large),
        Err(EnqueueError::EntryTooLarge {
            len: 4081,
            max: 4080
        })
    ));
    let largest = vec![9; 4080];
    let empty: &[u8] = &[];
    let a = log.enqueue(&largest).unwrap();
    let b = log.enqueue(empty).unwrap();
    assert_eq!(a.raw() % 4096, 0, "a full-page entry starts a page");
    log.commit().unwrap();
    assert_eq!(log.read_entry(a).unwrap(), largest);
    assert_eq!(log.read_entry(b).unwrap(), empty);
}

#[test]
fn a_batch_is_contiguous_and_must_fit_in_a_page() {
    let (dev, meta) = mem_devices();
    let log = small(&dev, &meta).open().unwrap();
    log.enqueue(&[1; 3000]).unwrap();
    let batch: Vec<Vec<u8>> = (0..10).map(|i| vec![i; 100]).collect();
    let first = log.enqueue_batch(&batch).unwrap();
    assert_eq!(
        first.raw() % 4096,
        0,
        "the batch did not fit after the first entry"
    );
    log.commit().unwrap();
    let mut iter = log.iter_from(first);
    let mut address = first;
    for expected in &batch {
        let entry = iter.next().unwrap().unwrap();
        assert_eq!(entry.address, address);
        assert_eq!(entry.payload, &expected[..]);
        address = entry.next_address;
        assert_eq!(
            address.raw() - entry.address.raw(),
            faster_log::entry::entry_size(100) as u64
        );
    }
    let huge: Vec<Vec<u8>> = (0..3).map(|_| vec![0; 1500]).collect();
    assert!(matches!(
        log.enqueue_batch(&huge),
        Err(EnqueueError::BatchTooLarge { .. })
    ));
    let none: [&[u8]; 0] = [];
    assert!(matches!(
        log.enqueue_batch(&none),
        Err(EnqueueError::EmptyBatch)
    ));
}

#[test]
fn try_enqueue_says_full_while_flushes_are_slow() {
    let fault = Arc::new(FaultDevice::new(Arc::new(MemDevice::new())));
    fault.set_delay(Duration::from_millis(300)).unwrap();
    let dev: Arc<dyn Device> = Arc::clone(&fault) as Arc<dyn Device>;
    let meta: Arc<dyn Device> = Arc::new(MemDevice::new());
    let log = small(&dev, &meta).open().unwrap();
    let entry = [5u8; 1000];
    let mut accepted = 0;
    let full = loop {
        match log.try_enqueue(&entry).unwrap() {
            Some(_) => accepted += 1,
            None => break true,
        }
        if accepted > 100 {
            break false;
        }
    };
    assert!(full, "memory of 4 pages never filled");
    assert!(accepted >= 8, "only {accepted} entries fit");
    // The blocking variant waits for the slow flush instead.
    log.enqueue(&entry).unwrap();
    fault.set_delay(Duration::ZERO).unwrap();
    log.commit().unwrap();
    assert_eq!(drain(&mut log.iter()).len(), accepted + 1);
}

#[test]
fn wait_for_commit_returns_once_another_thread_commits() {
    let (dev, meta) = mem_devices();
    let log = Arc::new(small(&dev, &meta).open().unwrap());
    let address = log.enqueue(b"x").unwrap();
    let until = Address::new(address.raw() + 1).unwrap();
    assert_eq!(
        log.wait_for_commit_timeout(until, Duration::from_millis(20))
            .unwrap(),
        None
    );
    let waiter = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || log.wait_for_commit(until).unwrap())
    };
    std::thread::sleep(Duration::from_millis(20));
    let committed = log.commit().unwrap();
    assert_eq!(waiter.join().unwrap(), committed);
    assert!(committed >= until);
}

#[test]
fn concurrent_commits_share_rounds() {
    let fault = Arc::new(FaultDevice::new(Arc::new(MemDevice::new())));
    fault.set_delay(Duration::from_millis(3)).unwrap();
    let dev: Arc<dyn Device> = fault;
    let meta: Arc<dyn Device> = Arc::new(MemDevice::new());
    let log = Arc::new(small(&dev, &meta).open().unwrap());
    let before = log.commit_sequence();
    let threads = 4;
    let per_thread = 30;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for seq in 0..per_thread {
                    let bytes = payload(t, seq, 0, 64);
                    let address = log.enqueue(&bytes).unwrap();
                    let committed = log.commit().unwrap();
                    assert!(
                        committed > address,
                        "commit returned before covering the entry"
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let rounds = log.commit_sequence() - before;
    let calls = u64::from(threads) * per_thread;
    assert!(
        rounds < calls * 3 / 4,
        "{rounds} commit rounds for {calls} commit calls: not grouped"
    );
    assert_eq!(drain(&mut log.iter()).len() as u64, calls);
}

#[test]
fn the_every_bytes_policy_commits_in_the_background() {
    let (dev, meta) = mem_devices();
    let log = small(&dev, &meta)
        .commit_policy(CommitPolicy::EveryBytes(8192))
        .open()
        .unwrap();
    let mut last = Address::FIRST_VALID;
    while log.tail_address().raw() < 20_000 {
        last = log.enqueue(&[3; 500]).unwrap();
    }
    // The tail crossed 16384 after `last`'s predecessors: a commit covering them comes.
    let until = Address::new(16384).unwrap();
    assert!(last > until);
    let committed = log
        .wait_for_commit_timeout(until, Duration::from_secs(10))
        .unwrap();
    assert!(
        committed.is_some(),
        "no background commit: committed {:?}, sequence {}, tail {:?}",
        log.committed_until(),
        log.commit_sequence(),
        log.tail_address()
    );
}

#[test]
fn the_every_interval_policy_commits_in_the_background() {
    let (dev, meta) = mem_devices();
    let log = small(&dev, &meta)
        .commit_policy(CommitPolicy::EveryInterval(Duration::from_millis(5)))
        .open()
        .unwrap();
    let address = log.enqueue(b"tick").unwrap();
    let until = Address::new(address.raw() + 1).unwrap();
    let committed = log
        .wait_for_commit_timeout(until, Duration::from_secs(10))
        .unwrap();
    assert!(committed.is_some(), "no background commit");
    let sequence = log.commit_sequence();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        log.commit_sequence(),
        sequence,
        "idle ticks must not commit"
    );
}

#[test]
fn bad_settings_are_errors_that_name_the_setting() {
    let (dev, meta) = mem_devices();
    for (builder, setting) in [
        (small(&dev, &meta).page_size_bits(11), "page_size_bits"),
        (small(&dev, &meta).page_size_bits(31), "page_size_bits"),
        (
            small(&dev, &meta).commit_policy(CommitPolicy::EveryBytes(0)),
            "commit_policy",
        ),
        (
            small(&dev, &meta).commit_policy(CommitPolicy::EveryInterval(Duration::ZERO)),
            "commit_policy",
        ),
        (small(&dev, &meta).commit_slot_size(100), "commit_slot_size"),
        (
            small(&dev, &meta).metadata_interval_bytes(0),
            "metadata_interval_bytes",
        ),
        (small(&dev, &meta).max_threads(0), "max_threads"),
    ] {
        let shown = format!("{builder:?}");
        match builder.open() {
            Err(LogOpenError::InvalidSetting { setting: s, .. }) if s == setting => {}
            other => panic!("{shown}: expected InvalidSetting({setting}), got {other:?}"),
        }
    }
    match small(&dev, &meta).memory_pages(3).open() {
        Err(LogOpenError::Log(_)) => {}
        other => panic!("memory_pages(3): expected a hybrid log error, got {other:?}"),
    }
}

#[test]
fn a_thread_beyond_max_threads_gets_an_epoch_error() {
    let (dev, meta) = mem_devices();
    let log = Arc::new(
        small(&dev, &meta)
            .max_threads(1)
            .commit_policy(CommitPolicy::EveryBytes(100))
            .open()
            .unwrap(),
    );
    log.enqueue(b"first thread").unwrap();
    let other = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || log.enqueue(b"second thread"))
    };
    assert!(matches!(other.join().unwrap(), Err(EnqueueError::Epoch(_))));
    // The background committer has a slot of its own.
    let address = log.enqueue(&[1; 200]).unwrap();
    let until = Address::new(address.raw() + 1).unwrap();
    assert!(
        log.wait_for_commit_timeout(until, Duration::from_secs(10))
            .unwrap()
            .is_some()
    );
}

#[test]
fn reopening_with_another_page_size_is_an_error() {
    let (dev, meta) = mem_devices();
    drop(small(&dev, &meta).open().unwrap());
    match small(&dev, &meta).page_size_bits(13).open() {
        Err(LogOpenError::PageSizeMismatch {
            stored: 12,
            configured: 13,
        }) => {}
        other => panic!("expected PageSizeMismatch, got {other:?}"),
    }
}

#[test]
fn named_iterators_resume_where_the_last_commit_recorded_them() {
    let (dev, meta) = mem_devices();
    let entries = {
        let log = small(&dev, &meta).open().unwrap();
        let entries = enqueue_all(&log, 20, 300);
        log.commit().unwrap();
        let mut consumer = log.named_iterator("consumer").unwrap();
        assert!(matches!(
            log.named_iterator("consumer"),
            Err(NamedIteratorError::InUse(_))
        ));
        let mut fifth_next = Address::INVALID;
        for i in 0..10 {
            let entry = consumer.next().unwrap().unwrap();
            if i == 4 {
                fifth_next = entry.next_address;
            }
        }
        consumer.complete_until(fifth_next);
        log.commit().unwrap();
        // Progress marked but never committed: lost on reopen.
        while consumer.next().unwrap().is_some() {}
        let end = consumer.next_address();
        consumer.complete_until(end);
        assert_eq!(log.named_iterators(), vec![("consumer".into(), end)]);
        entries
    };
    let log = small(&dev, &meta).open().unwrap();
    let mut consumer = log.named_iterator("consumer").unwrap();
    let resumed = drain(&mut consumer);
    let expected: Vec<_> = entries[5..].iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(resumed, expected);
    drop(consumer);
    assert_eq!(
        log.remove_named_iterator("consumer").unwrap(),
        Some(entries[5].0)
    );
    log.commit().unwrap();
    drop(log);
    let log = small(&dev, &meta).open().unwrap();
    assert!(log.named_iterators().is_empty());
}

#[test]
fn truncation_removes_whole_segments_after_the_next_commit() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        FasterLog::builder_in_dir(dir.path())
            .page_size_bits(12)
            .memory_pages(4)
            .segment_size(16 << 10)
            .preallocate(false)
            .huge_pages(false)
            .open()
            .unwrap()
    };
    let segment_files = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("log."))
            .collect();
        names.sort();
        names
    };
    let log = open();
    let entries = enqueue_all(&log, 400, 300);
    log.commit().unwrap();
    let files = segment_files();
    assert!(files.len() >= 4, "{files:?}");
    // An address in the fourth segment.
    let (cut, _) = *entries
        .iter()
        .find(|(a, _)| a.raw() >= 3 * 16384 + 100)
        .unwrap();
    log.truncate_until(cut).unwrap();
    assert_eq!(log.begin_address(), cut);
    assert_eq!(log.iter().next().unwrap().unwrap().address, cut);
    assert_eq!(segment_files(), files, "segments go only after a commit");
    log.commit().unwrap();
    let kept = segment_files();
    assert_eq!(kept.first().map(String::as_str), Some("log.00000003"));
    drop(log);
    let log = open();
    assert_eq!(log.begin_address(), cut);
    let rest: Vec<_> = entries
        .iter()
        .filter(|(a, _)| *a >= cut)
        .map(|(_, b)| b.clone())
        .collect();
    assert_eq!(drain(&mut log.iter()), rest);
}

#[test]
fn truncation_refuses_uncommitted_and_mid_entry_addresses() {
    let (dev, meta) = mem_devices();
    let log = small(&dev, &meta).open().unwrap();
    let a = log.enqueue(&[1; 100]).unwrap();
    let b = log.enqueue(&[2; 100]).unwrap();
    assert!(matches!(
        log.truncate_until(b),
        Err(TruncateError::BeyondCommitted { .. })
    ));
    log.commit().unwrap();
    assert!(matches!(
        log.truncate_until(Address::new(a.raw() + 40).unwrap()),
        Err(TruncateError::NotAnEntry { .. })
    ));
    log.truncate_until(b).unwrap();
    assert_eq!(drain(&mut log.iter()), vec![vec![2; 100]]);
    assert!(matches!(log.read_entry(a), Err(IterError::NoEntry { .. })));
}

#[test]
fn fast_commits_are_found_by_the_forward_scan_and_slow_ones_in_the_slots() {
    for fast in [true, false] {
        let (dev, meta) = mem_devices();
        let log = small(&dev, &meta).fast_commit(fast).open().unwrap();
        let mut expected = Vec::new();
        for seq in 0..5 {
            let bytes = payload(2, seq, 0, 40);
            log.enqueue(&bytes).unwrap();
            expected.push(bytes);
            log.commit().unwrap();
        }
        drop(log);
        let log = small(&dev, &meta).open().unwrap();
        let replayed = log.recovery_info().fast_commits_replayed;
        if fast {
            assert_eq!(replayed, 5);
        } else {
            assert_eq!(replayed, 0);
        }
        assert_eq!(drain(&mut log.iter()), expected, "fast: {fast}");
    }
}

#[test]
fn blocking_waits_end_when_the_log_is_dropped() {
    let (dev, meta) = mem_devices();
    let log = small(&dev, &meta).open().unwrap();
    let mut iter = log.iter();
    let waiter = std::thread::spawn(move || iter.next_blocking().unwrap().is_none());
    std::thread::sleep(Duration::from_millis(20));
    drop(log);
    assert!(waiter.join().unwrap());
}

#[test]
fn a_tailing_iterator_wakes_for_each_commit() {
    let (dev, meta) = mem_devices();
    let log = Arc::new(small(&dev, &meta).open().unwrap());
    let mut iter = log.iter();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        while seen.len() < 50 {
            let entry = iter.next_blocking().unwrap().unwrap();
            seen.push(identify(entry.payload).1);
        }
        seen
    });
    for seq in 0..50 {
        log.enqueue(&payload(0, seq, 0, 32)).unwrap();
        if seq % 7 == 0 {
            log.commit().unwrap();
        }
    }
    log.commit().unwrap();
    assert_eq!(reader.join().unwrap(), (0..50).collect::<Vec<_>>());
}

#[test]
fn the_log_and_its_iterators_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<FasterLog>();
    send::<LogIterator>();
    send_sync::<faster_log::Error>();
    // The futures too, so they can run on a multi-threaded executor.
    fn send_future<F: std::future::Future + Send>(_: &F) {}
    let (dev, meta) = mem_devices();
    let log = small(&dev, &meta).open().unwrap();
    send_future(&log.commit_async());
    send_future(&log.wait_for_commit_async(Address::FIRST_VALID));
    let mut iter = log.iter();
    send_future(&iter.next_async());
}

#[test]
fn a_file_system_without_o_direct_falls_back_to_buffered_io() {
    let shm = std::path::Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("no /dev/shm (tmpfs) here: nothing to check");
        return;
    }
    let dir = tempfile::tempdir_in(shm).unwrap();
    let open = || {
        FasterLog::builder_in_dir(dir.path())
            .page_size_bits(12)
            .memory_pages(4)
            .open()
            .unwrap()
    };
    let log = open();
    let address = log.enqueue(b"on tmpfs").unwrap();
    log.commit().unwrap();
    drop(log);
    assert_eq!(open().read_entry(address).unwrap(), b"on tmpfs");
}

/// A random read fetches the entry alone: a small one in one read, one larger than the first
/// read in two, and a damaged one is an error, never other bytes.
#[test]
fn random_reads_of_entries_of_every_size_check_their_bytes() {
    let (dev, meta) = mem_devices();
    let log = small(&dev, &meta).page_size_bits(16).open().unwrap();
    let sizes = [0usize, 1, 100, 4080, 4081, 10_000, 65_000];
    let written: Vec<(Address, Vec<u8>)> = sizes
        .iter()
        .map(|&n| {
            let bytes: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            (log.enqueue(&bytes).unwrap(), bytes)
        })
        .collect();
    log.commit().unwrap();
    for (address, bytes) in &written {
        assert_eq!(
            &log.read_entry(*address).unwrap(),
            bytes,
            "entry at {address}"
        );
        // First reads smaller and larger than the entry, unaligned ones included.
        for hint in [0, 64, 100, 200, 4096, 70_000] {
            assert_eq!(
                &log.read_entry_with_hint(*address, hint).unwrap(),
                bytes,
                "entry at {address}, first read {hint}"
            );
        }
    }
    // Inside an entry is not an entry.
    let inside = Address::new(written[2].0.raw() + 16).unwrap();
    assert!(log.read_entry(inside).is_err());
    // Damage the payload of the 10,000-byte entry on the device.
    let (address, _) = &written[5];
    let at = (address.raw() + 5_000) / 4096 * 4096;
    let mut sector = faster_device::AlignedBuf::options()
        .alignment(4096)
        .zeroed(4096)
        .unwrap();
    faster_log::DeviceExt::read_blocking(&*dev, at, &mut sector).unwrap();
    sector[100] ^= 0xff;
    faster_log::DeviceExt::write_blocking(&*dev, at, &sector).unwrap();
    assert!(matches!(
        log.read_entry(*address),
        Err(IterError::Corrupt(_))
    ));
}
