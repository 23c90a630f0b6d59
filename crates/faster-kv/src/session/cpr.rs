//! A session's side of a checkpoint: catching up with the state machine's phase and version
//! (faster-cpr rule C3; rules R7–R9).

use faster_cpr::SystemState;

use super::pinned::Pinned;
use crate::codec::Codec;

impl<K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'_, K, V> {
    /// Acts on a new checkpoint state if there is one (one load at rest).
    #[inline(always)]
    pub(crate) fn cpr_sync(&mut self) {
        if self.store.cpr.machine.word() != self.state.cpr_word {
            self.cpr_catch_up();
        }
    }

    /// Acts on the current checkpoint state and acknowledges it (faster-cpr rule C3): moves to
    /// the new version if the state's version is newer, recording the commit point of the old
    /// one (rule R9), and sets what the phase asks of operations (rules R7, R8). Must run
    /// protected, with no record touched yet by the current attempt.
    #[cold]
    fn cpr_catch_up(&mut self) {
        let cpr = &self.store.cpr;
        let word = cpr.machine.word();
        let Some(state) = SystemState::unpack(word) else {
            return;
        };
        if state.version != self.state.version {
            self.state
                .shared
                .switch(self.state.version, state.version, self.state.completed);
            self.state.version = state.version;
        }
        self.state.ctx = cpr.op_ctx(state.phase);
        self.state.cpr_word = word;
        cpr.machine.acknowledge(self.handle, state);
        self.store.cpr_advance();
    }

    /// Between operations, for work that is not itself an operation (finishing pending ones):
    /// protected, and caught up with the checkpoint state.
    pub(crate) fn next_op_version(&mut self) {
        let _ = self.parts();
        self.cpr_sync();
    }

    /// A version-`v` attempt met a version-`v + 1` record: move to `v + 1` (the operation in
    /// progress then belongs to it) and retry (rule R8).
    pub(crate) fn cpr_shift(&mut self) {
        self.refresh();
        self.cpr_catch_up();
        std::thread::yield_now();
    }
}
