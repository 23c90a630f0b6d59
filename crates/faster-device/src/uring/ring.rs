//! The shared ring of an [`UringDevice`](crate::UringDevice): many submitters, one reaper.
//!
//! # Protocol
//!
//! An `io_uring` has a submission queue (SQ) with one producer, us, and one consumer, the
//! kernel; and a completion queue (CQ) with one producer, the kernel, and one consumer, us.
//! The `io-uring` crate's `submission_shared` / `completion_shared` hand out views of them from
//! `&IoUring` and require that no other view of the same queue exists. We keep that with:
//!
//! - **U1 — SQ single producer.** Every `submission_shared` view is created, used and dropped
//!   while holding the `sq` mutex. That includes pushing, draining the backlog and reading the
//!   queue length. Dropping the view publishes the new tail with a release store, so the kernel
//!   sees complete SQEs.
//! - **U2 — CQ single consumer.** Only the reaper thread creates `completion_shared` views, one
//!   at a time; dropping the view publishes the new head.
//! - **U3 — op ownership.** An SQE's `user_data` is a `Box<Op>` leaked with `Box::into_raw`
//!   when the op enters the SQ or the backlog, and taken back with `Box::from_raw` exactly
//!   once, by the reaper, from that SQE's CQE. The op keeps its file descriptor open (an
//!   `Arc`), and the caller's contract (`Device::write_raw` / `read_raw`, rule D9) keeps the
//!   buffer valid until the op's completion runs, which is after its last CQE. `user_data`
//!   [`SHUTDOWN`] (0, never a box address) marks the no-op that stops the reaper.
//! - **U4 — `io_uring_enter` from any thread.** Submitters call `submit` (enter without
//!   waiting) under the `sq` mutex; the reaper calls enter with "wait for one completion"
//!   *without* the mutex, which also submits SQEs already published. The kernel serialises
//!   enters on its own ring lock and reads only SQEs below the published tail, so this is safe;
//!   it also means an SQE a submitter failed to submit (a transient `EAGAIN`) goes out with the
//!   reaper's next enter, which a timeout bounds. A batched read (rule D12) is pushed and
//!   published without an enter; `unsent` counts such SQEs, every enter under the mutex resets
//!   it, and the [`BATCH_LIMIT`]-th batched read or [`Ring::submit_batch`] enters for all of
//!   them. One the caller never sends goes out with the reaper's next enter, as above.
//! - **U5 — no CQ overflow.** `in_flight` counts ops in the SQ or in the kernel. Once it
//!   reaches the CQ's size, new ops wait in `backlog` (under the same mutex); the reaper moves
//!   them into the SQ as completions free room. So the SQ being full never fails a request (we
//!   submit and retry) and no submitter ever blocks on the reaper — completions may submit
//!   freely. Backlog non-empty implies `in_flight` equals the CQ size, so completions are
//!   pending and the reaper will drain it.
//! - **U6 — op progress.** An op's `ptr..ptr + remaining` is always the part of its piece not
//!   yet transferred: it starts as the whole piece, inside the caller's buffer (rules D4, D9),
//!   and each CQE advances it by what moved, at most `remaining`.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

use io_uring::{IoUring, opcode, squeue, types};

use super::op::{Op, Step};
use crate::error::{DeviceError, IoOp};
use crate::sync::lock;

/// `user_data` of the no-op that stops the reaper (rule U3).
pub(crate) const SHUTDOWN: u64 = 0;

/// How long the reaper waits before it re-enters the kernel anyway (rule U4).
const REAPER_TIMEOUT: Duration = Duration::from_millis(100);

/// Batched reads left unsent at most: the next one enters the kernel for all (rule U4).
pub(crate) const BATCH_LIMIT: usize = 32;

pub(crate) struct Ring {
    ring: IoUring,
    sq: Mutex<SqState>,
    cq_capacity: usize,
    reaper: OnceLock<ThreadId>,
    /// `io_uring_enter` calls made to submit (by submitters, not the reaper's waits).
    submit_calls: AtomicU64,
}

struct SqState {
    backlog: VecDeque<squeue::Entry>,
    in_flight: usize,
    /// Batched SQEs published but not yet entered (rule U4).
    unsent: usize,
}

impl Ring {
    /// Sets up a ring of `entries` SQ entries and starts the reaper thread.
    pub(crate) fn start(entries: u32) -> Result<(Arc<Self>, JoinHandle<()>), DeviceError> {
        let setup = |e: io::Error| DeviceError::Io {
            op: IoOp::Setup,
            offset: 0,
            source: Arc::new(e),
        };
        // No clamping: asking for more entries than the kernel allows fails (the fallback
        // test relies on it). SUBMIT_ALL (Linux 5.18) keeps submitting past an SQE that fails
        // early; older kernels refuse the flag, so retry without it.
        let ring: IoUring = match IoUring::builder().setup_submit_all().build(entries) {
            Ok(ring) => ring,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                IoUring::builder().build(entries).map_err(setup)?
            }
            Err(e) => return Err(setup(e)),
        };
        let cq_capacity = ring.params().cq_entries() as usize;
        let ring = Arc::new(Self {
            ring,
            sq: Mutex::new(SqState {
                backlog: VecDeque::new(),
                in_flight: 0,
                unsent: 0,
            }),
            cq_capacity,
            reaper: OnceLock::new(),
            submit_calls: AtomicU64::new(0),
        });
        let reaper = Arc::clone(&ring);
        let handle = thread::Builder::new()
            .name("faster-uring-reaper".to_owned())
            .spawn(move || reaper.reap_loop())
            .map_err(setup)?;
        let _ = ring.reaper.set(handle.thread().id());
        Ok((ring, handle))
    }

    /// Whether the calling thread is the reaper (completions run there).
    pub(crate) fn on_reaper_thread(&self) -> bool {
        self.reaper.get() == Some(&thread::current().id())
    }

    /// Hands an op to the kernel (or to the backlog, rule U5). Never fails, never blocks on
    /// the reaper. A `batched` op may stay published but unsent until [`Ring::submit_batch`]
    /// (rule U4).
    pub(crate) fn submit(&self, op: Box<Op>, batched: bool) {
        let entry = op.entry().user_data(Box::into_raw(op) as u64);
        self.submit_entry(entry, batched);
    }

    /// Queues the no-op that stops the reaper once nothing is in flight.
    pub(crate) fn shut_down(&self) {
        self.submit_entry(opcode::Nop::new().build().user_data(SHUTDOWN), false);
    }

    fn submit_entry(&self, entry: squeue::Entry, batched: bool) {
        let mut sq = lock(&self.sq);
        if sq.in_flight >= self.cq_capacity || !sq.backlog.is_empty() {
            sq.backlog.push_back(entry);
            return;
        }
        self.push_locked(&mut sq, entry);
        if batched && sq.unsent + 1 < BATCH_LIMIT {
            sq.unsent += 1;
            return;
        }
        self.submit_calls.fetch_add(1, Ordering::Relaxed);
        self.enter_locked(&mut sq);
    }

    /// Sends the batched SQEs still unsent (rule U4).
    pub(crate) fn submit_batch(&self) {
        let mut sq = lock(&self.sq);
        if sq.unsent > 0 {
            self.submit_calls.fetch_add(1, Ordering::Relaxed);
            self.enter_locked(&mut sq);
        }
    }

    /// `io_uring_enter` calls made to submit requests, by submitters (the reaper's are not
    /// counted).
    pub(crate) fn submit_calls(&self) -> u64 {
        self.submit_calls.load(Ordering::Relaxed)
    }

    /// Pushes one SQE, submitting to make room when the SQ is full. Caller holds `sq`.
    fn push_locked(&self, sq: &mut SqState, entry: squeue::Entry) {
        loop {
            // SAFETY: rule U1 — the caller holds the `sq` mutex, so this is the only SQ view.
            let mut queue = unsafe { self.ring.submission_shared() };
            // SAFETY: rules U3, D9 — the entry's file stays open and its buffer valid until its
            // CQE is reaped and the op's completion runs.
            if unsafe { queue.push(&entry) }.is_ok() {
                sq.in_flight += 1;
                return;
            }
            drop(queue);
            self.enter_locked(sq);
        }
    }

    /// `io_uring_enter` without waiting, retried on transient errors; it sends every published
    /// SQE, batched ones included. Caller holds `sq`.
    fn enter_locked(&self, sq: &mut SqState) {
        sq.unsent = 0;
        for _ in 0..64 {
            match self.ring.submitter().submit() {
                Ok(_) => return,
                Err(e) if is_transient(&e) => thread::yield_now(),
                Err(e) => {
                    tracing::error!("io_uring submit failed: {e}");
                    return;
                }
            }
        }
        // Still refused: the reaper's next enter (at most REAPER_TIMEOUT away) submits them.
    }

    fn wait_for_completions(&self, ext_arg: bool) {
        let waited = if ext_arg {
            let ts = types::Timespec::from(REAPER_TIMEOUT);
            let args = types::SubmitArgs::new().timespec(&ts);
            self.ring.submitter().submit_with_args(1, &args)
        } else {
            self.ring.submitter().submit_and_wait(1)
        };
        match waited {
            Ok(_) => {}
            Err(e) if is_transient(&e) || e.raw_os_error() == Some(libc::ETIME) => {}
            Err(e) => {
                tracing::error!("io_uring wait failed: {e}");
                thread::sleep(Duration::from_millis(1));
            }
        }
    }

    fn reap_loop(&self) {
        let ext_arg = self.ring.params().is_feature_ext_arg();
        let mut cqes: Vec<(u64, i32)> = Vec::with_capacity(self.cq_capacity);
        let mut stopping = false;
        loop {
            self.wait_for_completions(ext_arg);
            {
                // SAFETY: rule U2 — only this thread creates CQ views, one at a time.
                let queue = unsafe { self.ring.completion_shared() };
                cqes.extend(queue.map(|cqe| (cqe.user_data(), cqe.result())));
            }
            let reaped = cqes.len();
            let mut again = Vec::new();
            let mut finished = Vec::new();
            for (user_data, result) in cqes.drain(..) {
                if user_data == SHUTDOWN {
                    stopping = true;
                    continue;
                }
                // SAFETY: rule U3 — `user_data` came from `Box::into_raw` of an op and this
                // is its one CQE since it was (re)submitted.
                let op = unsafe { Box::from_raw(user_data as *mut Op) };
                match op.advance(result) {
                    Step::Again(op) => again.push(op),
                    Step::Done(finish, outcome) => finished.push((finish, outcome)),
                }
            }
            {
                let mut sq = lock(&self.sq);
                sq.in_flight -= reaped;
                // Continuations replace their own slot, so they bypass the cap.
                for op in again {
                    let entry = op.entry().user_data(Box::into_raw(op) as u64);
                    self.push_locked(&mut sq, entry);
                }
                while sq.in_flight < self.cq_capacity {
                    let Some(entry) = sq.backlog.pop_front() else {
                        break;
                    };
                    self.push_locked(&mut sq, entry);
                }
                self.enter_locked(&mut sq);
            }
            for (finish, outcome) in finished {
                finish(outcome);
            }
            // Completions may have submitted more; stop only when nothing is left (rule U5:
            // an empty `in_flight` implies an empty backlog).
            if stopping && lock(&self.sq).in_flight == 0 {
                return;
            }
        }
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINTR) | Some(libc::EAGAIN) | Some(libc::EBUSY)
    )
}
