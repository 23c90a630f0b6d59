//! [`Pinned`]: a session kept protected across operations, and the bookkeeping every
//! operation does at its start and end.

use std::sync::Arc;

use faster_cpr::Serial;
use faster_epoch::{Guard, Handle};

use super::state::SessionState;
use crate::codec::Codec;
use crate::error::OpError;
use crate::stats::{Counter, RetryCause};
use crate::store::Store;

/// Operations between two refreshes of a pinned session's protection.
pub const REFRESH_INTERVAL: u32 = 64;

/// Retries in a row after which an operation yields its core at each further retry
/// ([`Pinned::retry`]).
pub(crate) const RETRIES_BEFORE_YIELD: u32 = 4;

/// The longest a session waits at one refresh for a compaction to bring the log back under
/// its size budget.
pub(crate) const THROTTLE_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// A session kept protected across operations; see [`Session::pin`](crate::Session::pin).
pub struct Pinned<'s, K: Codec + ?Sized, V: Codec + ?Sized> {
    pub(crate) store: &'s Arc<Store<K, V>>,
    pub(crate) handle: &'s Handle,
    /// `None` only while waiting for the device (protection is dropped meanwhile).
    pub(crate) guard: Option<Guard<'s>>,
    pub(crate) state: &'s mut SessionState<V>,
    pub(crate) since_refresh: u32,
    /// Pending reads were issued as a batch and may not be sent yet (faster-device's rule
    /// D12): sent by the next `complete_pending`, or when this drops.
    pub(crate) unsent_reads: bool,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Drop for Pinned<'_, K, V> {
    fn drop(&mut self) {
        self.send_reads();
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> std::fmt::Debug for Pinned<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinned")
            .field("session", &self.state.id)
            .finish_non_exhaustive()
    }
}

impl<'s, K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'s, K, V> {
    /// The store, the guard (re-protecting if a device wait dropped it) and the session state,
    /// borrowed apart.
    #[inline(always)]
    pub(crate) fn parts(&mut self) -> (&'s Store<K, V>, &Guard<'s>, &mut SessionState<V>) {
        if self.guard.is_none() {
            self.guard = Some(self.handle.protect());
            // Protected again (first use, or after a device wait): act on the state as it is
            // now, before touching any record (rule R9).
            self.cpr_sync();
        }
        let store: &'s Store<K, V> = self.store;
        let guard = self.guard.get_or_insert_with(|| self.handle.protect());
        (store, guard, self.state)
    }

    /// Refreshes the protection (lets epoch actions — flushes, evictions — run).
    #[inline]
    pub fn refresh(&mut self) {
        self.since_refresh = 0;
        if self.store.gate.throttled() && !self.state.internal {
            self.throttle();
            return;
        }
        match &mut self.guard {
            Some(guard) => {
                guard.refresh();
            }
            None => self.guard = Some(self.handle.protect()),
        }
    }

    /// Starts an operation: refreshes every [`REFRESH_INTERVAL`] operations, acts on a new
    /// checkpoint state (at this boundary no operation is in flight), and takes the next
    /// serial number.
    #[inline(always)]
    pub(crate) fn next_op(&mut self) -> Serial {
        self.since_refresh += 1;
        if self.since_refresh >= REFRESH_INTERVAL {
            self.refresh();
        }
        if self.guard.is_some() {
            self.cpr_sync();
        }
        self.state.serial = self.state.serial.next();
        self.state.serial
    }

    /// Ends the operation `serial`: it counts as finished (or pending) for commit points.
    #[inline(always)]
    pub(crate) fn end_op(&mut self, serial: Serial) {
        self.state.completed = serial;
        self.state.shared.finished(serial);
    }

    /// Runs operation body `f` between [`Pinned::next_op`] and [`Pinned::end_op`]; an error
    /// it returns is also a `warn` event ([`operation_failed`]).
    #[inline]
    pub(crate) fn op<R>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<R, OpError>,
    ) -> Result<R, OpError> {
        let serial = self.next_op();
        let result = f(self);
        self.end_op(serial);
        if let Err(error) = &result {
            operation_failed(error);
        }
        result
    }

    /// A lost race or a page turn: count it and refresh before the next attempt. `streak` is
    /// how many times in a row this operation has retried: past [`RETRIES_BEFORE_YIELD`], what
    /// it waits for (another thread's refresh, a flush, a growth step) is likely a thread
    /// that is not running — more threads than cores — so it drops protection and yields the
    /// core instead of spinning.
    #[cold]
    pub(crate) fn retry(&mut self, cause: RetryCause, streak: u32) {
        self.state.stats.retried(cause);
        if self.store.settings.compaction.is_some() && !self.state.internal {
            self.store.check_budget();
        }
        if streak < RETRIES_BEFORE_YIELD {
            self.refresh();
        } else {
            // Protection comes back at the next attempt, caught up with the checkpoint state.
            self.unprotect();
            std::thread::yield_now();
        }
    }

    /// The log is over its size budget and a compaction is catching up: wait for it,
    /// unprotected, for at most [`THROTTLE_WAIT`] (`compact/gate.rs`). Protection comes back
    /// at the next use, caught up with the checkpoint state.
    #[cold]
    #[inline(never)]
    pub(crate) fn throttle(&mut self) {
        self.guard = None;
        self.state.stats.bump(Counter::Throttled);
        self.store.gate.wait_throttle(THROTTLE_WAIT);
    }

    /// Drops protection (never hold it while waiting for the device).
    pub(crate) fn unprotect(&mut self) {
        self.guard = None;
    }

    /// Sends the pending reads issued as a batch, if any are unsent.
    #[inline]
    pub(crate) fn send_reads(&mut self) {
        if self.unsent_reads {
            self.unsent_reads = false;
            self.store.log.submit_reads();
        }
    }
}

/// The `warn` event of an operation that returns an error to its caller: off the path of
/// operations that succeed, and a cached flag check when no subscriber listens.
#[cold]
#[inline(never)]
pub(crate) fn operation_failed(error: &OpError) {
    tracing::warn!(target: "faster_kv", %error, "operation failed");
}
