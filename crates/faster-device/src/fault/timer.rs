//! The timer thread of [`FaultDevice`](crate::FaultDevice): runs completions after a delay, so
//! an injected latency never sleeps in the submitting thread.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crate::device::Completion;
use crate::error::DeviceError;
use crate::sync::{ignore_poison, lock};

struct Due {
    at: Instant,
    seq: u64,
    done: Completion,
    result: Result<(), DeviceError>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    /// Reversed, so the max-heap pops the earliest deadline (ties: the earliest scheduled).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The completions waiting for their deadlines ([`State`]) and the condition variable the
/// timer thread sleeps on; shared by the timer, its thread and its handles.
struct Schedule {
    state: Mutex<State>,
    cond: Condvar,
}

struct State {
    heap: BinaryHeap<Due>,
    next_seq: u64,
    shutdown: bool,
}

/// A thread that calls completions at their deadlines. Dropping it runs every scheduled
/// completion (at its deadline), then joins the thread.
pub(crate) struct Timer {
    shared: Arc<Schedule>,
    handle: Option<JoinHandle<()>>,
}

/// A clonable way to schedule on a [`Timer`]; it outlives the timer safely: once the timer
/// is shut down, scheduled completions run inline instead.
#[derive(Clone)]
pub(crate) struct TimerHandle(Arc<Schedule>);

impl Timer {
    pub(crate) fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Schedule {
            state: Mutex::new(State {
                heap: BinaryHeap::new(),
                next_seq: 0,
                shutdown: false,
            }),
            cond: Condvar::new(),
        });
        let worker = Arc::clone(&shared);
        let handle = thread::Builder::new()
            .name("faster-fault-timer".to_owned())
            .spawn(move || worker.run())?;
        Ok(Self {
            shared,
            handle: Some(handle),
        })
    }

    pub(crate) fn handle(&self) -> TimerHandle {
        TimerHandle(Arc::clone(&self.shared))
    }
}

impl TimerHandle {
    /// Calls `done(result)` on the timer thread at `at` (inline if the timer has stopped).
    pub(crate) fn schedule(&self, at: Instant, done: Completion, result: Result<(), DeviceError>) {
        let mut state = lock(&self.0.state);
        if state.shutdown {
            drop(state);
            done(result);
            return;
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.heap.push(Due {
            at,
            seq,
            done,
            result,
        });
        drop(state);
        self.0.cond.notify_one();
    }
}

impl Schedule {
    fn run(&self) {
        let mut state = lock(&self.state);
        loop {
            let now = Instant::now();
            match state.heap.peek() {
                None if state.shutdown => return,
                None => {
                    state = ignore_poison(self.cond.wait(state));
                }
                Some(due) if due.at <= now => {
                    let due = state
                        .heap
                        .pop()
                        .expect("invariant: peek just returned an entry");
                    drop(state);
                    (due.done)(due.result);
                    state = lock(&self.state);
                }
                Some(due) => {
                    let wait = due.at - now;
                    state = ignore_poison(self.cond.wait_timeout(state, wait)).0;
                }
            }
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        lock(&self.shared.state).shutdown = true;
        self.shared.cond.notify_all();
        if let Some(handle) = self.handle.take()
            && handle.thread().id() != thread::current().id()
        {
            let _ = handle.join();
        }
    }
}
