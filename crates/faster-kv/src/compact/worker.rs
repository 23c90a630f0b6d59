//! [`Worker`]: the context in which the store's own maintenance (compaction, the live-record
//! scan) runs operations — a session that is not in the session table.
//!
//! It has its own epoch slot and session state, so operations run through the same driver as
//! users' (retries, the device, catching up with a checkpoint's phase and version), but it is
//! never listed in a checkpoint's commit points, has no serial numbers a user could continue,
//! and is never slowed by the log-size throttle (it is what relieves it).

use std::sync::Arc;

use faster_cpr::{Serial, SessionCommit, SessionId};
use faster_epoch::{EpochError, Handle};

use crate::checkpoint::sessions::SessionShared;
use crate::codec::Codec;
use crate::session::pinned::Pinned;
use crate::session::state::SessionState;
use crate::store::Store;

/// A maintenance thread's session: see the module documentation.
pub(crate) struct Worker<K: Codec + ?Sized, V: Codec + ?Sized> {
    store: Arc<Store<K, V>>,
    handle: Handle,
    state: SessionState<V>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Worker<K, V> {
    /// A worker starting in the store's current version.
    pub(crate) fn new(store: &Arc<Store<K, V>>) -> Result<Self, EpochError> {
        let handle = store.epoch.register()?;
        let version = store.cpr.machine.state().version;
        let start = SessionCommit {
            id: SessionId::new(u64::MAX),
            serial: Serial::default(),
            excluded: Vec::new(),
        };
        let shared = Arc::new(SessionShared::new(start, version));
        let mut state = SessionState::new(shared, store.stats.register());
        state.internal = true;
        Ok(Self {
            store: Arc::clone(store),
            handle,
            state,
        })
    }

    /// The worker, protected until the returned [`Pinned`] drops.
    pub(crate) fn pin(&mut self) -> Pinned<'_, K, V> {
        Pinned {
            store: &self.store,
            handle: &self.handle,
            guard: None,
            state: &mut self.state,
            since_refresh: 0,
            unsent_reads: false,
        }
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Drop for Worker<K, V> {
    fn drop(&mut self) {
        self.store.stats.retire(&self.state.stats);
    }
}
