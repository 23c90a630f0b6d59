//! Many threads, each with many requests in flight at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use faster_device::{AlignedBuf, CompletionQueue, Device, DeviceExt};

use crate::common::{every_device, pattern};

const THREADS: usize = 4;
const IN_FLIGHT: usize = 64;
const BLOCK: usize = 4096;

fn block_offset(thread: usize, i: usize) -> u64 {
    ((thread * IN_FLIGHT + i) * BLOCK) as u64
}

/// One thread: submit `IN_FLIGHT` writes, wait for all, then `IN_FLIGHT` reads, checking
/// that every completion arrives exactly once and reads return the thread's own bytes.
fn hammer(device: Arc<dyn Device>, thread: usize, round: u64) {
    let seed = round * 1000 + thread as u64;
    let seen: Arc<Vec<AtomicUsize>> =
        Arc::new((0..IN_FLIGHT).map(|_| AtomicUsize::new(0)).collect());
    let queue = CompletionQueue::new();
    for i in 0..IN_FLIGHT {
        let offset = block_offset(thread, i);
        let buf = AlignedBuf::copy_from(&pattern(offset, BLOCK, seed));
        let (seen, done) = (Arc::clone(&seen), queue.completion(i));
        device
            .write_buf(offset, buf, move |result, _buf| {
                seen[i].fetch_add(1, Ordering::SeqCst);
                done(result);
            })
            .unwrap();
    }
    for _ in 0..IN_FLIGHT {
        let (i, result) = queue
            .pop_blocking(Duration::from_secs(30))
            .expect("a write completion never arrived");
        result.unwrap_or_else(|e| panic!("write {i} failed: {e}"));
    }
    assert!(seen.iter().all(|c| c.load(Ordering::SeqCst) == 1));
    let checked: Arc<Vec<AtomicUsize>> =
        Arc::new((0..IN_FLIGHT).map(|_| AtomicUsize::new(0)).collect());
    for i in 0..IN_FLIGHT {
        let offset = block_offset(thread, i);
        let (checked, done) = (Arc::clone(&checked), queue.completion(i));
        device
            .read_buf(offset, AlignedBuf::zeroed(BLOCK), move |result, buf| {
                if result.is_ok() && buf[..] == pattern(offset, BLOCK, seed)[..] {
                    checked[i].fetch_add(1, Ordering::SeqCst);
                }
                done(result);
            })
            .unwrap();
    }
    for _ in 0..IN_FLIGHT {
        let (i, result) = queue
            .pop_blocking(Duration::from_secs(30))
            .expect("a read completion never arrived");
        result.unwrap_or_else(|e| panic!("read {i} failed: {e}"));
    }
    assert!(queue.try_pop().is_none(), "a completion arrived twice");
    for (i, c) in checked.iter().enumerate() {
        assert_eq!(
            c.load(Ordering::SeqCst),
            1,
            "read {i} of thread {thread}: wrong bytes"
        );
    }
}

#[test]
fn many_threads_with_many_requests_in_flight_complete_exactly_once() {
    for subject in every_device() {
        for round in 0..3 {
            std::thread::scope(|s| {
                for thread in 0..THREADS {
                    let device = Arc::clone(&subject.device);
                    s.spawn(move || hammer(device, thread, round));
                }
            });
        }
        subject.device.flush().unwrap();
    }
}

#[test]
fn flushes_overlapping_writes_from_many_threads_all_succeed() {
    for subject in every_device() {
        std::thread::scope(|s| {
            for thread in 0..THREADS {
                let device = Arc::clone(&subject.device);
                s.spawn(move || {
                    for i in 0..16 {
                        let offset = block_offset(thread, i);
                        device
                            .write_blocking(offset, &pattern(offset, BLOCK, 5))
                            .unwrap();
                        if i % 4 == 0 {
                            device.flush().unwrap();
                        } else {
                            let queue = CompletionQueue::new();
                            device.flush_async(queue.completion(())).unwrap();
                            let (_, r) = queue.pop_blocking(Duration::from_secs(30)).unwrap();
                            r.unwrap();
                        }
                    }
                });
            }
        });
        let mut back = vec![0; BLOCK];
        for thread in 0..THREADS {
            for i in 0..16 {
                let offset = block_offset(thread, i);
                subject.device.read_blocking(offset, &mut back).unwrap();
                assert!(
                    back == pattern(offset, BLOCK, 5),
                    "{}: block {i} of thread {thread} reads back wrong",
                    subject.name
                );
            }
        }
    }
}
