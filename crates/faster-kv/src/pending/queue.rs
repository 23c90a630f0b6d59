//! A session's pending operations and the queue its device reads complete into.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::Waker;
use std::time::Duration;

use faster_cpr::Serial;
use faster_hlog::{Address, LogError, ReadBuffer};
use faster_index::KeyHash;

use crate::chain::{DiskLookup, DiskRecord};
use crate::codec::Codec;
use crate::ops::update::Rmw;
use crate::sync::{ignore_poison, lock};

/// What a pending operation does once its record is known.
pub(crate) enum Kind<V: Codec + ?Sized> {
    Read,
    Rmw(Box<dyn Rmw<V> + Send>),
}

/// An operation waiting for the device.
pub(crate) struct PendingOp<V: Codec + ?Sized> {
    pub(crate) kind: Kind<V>,
    pub(crate) hash: KeyHash,
    /// The index entry's address when the operation went pending.
    pub(crate) entry: Address,
    pub(crate) lookup: DiskLookup,
}

pub(crate) type IoResult = Result<ReadBuffer, LogError>;

/// Device reads completed for one session, waiting to be digested, and the wakers of the
/// futures waiting for them (`future.rs`).
#[derive(Default)]
pub(crate) struct IoQueue {
    done: Mutex<VecDeque<(Serial, IoResult)>>,
    ready: Condvar,
    /// Threads blocked in [`IoQueue::wait`]; changed and read only with `done` locked, so a
    /// push knows whether anyone needs the condition variable's (system call) signal.
    sleepers: AtomicUsize,
    wakers: Mutex<HashMap<Serial, Waker>>,
}

impl IoQueue {
    /// Queues a completed read and wakes the future waiting for operation `serial`, if any.
    pub(crate) fn push(&self, serial: Serial, result: IoResult) {
        let sleepers = {
            let mut done = lock(&self.done);
            done.push_back((serial, result));
            self.sleepers.load(Ordering::Relaxed)
        };
        if sleepers > 0 {
            self.ready.notify_one();
        }
        let waker = lock(&self.wakers).remove(&serial);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn take(&self) -> VecDeque<(Serial, IoResult)> {
        std::mem::take(&mut *lock(&self.done))
    }

    /// The oldest `max` completed reads at most; and whether more are queued.
    pub(crate) fn take_up_to(&self, max: usize) -> (VecDeque<(Serial, IoResult)>, bool) {
        let mut done = lock(&self.done);
        if done.len() <= max {
            return (std::mem::take(&mut *done), false);
        }
        let rest = done.split_off(max);
        (std::mem::replace(&mut *done, rest), true)
    }

    /// Wakes `waker` at the next read completed for operation `serial`. Registered before the
    /// queue is looked at, so that a completion in between is not missed.
    pub(crate) fn register(&self, serial: Serial, waker: &Waker) {
        let mut wakers = lock(&self.wakers);
        match wakers.get_mut(&serial) {
            Some(old) if old.will_wake(waker) => {}
            Some(old) => old.clone_from(waker),
            None => {
                wakers.insert(serial, waker.clone());
            }
        }
    }

    /// Forgets the waker of operation `serial`.
    pub(crate) fn unregister(&self, serial: Serial) {
        lock(&self.wakers).remove(&serial);
    }

    /// Blocks until a completion is queued or `timeout` passes.
    pub(crate) fn wait(&self, timeout: Duration) {
        let done = lock(&self.done);
        if done.is_empty() {
            // Woken by `push`; the timeout only bounds how long a device that needs `poll`
            // waits for its reaping.
            self.sleepers.fetch_add(1, Ordering::Relaxed);
            let (done, _) = ignore_poison(self.ready.wait_timeout(done, timeout));
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
            drop(done);
        }
    }
}

/// A session's pending operations and its completion queue.
pub(crate) struct PendingOps<V: Codec + ?Sized> {
    pub(crate) ops: HashMap<Serial, PendingOp<V>>,
    /// Operations whose lookup ended without I/O (the chain left the log).
    pub(crate) resolved: VecDeque<(Serial, Option<DiskRecord>, bool)>,
    pub(crate) queue: Arc<IoQueue>,
}

impl<V: Codec + ?Sized> PendingOps<V> {
    pub(crate) fn new() -> Self {
        Self {
            ops: HashMap::new(),
            resolved: VecDeque::new(),
            queue: Arc::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ops.len()
    }
}
