//! Sessions: a thread's context for operations, and [`Pinned`], a session that stays
//! protected across operations.
//!
//! A plain [`Session`] protects itself for each operation and unprotects afterwards, so an
//! idle session never holds back page eviction or a checkpoint. [`Session::pin`] keeps the
//! protection across a batch of operations (refreshing every [`REFRESH_INTERVAL`] operations),
//! which saves two fences per operation; the protection ends when the [`Pinned`] drops.
//!
//! The operations themselves are in [`crate::ops`], one file each; a session's side of a
//! checkpoint is in `cpr.rs`.

mod cpr;
pub(crate) mod pinned;
pub(crate) mod state;

use std::sync::Arc;

use faster_cpr::{Serial, SessionId};
use faster_epoch::Handle;

use self::pinned::Pinned;
use self::state::SessionState;
use crate::checkpoint::sessions::SessionShared;
use crate::codec::Codec;
use crate::store::Store;

/// A thread's context for operations on a [`FasterKv`](crate::FasterKv).
///
/// `Send` but not `Sync`: use it from one thread at a time. Every operation has a serial
/// number (see [`Session::serial`]), counted from 1.
pub struct Session<K: Codec + ?Sized, V: Codec + ?Sized> {
    pub(crate) store: Arc<Store<K, V>>,
    pub(crate) handle: Handle,
    pub(crate) state: SessionState<V>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> std::fmt::Debug for Session<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.state.id)
            .field("serial", &self.state.serial)
            .field("pending", &self.state.pending.len())
            .finish_non_exhaustive()
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Drop for Session<K, V> {
    fn drop(&mut self) {
        self.store.stats.retire(&self.state.stats);
        self.state.shared.finished(self.state.completed);
        self.store
            .cpr
            .sessions
            .ended(Arc::clone(&self.state.shared));
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Session<K, V> {
    /// A session over `shared`, which the session table registered with the version it
    /// starts in and the serial it starts from.
    pub(crate) fn new(store: Arc<Store<K, V>>, handle: Handle, shared: Arc<SessionShared>) -> Self {
        let stats = store.stats.register();
        Self {
            store,
            handle,
            state: SessionState::new(shared, stats),
        }
    }

    /// This session's identifier within its store.
    pub fn id(&self) -> SessionId {
        self.state.id
    }

    /// The serial number of the last operation started (0 before the first).
    pub fn serial(&self) -> Serial {
        self.state.serial
    }

    /// The log is over its size budget: wait for compaction (`compact/gate.rs`). Cold: out of
    /// the code of every operation.
    #[cold]
    #[inline(never)]
    fn throttle(&self) {
        self.state.stats.bump(crate::stats::Counter::Throttled);
        self.store.gate.wait_throttle(pinned::THROTTLE_WAIT);
    }

    /// Keeps this session protected until the returned [`Pinned`] drops, for a batch of
    /// operations: each then costs no protect/unprotect fences.
    ///
    /// While pinned, the session holds back page eviction and checkpoints until it refreshes
    /// (every [`REFRESH_INTERVAL`](crate::REFRESH_INTERVAL) operations), so do not keep a `Pinned` alive while idle.
    pub fn pin(&mut self) -> Pinned<'_, K, V> {
        if self.store.gate.throttled() && !self.state.internal {
            self.throttle();
        }
        self.pin_unthrottled()
    }

    /// [`Session::pin`] without waiting for the log-size throttle: for work that adds nothing
    /// to the log (async reads, digesting completions) on a thread that must not block.
    pub(crate) fn pin_unthrottled(&mut self) -> Pinned<'_, K, V> {
        Pinned {
            store: &self.store,
            handle: &self.handle,
            guard: Some(self.handle.protect()),
            state: &mut self.state,
            since_refresh: 0,
            unsent_reads: false,
        }
    }
}
