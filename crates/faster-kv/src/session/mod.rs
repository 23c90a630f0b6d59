//! Sessions: a thread's context for operations, and [`Pinned`], a session that stays
//! protected across operations.
//!
//! A plain [`Session`] protects itself for each operation and unprotects afterwards, so an
//! idle session never holds back page eviction or a checkpoint. [`Session::pin`] keeps the
//! protection across a batch of operations (refreshing every [`REFRESH_INTERVAL`] operations),
//! which saves two fences per operation; the protection ends when the [`Pinned`] drops.

use std::borrow::Borrow;
use std::sync::Arc;

use faster_cpr::{Phase, SystemState};
use faster_epoch::{Guard, Handle};
use faster_hlog::Address;
use faster_index::KeyHash;

use crate::chain::{DiskLookup, DiskRecord, DiskStep};
use crate::checkpoint::SessionShared;
use crate::codec::Codec;
use crate::error::{OpError, Status};
use crate::ops::rmw_update::{self, Update};
use crate::ops::{Found, FromDevice, KeyRef, OpCtx, RmwDone, Step};
use crate::pending::PendingOps;
use crate::stats::{Counter, SessionStats};
use crate::store::Store;

/// Operations between two refreshes of a pinned session's protection.
pub const REFRESH_INTERVAL: u32 = 64;

/// A read-modify-write: computes a key's new value from its current one.
///
/// Closures `FnMut(Option<&V>) -> V::Owned` are RMWs. `apply` may run more than once for one
/// operation (when a concurrent update wins a compare-and-swap, it runs again on the newer
/// value); the value of its last run is the one stored. Returning `None` stores nothing.
pub trait Rmw<V: Codec + ?Sized> {
    /// The new value given the current one (`None` when the key is absent or deleted), or
    /// `None` to leave the key as it is.
    fn apply(&mut self, current: Option<&V>) -> Option<V::Owned>;
}

impl<V, F> Rmw<V> for F
where
    V: Codec + ?Sized,
    F: FnMut(Option<&V>) -> V::Owned,
{
    fn apply(&mut self, current: Option<&V>) -> Option<V::Owned> {
        Some(self(current))
    }
}

/// A session's state apart from its epoch handle.
pub(crate) struct SessionState<V: Codec + ?Sized> {
    pub(crate) id: u64,
    /// Serial number of the last operation started.
    pub(crate) serial: u64,
    /// Serial number of the last operation that finished or went pending (rule R9).
    pub(crate) completed: u64,
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
}

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
    /// A session over `shared`, which [`SessionTable::start`](crate::checkpoint::SessionTable)
    /// registered with the version it starts in and the serial it starts from.
    pub(crate) fn new(store: Arc<Store<K, V>>, handle: Handle, shared: Arc<SessionShared>) -> Self {
        let stats = store.stats.register();
        let (version, serial) = shared.start();
        Self {
            store,
            handle,
            state: SessionState {
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
            },
        }
    }

    /// This session's identifier within its store.
    pub fn id(&self) -> u64 {
        self.state.id
    }

    /// The serial number of the last operation started (0 before the first).
    pub fn serial(&self) -> u64 {
        self.state.serial
    }

    /// Keeps this session protected until the returned [`Pinned`] drops, for a batch of
    /// operations: each then costs no protect/unprotect fences.
    ///
    /// While pinned, the session holds back page eviction and checkpoints until it refreshes
    /// (every [`REFRESH_INTERVAL`] operations), so do not keep a `Pinned` alive while idle.
    pub fn pin(&mut self) -> Pinned<'_, K, V> {
        Pinned {
            store: &self.store,
            handle: &self.handle,
            guard: Some(self.handle.protect()),
            state: &mut self.state,
            since_refresh: 0,
        }
    }

    /// The value of `key`, reading it from the device if needed.
    ///
    /// # Errors
    /// [`OpError`] when the key cannot be encoded, the device fails, or the stored bytes are
    /// corrupt.
    pub fn read(&mut self, key: &K) -> Result<Option<V::Owned>, OpError> {
        self.pin().read(key)
    }

    /// Stores `value` under `key`.
    ///
    /// # Errors
    /// [`OpError::RecordTooLarge`] when the record does not fit in a page; log errors.
    pub fn upsert(&mut self, key: &K, value: &V) -> Result<(), OpError> {
        self.pin().upsert(key, value)
    }

    /// Read-modify-write: stores `rmw.apply(current)`; returns the value stored, or `None` if
    /// `apply` declined to store one.
    ///
    /// # Errors
    /// As [`Session::read`] and [`Session::upsert`].
    pub fn rmw(&mut self, key: &K, rmw: impl Rmw<V>) -> Result<Option<V::Owned>, OpError> {
        self.pin().rmw(key, rmw)
    }

    /// Deletes `key`: [`Status::Found`] when a tombstone was written, [`Status::NotFound`]
    /// when the key was known to be absent. Never reads the device.
    ///
    /// # Errors
    /// Log errors.
    pub fn delete(&mut self, key: &K) -> Result<Status, OpError> {
        self.pin().delete(key)
    }

    /// Stores `value` only if `key` is absent; returns whether it did.
    ///
    /// # Errors
    /// As [`Session::rmw`].
    pub fn insert_if_absent(&mut self, key: &K, value: &V) -> Result<bool, OpError> {
        self.pin().insert_if_absent(key, value)
    }

    /// Replaces the value of `key` by `new` if it is `expected` (`None`: absent); returns
    /// whether it did.
    ///
    /// # Errors
    /// As [`Session::rmw`].
    pub fn compare_and_swap(
        &mut self,
        key: &K,
        expected: Option<&V>,
        new: &V,
    ) -> Result<bool, OpError> {
        self.pin().compare_and_swap(key, expected, new)
    }

    /// Adds `delta` to the counter `key` (absent counts as 0, wrapping on overflow); returns
    /// the new count. In the mutable region this is one atomic compare-and-swap loop.
    ///
    /// # Errors
    /// As [`Session::rmw`].
    pub fn add(&mut self, key: &K, delta: u64) -> Result<u64, OpError>
    where
        V: Codec<Owned = u64>,
    {
        self.pin().add(key, delta)
    }
}

/// A session kept protected across operations; see [`Session::pin`].
pub struct Pinned<'s, K: Codec + ?Sized, V: Codec + ?Sized> {
    pub(crate) store: &'s Arc<Store<K, V>>,
    pub(crate) handle: &'s Handle,
    /// `None` only while waiting for the device (protection is dropped meanwhile).
    pub(crate) guard: Option<Guard<'s>>,
    pub(crate) state: &'s mut SessionState<V>,
    since_refresh: u32,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> std::fmt::Debug for Pinned<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinned")
            .field("session", &self.state.id)
            .finish_non_exhaustive()
    }
}

/// Encodes `key` and hashes it, then runs `f` on the result.
#[inline]
pub(crate) fn with_key<K: Codec + ?Sized, R>(
    key: &K,
    f: impl FnOnce(KeyRef<'_>) -> Result<R, OpError>,
) -> Result<R, OpError> {
    let hash = KeyHash(key.hash64()?);
    key.with_bytes(|bytes| f(KeyRef { bytes, hash }))?
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

    /// Acts on a new checkpoint state if there is one (one load at rest).
    #[inline(always)]
    fn cpr_sync(&mut self) {
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
        let machine = &self.store.cpr.machine;
        let word = machine.word();
        let Some(state) = SystemState::unpack(word) else {
            return;
        };
        if state.version != self.state.version {
            self.state
                .shared
                .switch(self.state.version, state.version, self.state.completed);
            self.state.version = state.version;
        }
        let start = self
            .store
            .cpr
            .start
            .load(std::sync::atomic::Ordering::Acquire);
        self.state.ctx = match state.phase {
            Phase::Prepare => OpCtx {
                old_version: true,
                new_version: false,
                start,
            },
            phase if phase.is_new_version() => OpCtx {
                old_version: false,
                new_version: true,
                start,
            },
            _ => OpCtx::REST,
        };
        self.state.cpr_word = word;
        machine.acknowledge(self.handle, state);
        self.store.cpr_advance();
    }

    /// Between operations, for work that is not itself an operation (finishing pending ones):
    /// protected, and caught up with the checkpoint state.
    pub(crate) fn next_op_version(&mut self) {
        let _ = self.parts();
        self.cpr_sync();
    }

    /// [`Pinned::cpr_shift`] for the advanced API.
    pub(crate) fn shift_version(&mut self) {
        self.cpr_shift();
    }

    /// A version-`v` attempt met a version-`v + 1` record: move to `v + 1` (the operation in
    /// progress then belongs to it) and retry (rule R8).
    fn cpr_shift(&mut self) {
        self.refresh();
        self.cpr_catch_up();
        std::thread::yield_now();
    }

    /// Refreshes the protection (lets epoch actions — flushes, evictions — run).
    #[inline]
    pub fn refresh(&mut self) {
        self.since_refresh = 0;
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
    pub(crate) fn next_op(&mut self) -> u64 {
        self.since_refresh += 1;
        if self.since_refresh >= REFRESH_INTERVAL {
            self.refresh();
        }
        if self.guard.is_some() {
            self.cpr_sync();
        }
        self.state.serial += 1;
        self.state.serial
    }

    /// Ends the operation `serial`: it counts as finished (or pending) for commit points.
    #[inline(always)]
    pub(crate) fn end_op(&mut self, serial: u64) {
        self.state.completed = serial;
        self.state.shared.finished(serial);
    }

    fn retry(&mut self) {
        self.state.stats.bump(Counter::Retries);
        self.refresh();
    }

    /// Drops protection (never hold it while waiting for the device).
    pub(crate) fn unprotect(&mut self) {
        self.guard = None;
    }

    /// Follows a chain on the device, blocking, with no protection held.
    pub(crate) fn lookup_blocking(
        &mut self,
        key: &[u8],
        at: Address,
    ) -> Result<Option<DiskRecord>, OpError> {
        self.unprotect();
        self.state.stats.bump(Counter::Pending);
        let (mut lookup, mut step) = DiskLookup::new(&**self.store, key, at);
        loop {
            match step {
                DiskStep::Read(address, len) => {
                    self.state.stats.bump(Counter::DeviceReads);
                    let read = self.store.log.read_blocking(address, len);
                    step = lookup.on_read(&**self.store, read)?;
                }
                DiskStep::Found(record) => return Ok(Some(record)),
                DiskStep::Absent => return Ok(None),
            }
        }
    }

    /// Runs operation body `f` between [`Pinned::next_op`] and [`Pinned::end_op`].
    #[inline]
    fn op<R>(&mut self, f: impl FnOnce(&mut Self) -> Result<R, OpError>) -> Result<R, OpError> {
        let serial = self.next_op();
        let result = f(self);
        self.end_op(serial);
        result
    }

    /// See [`Session::read`].
    ///
    /// # Errors
    /// As [`Session::read`].
    pub fn read(&mut self, key: &K) -> Result<Option<V::Owned>, OpError> {
        self.op(|this| {
            this.state.stats.bump(Counter::Reads);
            let found = with_key(key, |key| this.read_found(key))?;
            if found.is_found() {
                this.state.stats.bump(Counter::ReadsFound);
            }
            Ok(found.decode::<V>(&this.state.value)?)
        })
    }

    /// A read to completion; a value that is not a word lands in the session's buffer.
    pub(crate) fn read_found(&mut self, key: KeyRef<'_>) -> Result<Found, OpError> {
        loop {
            let (store, guard, state) = self.parts();
            match store.read_once(guard, state.ctx, key, &mut state.value)? {
                Step::Done(found) => return Ok(found),
                Step::Retry => self.retry(),
                Step::CprShift => self.cpr_shift(),
                Step::Pending { read, .. } => {
                    let record = self.lookup_blocking(key.bytes, read)?;
                    // Protected again (catching up on the checkpoint state) before judging it.
                    let (_, _, state) = self.parts();
                    if let Some(r) = &record
                        && state.ctx.must_shift(r.address, r.header)
                    {
                        self.cpr_shift();
                        continue;
                    }
                    return Ok(Found::in_buffer(Store::<K, V>::read_after_device(
                        record,
                        &mut self.state.value,
                    )));
                }
            }
        }
    }

    /// See [`Session::upsert`].
    ///
    /// # Errors
    /// As [`Session::upsert`].
    pub fn upsert(&mut self, key: &K, value: &V) -> Result<(), OpError> {
        self.op(|this| {
            this.state.stats.bump(Counter::Upserts);
            with_key(key, |key| {
                value.with_bytes(|value| {
                    loop {
                        let (store, guard, state) = this.parts();
                        match store.upsert_once(guard, state.ctx, key, value, &state.stats)? {
                            Step::Done(()) => return Ok(()),
                            Step::CprShift => this.cpr_shift(),
                            Step::Retry | Step::Pending { .. } => this.retry(),
                        }
                    }
                })?
            })
        })
    }

    /// See [`Session::delete`].
    ///
    /// # Errors
    /// As [`Session::delete`].
    pub fn delete(&mut self, key: &K) -> Result<Status, OpError> {
        self.op(|this| {
            this.state.stats.bump(Counter::Deletes);
            with_key(key, |key| {
                loop {
                    let (store, guard, state) = this.parts();
                    match store.delete_once(guard, state.ctx, key, &state.stats)? {
                        Step::Done(status) => return Ok(status),
                        Step::CprShift => this.cpr_shift(),
                        Step::Retry | Step::Pending { .. } => this.retry(),
                    }
                }
            })
        })
    }

    /// Runs an RMW on encoded values to completion, waiting for the device if needed.
    pub(crate) fn rmw_bytes<U: Update + ?Sized>(
        &mut self,
        key: KeyRef<'_>,
        update: &mut U,
    ) -> Result<RmwDone, OpError> {
        self.state.stats.bump(Counter::Rmws);
        loop {
            let (store, guard, state) = self.parts();
            match store.rmw_once(
                guard,
                state.ctx,
                key,
                update,
                &mut state.value,
                &state.stats,
            )? {
                Step::Done(done) => return Ok(done),
                Step::Retry => self.retry(),
                Step::CprShift => self.cpr_shift(),
                Step::Pending { read, entry } => {
                    let record = self.lookup_blocking(key.bytes, read)?;
                    let (store, guard, state) = self.parts();
                    let step = store.rmw_after_device(
                        guard,
                        state.ctx,
                        key,
                        FromDevice {
                            entry,
                            found: record.as_ref(),
                        },
                        update,
                        &mut state.value,
                        &state.stats,
                    )?;
                    match step {
                        Step::Done(done) => return Ok(done),
                        Step::CprShift => self.cpr_shift(),
                        Step::Retry | Step::Pending { .. } => self.retry(),
                    }
                }
            }
        }
    }

    /// See [`Session::rmw`].
    ///
    /// # Errors
    /// As [`Session::rmw`].
    pub fn rmw(&mut self, key: &K, mut rmw: impl Rmw<V>) -> Result<Option<V::Owned>, OpError> {
        self.op(|this| {
            let mut update = rmw_update::typed::<V>(&mut rmw);
            let done = with_key(key, |key| this.rmw_bytes(key, &mut update))?;
            if done.wrote {
                Ok(Some(V::decode(&this.state.value)?))
            } else {
                Ok(None)
            }
        })
    }

    /// See [`Session::insert_if_absent`].
    ///
    /// # Errors
    /// As [`Session::rmw`].
    pub fn insert_if_absent(&mut self, key: &K, value: &V) -> Result<bool, OpError> {
        self.op(|this| {
            value.with_bytes(|value| {
                let mut update = rmw_update::insert_if_absent(value);
                with_key(key, |key| this.rmw_bytes(key, &mut update)).map(|done| done.wrote)
            })?
        })
    }

    /// See [`Session::compare_and_swap`].
    ///
    /// # Errors
    /// As [`Session::rmw`].
    pub fn compare_and_swap(
        &mut self,
        key: &K,
        expected: Option<&V>,
        new: &V,
    ) -> Result<bool, OpError> {
        self.op(|this| {
            let expected = match expected {
                Some(v) => Some(v.with_bytes(<[u8]>::to_vec)?),
                None => None,
            };
            new.with_bytes(|new| {
                let mut update = rmw_update::compare_and_swap(expected.as_deref(), new);
                with_key(key, |key| this.rmw_bytes(key, &mut update)).map(|done| done.wrote)
            })?
        })
    }

    /// See [`Session::add`].
    ///
    /// # Errors
    /// As [`Session::rmw`].
    pub fn add(&mut self, key: &K, delta: u64) -> Result<u64, OpError>
    where
        V: Codec<Owned = u64>,
    {
        self.op(|this| {
            let mut update = rmw_update::Add(delta);
            with_key(key, |key| this.rmw_bytes(key, &mut update))?;
            let owned: V::Owned = V::decode(&this.state.value)?;
            Ok(*owned.borrow())
        })
    }
}
