//! [`SessionState`]: what a session keeps apart from its epoch handle.

use std::sync::Arc;

use faster_cpr::{Serial, SessionId};

use crate::checkpoint::rules::OpCtx;
use crate::checkpoint::sessions::SessionShared;
use crate::codec::Codec;
use crate::pending::queue::PendingOps;
use crate::stats::SessionStats;

/// A session's state apart from its epoch handle.
pub(crate) struct SessionState<V: Codec + ?Sized> {
    pub(crate) id: SessionId,
    /// Serial number of the last operation started.
    pub(crate) serial: Serial,
    /// Serial number of the last operation that finished or went pending (rule R9).
    pub(crate) completed: Serial,
    /// What checkpoints see of this session.
    pub(crate) shared: Arc<SessionShared>,
    /// The state word this session last acted on and acknowledged.
    pub(crate) cpr_word: u64,
    /// The version this session's operations belong to.
    pub(crate) version: u32,
    /// What the checkpoint in progress asks of this session's operations.
    pub(crate) ctx: OpCtx,
    pub(crate) stats: Arc<SessionStats>,
    /// Value bytes of the current operation.
    pub(crate) value: Vec<u8>,
    /// Operations waiting for the device (the advanced API).
    pub(crate) pending: PendingOps<V>,
    /// The store's own maintenance session (`compact/worker.rs`): never throttled.
    pub(crate) internal: bool,
}

impl<V: Codec + ?Sized> SessionState<V> {
    /// The state of a session that [`SessionShared`] registered with the version it starts in
    /// and the serial it starts from.
    pub(crate) fn new(shared: Arc<SessionShared>, stats: Arc<SessionStats>) -> Self {
        let (version, serial) = shared.start();
        Self {
            id: shared.id,
            serial,
            completed: serial,
            shared,
            cpr_word: u64::MAX,
            version,
            ctx: OpCtx::REST,
            stats,
            value: Vec::new(),
            pending: PendingOps::new(),
            internal: false,
        }
    }
}
