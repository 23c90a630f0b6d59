//! [`StateMachine`]: the shared state word, acknowledgements through epoch markers, and
//! advancing (rules C1–C4).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use faster_epoch::{Epoch, Handle};

use crate::state::{Action, SystemState};
use crate::sync::lock;

/// The global state of a store's checkpoints and index growth.
///
/// Sessions compare [`StateMachine::word`] with the state they last acknowledged on every
/// refresh (one load); only when it changed do they act on the new phase and acknowledge it
/// with [`StateMachine::acknowledge`]. Whoever sees every protected session acknowledge a
/// phase, and the phase's own work done, moves the state on with
/// [`StateMachine::try_advance`] — a session, an I/O completion or a waiting caller.
#[derive(Debug)]
pub struct StateMachine {
    word: AtomicU64,
    epoch: Arc<Epoch>,
    changed: Mutex<()>,
    wake: Condvar,
}

impl StateMachine {
    /// A machine at rest in `version`, whose sessions are registered with `epoch`.
    pub fn new(epoch: Arc<Epoch>, version: u32) -> Self {
        Self {
            word: AtomicU64::new(SystemState::rest(version).pack()),
            epoch,
            changed: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// The packed state, for the fast comparison on refresh.
    #[inline]
    pub fn word(&self) -> u64 {
        self.word.load(Ordering::Acquire)
    }

    /// The current state.
    pub fn state(&self) -> SystemState {
        // Every word stored is a packed state (rule C1).
        SystemState::unpack(self.word()).unwrap_or(SystemState::rest(0))
    }

    /// Starts `action` if the machine is at rest; returns the first state of the run, or the
    /// state that made it busy.
    ///
    /// # Errors
    /// The current state, when it is not at rest.
    pub fn try_start(&self, action: Action) -> Result<SystemState, SystemState> {
        let current = self.state();
        let first = current.start(action).ok_or(current)?;
        match self.word.compare_exchange(
            current.pack(),
            first.pack(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                self.notify();
                Ok(first)
            }
            Err(actual) => Err(SystemState::unpack(actual).unwrap_or(current)),
        }
    }

    /// Whether every protected session has acknowledged `state` (rule C3). Sessions that are
    /// not protected are not waited for: they act on the state when they next protect.
    pub fn all_acknowledged(&self, state: SystemState) -> bool {
        self.epoch.all_protected_marked(state.pack())
    }

    /// Records that the session owning `handle` acted on `state`.
    pub fn acknowledge(&self, handle: &Handle, state: SystemState) {
        handle.set_marker(state.pack());
        self.notify();
    }

    /// Moves from `from` to `from.next()` if the state is still `from`; returns the new state
    /// if this call moved it (exactly one caller does, rule C4).
    pub fn try_advance(&self, from: SystemState) -> Option<SystemState> {
        let next = from.next();
        self.word
            .compare_exchange(
                from.pack(),
                next.pack(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .ok()?;
        self.notify();
        Some(next)
    }

    /// Blocks until the state word differs from `word` or `timeout` passes.
    pub fn wait_change(&self, word: u64, timeout: Duration) {
        let guard = lock(&self.changed);
        if self.word() == word {
            let _ = self.wake.wait_timeout(guard, timeout);
        }
    }

    /// Wakes threads in [`StateMachine::wait_change`] (after a state change, an
    /// acknowledgement, or a phase's work finishing).
    pub fn notify(&self) {
        let _guard = lock(&self.changed);
        self.wake.notify_all();
    }

    /// The epoch whose markers carry the acknowledgements.
    pub fn epoch(&self) -> &Arc<Epoch> {
        &self.epoch
    }
}
