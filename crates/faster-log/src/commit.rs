//! Group commit: who runs a commit round, who waits for it, and what every waiter is told
//! (rule L4). The steps of one round are in `round.rs`.
//!
//! A commit request takes a *ticket* (a counter under the commit mutex). Whoever finds no
//! round running becomes the leader: it notes the highest ticket issued so far, runs a round
//! without holding the mutex, then marks every ticket up to that one served. Requests made
//! while a round runs wait for the next round, which one of them leads; so one device flush
//! serves every request that arrived before the round took its snapshot, however many there
//! are. Waiters block on a condition variable or register a waker; the leader wakes both
//! when the round ends.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::Waker;
use std::time::Instant;

use faster_hlog::Address;

use crate::error::CommitError;
use crate::log::Inner;
use crate::sync::{ignore_poison, lock};

/// What the last completed round made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LastCommit {
    /// The sequence number of the last commit record written.
    pub(crate) sequence: u64,
    /// Every entry below this address is committed.
    pub(crate) committed_until: u64,
    /// The begin address the last commit recorded.
    pub(crate) begin: u64,
    /// Device segments below this address have been removed (`begin` once removal succeeded).
    pub(crate) removed_begin: u64,
    /// The `until` of the last commit record written to a metadata slot.
    pub(crate) metadata_until: u64,
    /// The named-iterator version the last commit recorded.
    pub(crate) iterators_version: u64,
}

/// The commit state, behind [`Commits::state`].
#[derive(Debug)]
pub(crate) struct CommitState {
    /// Tickets issued.
    requested: u64,
    /// Every ticket up to this one has been served by a completed round.
    served: u64,
    /// A leader is running a round.
    in_round: bool,
    pub(crate) durable: LastCommit,
    /// The failure that poisoned the log.
    error: Option<Arc<CommitError>>,
    closed: bool,
    wakers: Vec<(u64, Waker)>,
    next_waker: u64,
}

/// The commit state shared by committers, waiters and iterators.
#[derive(Debug)]
pub(crate) struct Commits {
    state: Mutex<CommitState>,
    changed: Condvar,
    /// Mirror of `durable.committed_until`, for lock-free reads.
    committed_until: AtomicU64,
    /// Mirror of `error.is_some()`.
    poisoned: AtomicBool,
    /// Mirror of `closed`.
    closed: AtomicBool,
}

/// What a waiter finds when it looks at the state.
pub(crate) enum Check<T> {
    /// Done waiting, with this answer.
    Done(T),
    /// Keep waiting.
    Wait,
}

impl Commits {
    pub(crate) fn new(durable: LastCommit) -> Self {
        Self {
            committed_until: AtomicU64::new(durable.committed_until),
            state: Mutex::new(CommitState {
                requested: 0,
                served: 0,
                in_round: false,
                durable,
                error: None,
                closed: false,
                wakers: Vec::new(),
                next_waker: 0,
            }),
            changed: Condvar::new(),
            poisoned: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    /// Whether no more commits can come (poisoned or closed).
    pub(crate) fn finished(&self) -> bool {
        lock(&self.state).finished()
    }

    /// Every entry below this address is committed.
    #[inline]
    pub(crate) fn committed_until(&self) -> u64 {
        self.committed_until.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The failure that poisoned the log.
    pub(crate) fn poison_cause(&self) -> Option<Arc<CommitError>> {
        lock(&self.state).error.clone()
    }

    pub(crate) fn durable(&self) -> LastCommit {
        lock(&self.state).durable
    }

    /// Takes a ticket for a round that starts after this call.
    pub(crate) fn request(&self) -> u64 {
        let mut state = lock(&self.state);
        state.requested += 1;
        state.requested
    }

    /// Marks the log closed and wakes every waiter.
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.closed.store(true, Ordering::Release);
        self.notify();
    }

    /// Wakes blocked and async waiters.
    fn notify(&self) {
        let wakers = std::mem::take(&mut lock(&self.state).wakers);
        self.changed.notify_all();
        for (_, waker) in wakers {
            waker.wake();
        }
    }

    /// Blocks until `check` says done or `deadline` passes (`None` on timeout).
    pub(crate) fn wait_blocking<T>(
        &self,
        deadline: Option<Instant>,
        mut check: impl FnMut(&CommitState) -> Check<T>,
    ) -> Option<T> {
        let mut state = lock(&self.state);
        loop {
            if let Check::Done(answer) = check(&state) {
                return Some(answer);
            }
            state = match deadline {
                None => ignore_poison(self.changed.wait(state)),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return None;
                    }
                    ignore_poison(self.changed.wait_timeout(state, deadline - now)).0
                }
            };
        }
    }

    /// One poll of an async waiter: the answer, or registers `waker` under `id` (replacing
    /// the waker it registered before) and returns `None`.
    pub(crate) fn poll_check<T>(
        &self,
        id: &mut Option<u64>,
        waker: &Waker,
        check: impl FnOnce(&CommitState) -> Check<T>,
    ) -> Option<T> {
        let mut state = lock(&self.state);
        if let Check::Done(answer) = check(&state) {
            if let Some(id) = id.take() {
                state.wakers.retain(|(w, _)| *w != id);
            }
            return Some(answer);
        }
        let key = *id.get_or_insert_with(|| {
            state.next_waker += 1;
            state.next_waker
        });
        match state.wakers.iter_mut().find(|(w, _)| *w == key) {
            Some((_, old)) => old.clone_from(waker),
            None => state.wakers.push((key, waker.clone())),
        }
        None
    }

    /// Forgets the waker of a dropped async waiter.
    pub(crate) fn forget_waker(&self, id: u64) {
        lock(&self.state).wakers.retain(|(w, _)| *w != id);
    }
}

impl CommitState {
    /// The answer for a committer holding `ticket`, if it has one.
    pub(crate) fn ticket_outcome(&self, ticket: u64) -> Option<Result<Address, CommitError>> {
        if self.served >= ticket {
            return Some(Ok(Address::from_masked(self.durable.committed_until)));
        }
        if let Some(error) = &self.error {
            return Some(Err(CommitError::Poisoned(Arc::clone(error))));
        }
        if self.closed {
            return Some(Err(CommitError::Closed));
        }
        None
    }

    /// The answer for a waiter of `committed_until >= until`, if it has one.
    pub(crate) fn until_outcome(&self, until: u64) -> Option<Result<Address, CommitError>> {
        if self.durable.committed_until >= until {
            return Some(Ok(Address::from_masked(self.durable.committed_until)));
        }
        if let Some(error) = &self.error {
            return Some(Err(CommitError::Poisoned(Arc::clone(error))));
        }
        if self.closed {
            return Some(Err(CommitError::Closed));
        }
        None
    }

    /// Whether no more commits can come (poisoned or closed).
    pub(crate) fn finished(&self) -> bool {
        self.error.is_some() || self.closed
    }
}

impl Inner {
    /// Serves `ticket`: waits for the round that covers it, leading rounds while nobody else
    /// does. Blocks; must not be called while protected (rule L3).
    pub(crate) fn drive(&self, ticket: u64) -> Result<Address, CommitError> {
        let commits = &self.commits;
        let mut state = lock(&commits.state);
        loop {
            if let Some(outcome) = state.ticket_outcome(ticket) {
                return outcome;
            }
            if state.in_round {
                state = ignore_poison(commits.changed.wait(state));
                continue;
            }
            state.in_round = true;
            let covers = state.requested;
            let start = state.durable;
            drop(state);
            let outcome = self.run_round(start);
            state = lock(&commits.state);
            state.in_round = false;
            let failure = match outcome {
                Ok(durable) => {
                    state.durable = durable;
                    state.served = covers;
                    commits
                        .committed_until
                        .store(durable.committed_until, Ordering::Release);
                    None
                }
                Err(error) => {
                    tracing::error!("FasterLog commit failed, the log is poisoned: {error}");
                    state.error = Some(Arc::new(error.clone()));
                    commits.poisoned.store(true, Ordering::Release);
                    Some(error)
                }
            };
            drop(state);
            commits.notify();
            if let Some(error) = failure {
                return Err(error);
            }
            state = lock(&commits.state);
        }
    }

    /// [`FasterLog::commit`](crate::FasterLog::commit).
    pub(crate) fn commit_blocking(&self) -> Result<Address, CommitError> {
        let ticket = self.commits.request();
        self.drive(ticket)
    }

    /// Blocks until `committed_until >= until`.
    pub(crate) fn wait_until_blocking(
        &self,
        until: u64,
        deadline: Option<Instant>,
    ) -> Option<Result<Address, CommitError>> {
        self.commits
            .wait_blocking(deadline, |state| match state.until_outcome(until) {
                Some(outcome) => Check::Done(outcome),
                None => Check::Wait,
            })
    }
}
