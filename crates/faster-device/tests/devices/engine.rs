//! Engine selection, fallback, and the life cycle of the I/O threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use faster_device::{AlignedBuf, CompletionQueue, Device, DeviceExt, Engine, FileDevice};

use crate::common::SEGMENT;

#[test]
fn open_auto_uses_io_uring_when_the_feature_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let (device, engine) = FileDevice::builder(dir.path())
        .segment_size(SEGMENT)
        .open_auto()
        .unwrap();
    let expected = if cfg!(feature = "io-uring") {
        Engine::IoUring
    } else {
        Engine::ThreadPool
    };
    assert_eq!(engine, expected);
    device.write_blocking(0, &[1; 4096]).unwrap();
}

#[cfg(feature = "io-uring")]
#[test]
fn open_auto_falls_back_to_the_thread_pool_when_ring_setup_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // More entries than the kernel allows (32768), and no clamping: setup fails for real.
    let builder = FileDevice::builder(dir.path())
        .segment_size(SEGMENT)
        .queue_depth(1 << 16);
    let refused = builder.open_uring().unwrap_err();
    assert!(
        matches!(
            refused,
            faster_device::DeviceError::Io {
                op: faster_device::IoOp::Setup,
                ..
            }
        ),
        "{refused}"
    );
    let (device, engine) = builder.open_auto().unwrap();
    assert_eq!(engine, Engine::ThreadPool);
    device.write_blocking(0, &[2; 4096]).unwrap();
    let mut back = [0; 4096];
    device.read_blocking(0, &mut back).unwrap();
    assert_eq!(back, [2; 4096]);
}

#[cfg(feature = "io-uring")]
#[test]
fn uring_requests_beyond_the_ring_size_wait_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let device = FileDevice::builder(dir.path())
        .segment_size(SEGMENT)
        .queue_depth(4)
        .open_uring()
        .unwrap();
    let queue = CompletionQueue::new();
    for i in 0..200u64 {
        let done = queue.completion(i);
        device
            .write_buf(
                i * 4096,
                AlignedBuf::copy_from(&[i as u8; 4096]),
                move |r, _| done(r),
            )
            .unwrap();
    }
    for _ in 0..200 {
        queue
            .pop_blocking(Duration::from_secs(30))
            .unwrap()
            .1
            .unwrap();
    }
    let mut back = [0; 4096];
    device.read_blocking(199 * 4096, &mut back).unwrap();
    assert_eq!(back, [199; 4096]);
}

fn open_engines(dir: &std::path::Path) -> Vec<Arc<dyn Device>> {
    let builder = FileDevice::builder(dir).segment_size(SEGMENT);
    #[allow(unused_mut)]
    let mut devices: Vec<Arc<dyn Device>> = vec![Arc::new(builder.open().unwrap())];
    #[cfg(feature = "io-uring")]
    devices.push(Arc::new(builder.prefix("ring").open_uring().unwrap()));
    devices
}

#[test]
fn dropping_a_device_finishes_the_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    for device in open_engines(dir.path()) {
        let finished = Arc::new(AtomicUsize::new(0));
        for i in 0..64u64 {
            let finished = Arc::clone(&finished);
            device
                .write_buf(i * 4096, AlignedBuf::zeroed(4096), move |r, _| {
                    r.unwrap();
                    finished.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
        drop(device);
        assert_eq!(finished.load(Ordering::SeqCst), 64);
    }
}

#[test]
fn dropping_the_last_handle_inside_a_completion_does_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    for device in open_engines(dir.path()) {
        let queue = CompletionQueue::new();
        let done = queue.completion(());
        let keep = Arc::clone(&device);
        device
            .write_buf(0, AlignedBuf::zeroed(4096), move |r, _| {
                drop(keep);
                done(r);
            })
            .unwrap();
        drop(device);
        let (_, result) = queue
            .pop_blocking(Duration::from_secs(30))
            .expect("the completion that dropped the last handle never finished");
        assert!(result.is_ok(), "the write failed: {result:?}");
    }
}
