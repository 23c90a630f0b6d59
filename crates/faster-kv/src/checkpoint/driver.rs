//! Driving a checkpoint through its phases (faster-cpr rules C3–C5).
//!
//! Anyone may call [`Store::cpr_advance`]: a session after acknowledging a phase, the
//! checkpoint's worker thread after finishing a job or on a short timer (so that sessions going
//! idle, which acknowledges nothing, still let the checkpoint move), an I/O completion. It moves
//! the state on while the current phase is acknowledged by every protected session and its
//! work is done, and runs each new phase's entry work — at once when it is cheap (recording an
//! address), or as a [`Job`] for the worker thread when it blocks (writing files, waiting for a
//! flush). No session ever blocks on a checkpoint.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use faster_cpr::{Action, CheckpointToken, LogCheckpointKind, Phase, SystemState};
use faster_hlog::Address;

use super::cpr::NO_START;
use super::error::CheckpointError;
use super::run::{Job, Run};
use crate::codec::Codec;
use crate::store::Store;
use crate::sync::lock;

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// Whether a log checkpoint may reuse the last index snapshot: there is one, and the table
    /// has not grown since it was taken. Recovery replays the log from that snapshot's start
    /// into a table of the snapshot's size; records written after a growth were chained in
    /// the larger table, where the keys of one old bucket are split between two chains, so
    /// replaying them into the smaller table would keep only one chain's newest record per tag
    /// and lose the other chain's keys. Called with the run lock held: an index growth starts
    /// only while no run is registered (`grow_index` takes the same lock), so none can start
    /// before this checkpoint ends. A growth already under way counts as a growth.
    fn index_snapshot_reusable(&self) -> bool {
        let Some(snapshot_buckets) = lock(&self.cpr.last).as_ref().map(|m| m.index_meta.buckets)
        else {
            return false;
        };
        // The phase first: a growth back at rest has installed its table before.
        if matches!(
            self.cpr.machine.state().phase,
            Phase::GrowPrepare | Phase::GrowInProgress
        ) {
            return false;
        }
        let Ok(handle) = self.epoch.register() else {
            return false;
        };
        let guard = handle.protect();
        self.index.buckets(&guard) == snapshot_buckets
    }

    /// Joins every checkpoint worker thread (each ends once its run has finished).
    pub(crate) fn cpr_join_workers(&self) {
        let workers = std::mem::take(&mut *lock(&self.cpr.workers));
        for worker in workers {
            let _ = worker.join();
        }
    }

    /// Moves the state machine on as far as it can go now (rule C4).
    pub(crate) fn cpr_advance(self: &Arc<Self>) {
        loop {
            let state = self.cpr.machine.state();
            if state.is_rest() {
                return;
            }
            let Some(run) = self.cpr.current_run() else {
                return;
            };
            if !run.is_done(state) || !self.cpr.machine.all_acknowledged(state) {
                return;
            }
            if state.next().phase == Phase::Prepare {
                self.publish_start();
            }
            if let Some(next) = self.cpr.machine.try_advance(state) {
                self.cpr_enter(&run, next);
            }
        }
    }

    /// Entry work of the phase `state` just began.
    fn cpr_enter(self: &Arc<Self>, run: &Arc<Run>, state: SystemState) {
        let failed = run.failure().is_some();
        let tail = self.log.tail_address();
        tracing::debug!(
            parent: &run.span,
            phase = ?state.phase,
            version = state.version,
            failed,
            "checkpoint phase"
        );
        match state.phase {
            Phase::IndexCheckpoint => {
                if failed {
                    run.done(state);
                } else {
                    run.post(Job::Index);
                }
            }
            Phase::Prepare => {
                run.addresses().start =
                    Address::from_masked(self.cpr.start.load(Ordering::Acquire));
                run.done(state);
            }
            Phase::WaitFlush => {
                run.addresses().final_address = tail;
                if failed {
                    run.done(state);
                } else {
                    run.post(Job::Flush);
                }
            }
            Phase::PersistenceCallback => {
                if failed {
                    run.done(state);
                } else {
                    run.post(Job::Persist);
                }
            }
            Phase::Rest => self.cpr_finish(run),
            Phase::PrepIndexCheckpoint
            | Phase::InProgress
            | Phase::WaitPending
            | Phase::GrowPrepare
            | Phase::GrowInProgress => run.done(state),
        }
        self.cpr.machine.notify();
    }

    /// Publishes the start of the version change — the tail now — before the state becomes
    /// PREPARE, so that every session that sees PREPARE also sees it (rule R8). Records of
    /// the new version appear only after IN_PROGRESS, later, so they all lie at or above it.
    /// The first caller wins; a racing one keeps its value.
    fn publish_start(&self) {
        let tail = self.log.tail_address();
        let _ = self.cpr.start.compare_exchange(
            NO_START.raw(),
            tail.raw(),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// The run reached rest: publish its outcome.
    fn cpr_finish(&self, run: &Arc<Run>) {
        self.cpr.start.store(NO_START.raw(), Ordering::Release);
        self.cpr.captured.store(0, Ordering::Release);
        *lock(&self.cpr.run) = None;
        match run.failure() {
            Some(error) => {
                // Best effort: a half-written checkpoint has no completion marker, so recovery
                // ignores it either way.
                if let Some(dir) = &self.cpr.dir {
                    let _ = dir.remove(run.token);
                }
                self.cpr.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(parent: &run.span, %error, "checkpoint failed");
                run.finish(Err(error));
            }
            None => {
                let meta = lock(&self.cpr.last).clone();
                let info = super::run::CheckpointInfo {
                    token: run.token,
                    version: run.version,
                    final_address: meta
                        .as_ref()
                        .and_then(|m| m.log.as_ref())
                        .map(|l| Address::from_masked(l.final_address)),
                    start_address: meta
                        .as_ref()
                        .and_then(|m| m.log.as_ref())
                        .map(|l| Address::from_masked(l.start)),
                    sessions: meta.map(|m| m.sessions).unwrap_or_default(),
                    duration: run.started.elapsed(),
                };
                self.cpr.completed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    parent: &run.span,
                    final_address = ?info.final_address,
                    duration_ms = info.duration.as_millis() as u64,
                    "checkpoint completed"
                );
                run.finish(Ok(info));
            }
        }
    }

    /// Installs a run of `action` and starts its worker thread, which starts the state
    /// machine (see [`Store::cpr_begin`]). Returns at once.
    pub(crate) fn cpr_start(self: &Arc<Self>, action: Action) -> Result<Arc<Run>, CheckpointError> {
        let dir = self
            .cpr
            .dir
            .as_ref()
            .ok_or(CheckpointError::NoCheckpointDir)?;
        let (run, token) = {
            let mut current = lock(&self.cpr.run);
            if current.is_some() {
                tracing::debug!("checkpoint refused: another one is running");
                return Err(CheckpointError::Busy);
            }
            // A log checkpoint takes an index snapshot too when it cannot reuse the last one.
            let action = match action {
                Action::Checkpoint {
                    index: false,
                    log: Some(log),
                } if !self.index_snapshot_reusable() => Action::Checkpoint {
                    index: true,
                    log: Some(log),
                },
                other => other,
            };
            // Taken under the lock, so a refused start uses up no token.
            let token = CheckpointToken::new(self.cpr.next_token.fetch_add(1, Ordering::Relaxed));
            let version = self.cpr.machine.state().version;
            let run = Arc::new(Run::new(token, action, version, dir.token_dir(token)));
            *current = Some(Arc::clone(&run));
            (run, token)
        };
        let store = Arc::clone(self);
        let worker_run = Arc::clone(&run);
        let spawned = std::thread::Builder::new()
            .name(format!("faster-checkpoint-{token}"))
            .spawn(move || {
                let _entered = worker_run.span.clone().entered();
                if store.cpr_begin(&worker_run) {
                    store.cpr_worker(&worker_run);
                }
            });
        match spawned {
            Ok(thread) => {
                let mut workers = lock(&self.cpr.workers);
                workers.retain(|w| !w.is_finished());
                workers.push(thread);
            }
            Err(e) => {
                *lock(&self.cpr.run) = None;
                tracing::warn!(parent: &run.span, error = %e, "checkpoint thread could not start");
                return Err(CheckpointError::Io(Arc::new(e)));
            }
        }
        Ok(run)
    }

    /// Leaves rest for the run's first phase. First every protected session must have acted on
    /// the rest state: an operation that began in the previous run's last phase still writes
    /// with that run's view (records marked in-new-version), and must finish before a new
    /// version change starts (rule R8). Returns whether the run started.
    fn cpr_begin(self: &Arc<Self>, run: &Arc<Run>) -> bool {
        loop {
            let state = self.cpr.machine.state();
            if matches!(state.phase, Phase::GrowPrepare | Phase::GrowInProgress) {
                // An index growth (the maintenance thread's, perhaps): the checkpoint starts
                // when it ends.
                self.cpr
                    .machine
                    .wait_change(state.pack(), Duration::from_millis(1));
                continue;
            }
            if !state.is_rest() {
                break;
            }
            if self.cpr.machine.all_acknowledged(state) {
                let Some(first) = state.start(run.action) else {
                    break;
                };
                // Addresses recorded before the state changes, so that an operation that
                // sees the new state allocates at or above them: the index snapshot's start
                // (PREP_INDEX_CHKPT) and the version change's start (PREPARE).
                let tail = self.log.tail_address();
                run.addresses().index_start = tail;
                if first.phase == Phase::Prepare {
                    self.publish_start();
                }
                let Some(dir) = &self.cpr.dir else { break };
                if let Err(e) = dir.create(run.token) {
                    run.fail(e.into());
                }
                run.addresses().begin = self.log.begin_address();
                match self.cpr.machine.try_start(run.action) {
                    Ok(first) => {
                        self.cpr_enter(run, first);
                        return true;
                    }
                    Err(_) => continue,
                }
            }
            let word = self.cpr.machine.word();
            self.cpr.machine.wait_change(word, Duration::from_millis(1));
        }
        // Another action holds the state machine (an index growth).
        *lock(&self.cpr.run) = None;
        if let Some(dir) = &self.cpr.dir {
            let _ = dir.remove(run.token);
        }
        self.cpr.failed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(parent: &run.span, "checkpoint could not start: the index is growing");
        run.finish(Err(Arc::new(CheckpointError::Busy)));
        false
    }

    /// The worker: runs the blocking jobs and keeps the state moving until the run finishes.
    fn cpr_worker(self: &Arc<Self>, run: &Arc<Run>) {
        while !run.is_finished() {
            self.cpr_advance();
            if let Some(job) = run.next_job() {
                let state = self.cpr.machine.state();
                if let Err(e) = self.cpr_job(run, job) {
                    run.fail(e);
                }
                run.done(state);
                continue;
            }
            let word = self.cpr.machine.word();
            // Woken by acknowledgements and state changes; the timeout covers sessions that
            // go idle (which acknowledges nothing but may complete a phase, rule C3).
            self.cpr.machine.wait_change(word, Duration::from_millis(1));
        }
    }

    fn cpr_job(self: &Arc<Self>, run: &Arc<Run>, job: Job) -> Result<(), CheckpointError> {
        let _span = tracing::debug_span!("faster_kv::checkpoint_job", job = ?job).entered();
        match job {
            Job::Index => {
                let meta = self.write_index_snapshot(&run.dir, run.addresses().index_start)?;
                run.addresses().index = Some(meta);
                if let Action::Checkpoint { log: None, .. } = run.action {
                    self.persist(run)?;
                }
                Ok(())
            }
            Job::Flush => {
                let kind = match run.action {
                    Action::Checkpoint {
                        log: Some(kind), ..
                    } => kind,
                    _ => LogCheckpointKind::FoldOver,
                };
                self.freeze_log(run, kind)
            }
            Job::Persist => self.persist(run),
        }
    }
}
