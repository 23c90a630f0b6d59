//! FaultDevice: simulated crashes, torn writes, injected failures and delays.

use std::sync::Arc;
use std::time::{Duration, Instant};

use faster_device::{
    CompletionQueue, CrashMode, Device, DeviceError, DeviceExt, FaultDevice, FileDevice,
};

use crate::common::{SEGMENT, mem, pattern};

const BLOCK: usize = 4096;

fn is_eio(e: &DeviceError) -> bool {
    matches!(e, DeviceError::Io { .. }) && e.raw_os_error() == Some(libc::EIO)
}

fn read(device: &dyn Device, offset: u64) -> Vec<u8> {
    let mut buf = vec![0; BLOCK];
    device.read_blocking(offset, &mut buf).unwrap();
    buf
}

#[test]
fn flushed_writes_survive_a_crash_and_unflushed_ones_vanish() {
    let fault = FaultDevice::new(mem());
    fault.write_blocking(0, &pattern(0, BLOCK, 1)).unwrap();
    fault
        .write_blocking(SEGMENT, &pattern(SEGMENT, BLOCK, 1))
        .unwrap();
    fault.flush().unwrap();
    // Overwrite a flushed block and write a new one, without flushing.
    fault.write_blocking(0, &pattern(0, BLOCK, 2)).unwrap();
    fault
        .write_blocking(8192, &pattern(8192, BLOCK, 2))
        .unwrap();
    assert_eq!(fault.unflushed_writes(), 2);
    assert_eq!(
        read(&fault, 0),
        pattern(0, BLOCK, 2),
        "reads see unflushed writes"
    );
    let report = fault.crash(CrashMode::DropUnflushed).unwrap();
    assert_eq!(report.unflushed, 2);
    assert!(report.survivors.is_empty());
    assert_eq!(
        read(&fault, 0),
        pattern(0, BLOCK, 1),
        "the flushed version is back"
    );
    assert_eq!(read(&fault, SEGMENT), pattern(SEGMENT, BLOCK, 1));
    assert_eq!(
        read(&fault, 8192),
        vec![0; BLOCK],
        "the unflushed write vanished"
    );
    assert_eq!(fault.unflushed_writes(), 0);
}

#[test]
fn writes_completed_before_flush_async_survive_a_crash() {
    let fault = FaultDevice::new(mem());
    fault.write_blocking(0, &pattern(0, BLOCK, 1)).unwrap();
    let queue = CompletionQueue::new();
    fault.flush_async(queue.completion(())).unwrap();
    queue
        .pop_blocking(Duration::from_secs(10))
        .unwrap()
        .1
        .unwrap();
    fault.crash(CrashMode::DropUnflushed).unwrap();
    assert_eq!(read(&fault, 0), pattern(0, BLOCK, 1));
}

/// Runs the same unflushed history and a random crash with `seed`; returns what survived
/// and the device contents after.
fn random_crash(seed: u64) -> (faster_device::CrashReport, Vec<Vec<u8>>) {
    let fault = FaultDevice::new(mem());
    for i in 0..64u64 {
        // Writes of 1–4 blocks, some overlapping earlier ones.
        let offset = (i % 40) * BLOCK as u64;
        let len = BLOCK * (1 + (i as usize % 4));
        fault
            .write_blocking(offset, &pattern(offset, len, i))
            .unwrap();
    }
    let report = fault.crash(CrashMode::Random { seed }).unwrap();
    let contents = (0..44).map(|b| read(&fault, b * BLOCK as u64)).collect();
    (report, contents)
}

#[test]
fn random_crash_keeps_a_subset_reproducible_from_its_seed() {
    let (a, contents_a) = random_crash(42);
    let (b, contents_b) = random_crash(42);
    let (c, _) = random_crash(43);
    assert_eq!(a, b, "same seed, same survivors");
    assert_eq!(contents_a, contents_b, "same seed, same bytes");
    assert_ne!(a.survivors, c.survivors, "another seed, another subset");
    assert_eq!(a.unflushed, 64);
    assert!(
        !a.survivors.is_empty() && a.survivors.len() < 64,
        "a proper subset"
    );
    assert!(
        a.survivors.iter().any(|s| s.kept_len < s.len),
        "some survivor is torn"
    );
    assert!(
        a.survivors.iter().all(|s| s.kept_len % 512 == 0),
        "torn at sector boundaries"
    );
    // Replaying the survivors on a fresh device gives exactly the crashed contents.
    let replay = mem();
    for s in &a.survivors {
        let data = pattern(s.offset, s.len, s.index as u64);
        if s.kept_len > 0 {
            replay
                .write_blocking(s.offset, &data[..s.kept_len])
                .unwrap();
        }
    }
    let replayed: Vec<_> = (0..44).map(|b| read(&*replay, b * BLOCK as u64)).collect();
    assert_eq!(replayed, contents_a);
}

#[test]
fn a_torn_write_leaves_only_whole_sectors_of_its_prefix() {
    let fault = FaultDevice::new(mem());
    fault.tear_nth_write(2, 1500);
    fault.write_blocking(0, &pattern(0, BLOCK, 1)).unwrap();
    let err = fault
        .write_blocking(BLOCK as u64, &pattern(BLOCK as u64, BLOCK, 1))
        .unwrap_err();
    assert!(is_eio(&err), "{err}");
    let back = read(&fault, BLOCK as u64);
    // 1500 bytes round down to two 512-byte sectors.
    assert_eq!(back[..1024], pattern(BLOCK as u64, BLOCK, 1)[..1024]);
    assert!(back[1024..].iter().all(|&b| b == 0));
    fault.flush().unwrap();
    fault.crash(CrashMode::DropUnflushed).unwrap();
    assert_eq!(
        read(&fault, BLOCK as u64)[..1024],
        back[..1024],
        "the torn prefix was flushed"
    );
    // Only the n-th write tears.
    fault
        .write_blocking(BLOCK as u64, &pattern(0, BLOCK, 3))
        .unwrap();
}

#[test]
fn nth_read_write_and_flush_failures_surface_as_eio_errors() {
    let fault = FaultDevice::new(mem());
    fault.write_blocking(0, &[9; BLOCK]).unwrap();
    fault.fail_nth_read(2);
    let mut buf = vec![0; BLOCK];
    fault.read_blocking(0, &mut buf).unwrap();
    let mut untouched = vec![1; BLOCK];
    assert!(is_eio(&fault.read_blocking(0, &mut untouched).unwrap_err()));
    assert_eq!(
        untouched,
        vec![1; BLOCK],
        "a failed read leaves the buffer alone"
    );
    fault.read_blocking(0, &mut buf).unwrap();

    fault.fail_nth_write(1);
    assert!(is_eio(&fault.write_blocking(0, &[5; BLOCK]).unwrap_err()));
    assert_eq!(
        read(&fault, 0),
        vec![9; BLOCK],
        "a failed write lands nothing"
    );

    fault.fail_nth_flush(1);
    assert!(is_eio(&fault.flush().unwrap_err()));
    assert_eq!(
        fault.unflushed_writes(),
        1,
        "a failed flush leaves the writes unflushed"
    );
    fault.fail_nth_flush(1);
    let queue = CompletionQueue::new();
    fault.flush_async(queue.completion(())).unwrap();
    let (_, r) = queue.pop_blocking(Duration::from_secs(10)).unwrap();
    assert!(is_eio(&r.unwrap_err()));
    fault.flush().unwrap();
    assert_eq!(fault.unflushed_writes(), 0);

    fault.fail_nth_write(3);
    fault.disarm();
    for _ in 0..5 {
        fault.write_blocking(0, &[1; BLOCK]).unwrap();
    }
}

#[test]
fn delayed_completions_arrive_from_the_timer_not_the_submitter() {
    const DELAY: Duration = Duration::from_millis(100);
    let fault = Arc::new(FaultDevice::new(mem()));
    fault.set_delay(DELAY).unwrap();
    let queue = CompletionQueue::new();
    let submitter = std::thread::current().id();
    let start = Instant::now();
    for i in 0..8u64 {
        let done = queue.completion(i);
        fault
            .write_buf(
                i * 4096,
                faster_device::AlignedBuf::copy_from(&[1; 4096]),
                move |r, _| {
                    assert_ne!(std::thread::current().id(), submitter);
                    done(r);
                },
            )
            .unwrap();
    }
    // Sleeping in the submitter would take 8 delays.
    assert!(start.elapsed() < 4 * DELAY, "submission slept");
    let early = queue.try_pop();
    if start.elapsed() < DELAY {
        assert!(early.is_none(), "a completion arrived before the delay");
    }
    let remaining = 8 - usize::from(early.is_some());
    for _ in 0..remaining {
        queue
            .pop_blocking(Duration::from_secs(10))
            .unwrap()
            .1
            .unwrap();
    }
    assert!(start.elapsed() >= DELAY);
    let mut buf = vec![0; 4096];
    fault.read_blocking(0, &mut buf).unwrap();
    assert_eq!(buf, vec![1; 4096]);
    fault.set_delay(Duration::ZERO).unwrap();
}

#[test]
fn crash_over_a_file_device_keeps_only_flushed_data_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let open = || -> Arc<dyn Device> {
        Arc::new(
            FileDevice::builder(dir.path())
                .segment_size(SEGMENT)
                .open()
                .unwrap(),
        )
    };
    {
        let fault = FaultDevice::new(open());
        fault.write_blocking(0, &pattern(0, BLOCK, 1)).unwrap();
        fault.flush().unwrap();
        fault
            .write_blocking(SEGMENT, &pattern(SEGMENT, BLOCK, 1))
            .unwrap();
        fault.crash(CrashMode::DropUnflushed).unwrap();
    }
    let device = open();
    assert_eq!(read(&*device, 0), pattern(0, BLOCK, 1));
    assert_eq!(read(&*device, SEGMENT), vec![0; BLOCK]);
}
