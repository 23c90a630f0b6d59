//! One checkpoint in progress ([`Run`]) and the caller's handle on it ([`CheckpointHandle`]).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use faster_cpr::{Action, CheckpointToken, IndexMeta, SessionCommit, SystemState};
use faster_hlog::Address;

use super::error::CheckpointError;
use crate::sync::{ignore_poison, lock};

/// Addresses a checkpoint records as its phases begin.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunAddresses {
    pub(crate) begin: Address,
    pub(crate) index_start: Address,
    pub(crate) start: Address,
    pub(crate) final_address: Address,
    pub(crate) snapshot_start: Address,
    pub(crate) base_chain: Vec<CheckpointToken>,
    pub(crate) index: Option<IndexMeta>,
}

/// Blocking work a phase hands to the checkpoint's worker thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Job {
    /// Write the index snapshot (and, for an index-only checkpoint, the metadata).
    Index,
    /// Make the log's version-`v` image durable (flush, or write the snapshot).
    Flush,
    /// Write the metadata and the completion marker; apply retention.
    Persist,
}

/// What a finished checkpoint reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointInfo {
    /// The checkpoint's token: pass it to recovery to recover exactly this checkpoint.
    pub token: CheckpointToken,
    /// The version it captured.
    pub version: u32,
    /// Where the recovered log ends (`None` for an index-only checkpoint).
    pub final_address: Option<Address>,
    /// The tail when the version change began (`None` for an index-only checkpoint): every
    /// record below it belongs to the checkpoint's version or an older one, so recovering
    /// this checkpoint recovers it (unless a later write or compaction replaced it).
    pub start_address: Option<Address>,
    /// Every session's commit point.
    pub sessions: Vec<SessionCommit>,
    /// From start to the durable completion marker.
    pub duration: Duration,
}

/// A checkpoint in progress.
pub(crate) struct Run {
    pub(crate) token: CheckpointToken,
    pub(crate) action: Action,
    /// The version being captured (`v`).
    pub(crate) version: u32,
    pub(crate) dir: PathBuf,
    pub(crate) started: Instant,
    /// The `faster_kv::checkpoint` span: the worker thread runs in it, and the phases are
    /// events in it whichever thread enters them.
    pub(crate) span: tracing::Span,
    pub(crate) addresses: Mutex<RunAddresses>,
    /// The packed state whose phase work is finished (rule C4).
    done_for: AtomicU64,
    jobs: Mutex<VecDeque<Job>>,
    failure: Mutex<Option<Arc<CheckpointError>>>,
    outcome: Mutex<Option<Result<CheckpointInfo, Arc<CheckpointError>>>>,
    finished: Condvar,
    wakers: Mutex<Vec<Waker>>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("token", &self.token)
            .field("action", &self.action)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Run {
    pub(crate) fn new(token: CheckpointToken, action: Action, version: u32, dir: PathBuf) -> Self {
        Self {
            token,
            action,
            version,
            dir,
            started: Instant::now(),
            span: tracing::info_span!(
                "faster_kv::checkpoint",
                token = %token,
                version,
                action = ?action
            ),
            addresses: Mutex::new(RunAddresses::default()),
            done_for: AtomicU64::new(u64::MAX),
            jobs: Mutex::new(VecDeque::new()),
            failure: Mutex::new(None),
            outcome: Mutex::new(None),
            finished: Condvar::new(),
            wakers: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn addresses(&self) -> std::sync::MutexGuard<'_, RunAddresses> {
        lock(&self.addresses)
    }

    /// Marks the work of `state`'s phase done.
    pub(crate) fn done(&self, state: SystemState) {
        self.done_for.store(state.pack(), Ordering::Release);
    }

    pub(crate) fn is_done(&self, state: SystemState) -> bool {
        self.done_for.load(Ordering::Acquire) == state.pack()
    }

    pub(crate) fn post(&self, job: Job) {
        lock(&self.jobs).push_back(job);
    }

    pub(crate) fn next_job(&self) -> Option<Job> {
        lock(&self.jobs).pop_front()
    }

    /// Records the first failure; the remaining phases then skip their work.
    pub(crate) fn fail(&self, error: CheckpointError) {
        lock(&self.failure).get_or_insert_with(|| Arc::new(error));
    }

    pub(crate) fn failure(&self) -> Option<Arc<CheckpointError>> {
        lock(&self.failure).clone()
    }

    /// Publishes the outcome and wakes every waiter.
    pub(crate) fn finish(&self, outcome: Result<CheckpointInfo, Arc<CheckpointError>>) {
        *lock(&self.outcome) = Some(outcome);
        self.finished.notify_all();
        for waker in lock(&self.wakers).drain(..) {
            waker.wake();
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        lock(&self.outcome).is_some()
    }
}

/// A checkpoint started by [`FasterKv::checkpoint`](crate::FasterKv::checkpoint): its token,
/// and ways to wait for it to become durable.
#[derive(Debug, Clone)]
pub struct CheckpointHandle {
    pub(crate) run: Arc<Run>,
}

impl CheckpointHandle {
    /// The checkpoint's token.
    pub fn token(&self) -> CheckpointToken {
        self.run.token
    }

    /// Blocks until the checkpoint is durable (its completion marker is on disk) or failed.
    ///
    /// The calling thread must not be inside a pinned session: the checkpoint waits for every
    /// protected session to acknowledge its phases.
    ///
    /// # Errors
    /// The error that made the checkpoint fail; the previous checkpoint stays the latest.
    pub fn wait(&self) -> Result<CheckpointInfo, Arc<CheckpointError>> {
        let mut outcome = lock(&self.run.outcome);
        loop {
            if let Some(result) = outcome.as_ref() {
                return result.clone();
            }
            outcome = ignore_poison(self.run.finished.wait(outcome));
        }
    }

    /// [`CheckpointHandle::wait`] for at most `timeout`; `None` if it is still running.
    pub fn wait_timeout(
        &self,
        timeout: Duration,
    ) -> Option<Result<CheckpointInfo, Arc<CheckpointError>>> {
        let deadline = Instant::now() + timeout;
        let mut outcome = lock(&self.run.outcome);
        loop {
            if let Some(result) = outcome.as_ref() {
                return Some(result.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            outcome = ignore_poison(self.run.finished.wait_timeout(outcome, deadline - now)).0;
        }
    }

    /// A future that resolves when the checkpoint is durable or failed, woken by the
    /// checkpoint's completion (no polling). Works with any executor.
    pub fn durable(&self) -> Durable {
        Durable {
            run: Arc::clone(&self.run),
        }
    }

    /// Whether the checkpoint has finished.
    pub fn is_finished(&self) -> bool {
        self.run.is_finished()
    }
}

/// The future of [`CheckpointHandle::durable`].
#[derive(Debug)]
pub struct Durable {
    run: Arc<Run>,
}

impl std::future::Future for Durable {
    type Output = Result<CheckpointInfo, Arc<CheckpointError>>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        // The waker is registered under the outcome lock, so a completion either sees it or
        // happened before and is seen here.
        let outcome = lock(&self.run.outcome);
        if let Some(result) = outcome.as_ref() {
            return Poll::Ready(result.clone());
        }
        lock(&self.run.wakers).push(cx.waker().clone());
        Poll::Pending
    }
}
