//! Completion delivery: callback, queue, and async.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use faster_device::{AlignedBuf, CompletionQueue, Device, DeviceExt, FaultDevice};

use crate::common::mem;

struct ThreadWaker {
    thread: Thread,
    wakes: AtomicUsize,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// A minimal executor: polls, parks until woken, polls again. Returns the output, how many
/// times the future was polled, and how many times it was woken.
fn block_on<F: Future>(future: F) -> (F::Output, usize, usize) {
    let state = Arc::new(ThreadWaker {
        thread: thread::current(),
        wakes: AtomicUsize::new(0),
    });
    let waker = Waker::from(Arc::clone(&state));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let mut polls = 0;
    loop {
        polls += 1;
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return (out, polls, state.wakes.load(Ordering::SeqCst));
        }
        thread::park_timeout(Duration::from_secs(10));
    }
}

#[test]
fn completion_queue_delivers_each_token_with_its_result() {
    let device = FaultDevice::new(mem());
    device.fail_nth_write(2);
    let queue = CompletionQueue::new();
    for token in 0..3u32 {
        let done = queue.completion(token);
        device
            .write_buf(
                u64::from(token) * 512,
                AlignedBuf::zeroed(512),
                move |r, _| done(r),
            )
            .unwrap();
    }
    let events: Vec<_> = std::iter::from_fn(|| queue.try_pop()).collect();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(events[0].1.is_ok() && events[1].1.is_err() && events[2].1.is_ok());
    assert!(queue.is_empty());
}

#[test]
fn pop_blocking_times_out_on_an_empty_queue() {
    let queue = CompletionQueue::<()>::new();
    let start = Instant::now();
    assert!(queue.pop_blocking(Duration::from_millis(30)).is_none());
    assert!(start.elapsed() >= Duration::from_millis(30));
}

#[test]
fn pop_async_is_woken_by_the_completion_itself() {
    let queue = CompletionQueue::new();
    let state = Arc::new(ThreadWaker {
        thread: thread::current(),
        wakes: AtomicUsize::new(0),
    });
    let waker = Waker::from(Arc::clone(&state));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(queue.pop_async());
    assert!(
        future.as_mut().poll(&mut cx).is_pending(),
        "nothing finished yet"
    );
    assert_eq!(state.wakes.load(Ordering::SeqCst), 0);

    // Only now is the read submitted; its completion runs on the other thread.
    let done = queue.completion(7u8);
    let reader = thread::spawn(move || {
        let device = mem();
        device.write_blocking(0, &[3; 512]).unwrap();
        device
            .read_buf(0, AlignedBuf::zeroed(512), move |r, buf| {
                assert_eq!(&buf[..], &[3; 512][..]);
                done(r);
            })
            .unwrap();
    });
    while state.wakes.load(Ordering::SeqCst) == 0 {
        thread::park_timeout(Duration::from_secs(10));
    }
    let Poll::Ready((token, result)) = future.as_mut().poll(&mut cx) else {
        panic!("woken but not ready");
    };
    assert_eq!(token, 7);
    result.unwrap();
    reader.join().unwrap();
}

#[test]
fn block_on_pop_async_returns_a_delayed_device_completion() {
    let device = Arc::new(FaultDevice::new(mem()));
    device.write_blocking(0, &[3; 512]).unwrap();
    device.set_delay(Duration::from_millis(30)).unwrap();
    let queue = CompletionQueue::new();
    let mut buf = AlignedBuf::zeroed(512);
    // SAFETY: rule D9 — `buf` lives until the completion has been popped below.
    unsafe { device.read_raw(0, buf.as_mut_ptr(), 512, queue.completion(7u8)) }.unwrap();
    let ((token, result), _, _) = block_on(queue.pop_async());
    assert_eq!(token, 7);
    result.unwrap();
    assert_eq!(&buf[..], &[3; 512][..]);
}

#[test]
fn every_pending_pop_async_future_is_woken() {
    let device: Arc<dyn Device> = {
        let fault = FaultDevice::new(mem());
        fault.set_delay(Duration::from_millis(20)).unwrap();
        Arc::new(fault)
    };
    let queue = CompletionQueue::new();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let queue = queue.clone();
            thread::spawn(move || block_on(queue.pop_async()).0.0)
        })
        .collect();
    thread::sleep(Duration::from_millis(10));
    for token in 0..2u32 {
        let done = queue.completion(token);
        device
            .write_buf(
                u64::from(token) * 512,
                AlignedBuf::zeroed(512),
                move |r, _| done(r),
            )
            .unwrap();
    }
    let mut got: Vec<u32> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, vec![0, 1]);
}
