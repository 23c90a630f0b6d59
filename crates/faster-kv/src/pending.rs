//! Operations waiting for the device: the advanced API.
//!
//! [`Pinned::start_read`] and [`Pinned::start_rmw`] return [`Outcome::Pending`] when the key's
//! record may be on the device; the session then owns the operation, its device reads are in
//! flight (many per session at once), and [`Pinned::complete_pending`] finishes whatever has
//! completed, in order of completion. Completions are pushed by the device's completion
//! callbacks into the session's queue; nothing is shared with other sessions.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use faster_hlog::{Address, LogError, ReadBuffer};
use faster_index::KeyHash;

use crate::chain::{DiskLookup, DiskRecord, DiskStep};
use crate::codec::Codec;
use crate::error::OpError;
use crate::ops::rmw_update;
use crate::ops::{Found, FromDevice, KeyRef, Step};
use crate::session::{Pinned, Rmw, Session};
use crate::stats::Counter;
use crate::store::Store;

/// The result of starting an operation with the advanced API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// Finished.
    Ready(T),
    /// Waiting for the device; [`Pinned::complete_pending`] reports it under this serial
    /// number.
    Pending(u64),
}

/// What a finished pending operation produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completed<T> {
    /// A read: the value, or `None` when the key is absent.
    Read(Option<T>),
    /// An RMW: the value stored, or `None` when the update declined to store one.
    Rmw(Option<T>),
}

/// A pending operation that finished, with the serial number [`Outcome::Pending`] gave.
#[derive(Debug)]
pub struct PendingCompletion<T> {
    /// The operation's serial number.
    pub serial: u64,
    /// Its result.
    pub result: Result<Completed<T>, OpError>,
}

enum Kind<V: Codec + ?Sized> {
    Read,
    Rmw(Box<dyn Rmw<V> + Send>),
}

struct PendingOp<V: Codec + ?Sized> {
    kind: Kind<V>,
    hash: KeyHash,
    entry: u64,
    lookup: DiskLookup,
}

type IoResult = Result<ReadBuffer, LogError>;

/// Device reads completed for one session, waiting to be digested.
#[derive(Default)]
struct IoQueue {
    done: Mutex<VecDeque<(u64, IoResult)>>,
    ready: Condvar,
}

impl IoQueue {
    fn push(&self, serial: u64, result: IoResult) {
        self.done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back((serial, result));
        self.ready.notify_one();
    }

    fn take(&self) -> VecDeque<(u64, IoResult)> {
        let mut done = self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *done)
    }

    /// Blocks until a completion is queued or `timeout` passes.
    fn wait(&self, timeout: Duration) {
        let done = self
            .done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if done.is_empty() {
            // Woken by `push`; the timeout only bounds how long a device that needs `poll`
            // waits for its reaping.
            let _ = self.ready.wait_timeout(done, timeout);
        }
    }
}

/// A session's pending operations and its completion queue.
pub(crate) struct PendingOps<V: Codec + ?Sized> {
    ops: HashMap<u64, PendingOp<V>>,
    /// Operations whose lookup ended without I/O (the chain left the log).
    resolved: VecDeque<(u64, Option<DiskRecord>)>,
    queue: Arc<IoQueue>,
}

impl<V: Codec + ?Sized> PendingOps<V> {
    pub(crate) fn new() -> Self {
        Self {
            ops: HashMap::new(),
            resolved: VecDeque::new(),
            queue: Arc::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ops.len()
    }
}

impl<'s, K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'s, K, V> {
    /// Number of operations waiting for the device.
    pub fn pending_count(&self) -> usize {
        self.state.pending.len()
    }

    /// Starts a read; [`Outcome::Pending`] when it needs the device.
    ///
    /// # Errors
    /// As [`Session::read`].
    pub fn start_read(&mut self, key: &K) -> Result<Outcome<Option<V::Owned>>, OpError> {
        let serial = self.next_op();
        self.state.stats.bump(Counter::Reads);
        let result = with_key_op(key, |key| {
            loop {
                let (store, guard, state) = self.parts();
                match store.read_once(guard, state.ctx, key, &mut state.value)? {
                    Step::Done(found) => return self.read_ready(found).map(Outcome::Ready),
                    Step::Retry => self.refresh(),
                    Step::CprShift => self.shift_version(),
                    Step::Pending { read, entry } => {
                        self.enqueue(serial, Kind::Read, key, entry, read);
                        return Ok(Outcome::Pending(serial));
                    }
                }
            }
        });
        self.end_op(serial);
        result
    }

    /// Starts an RMW; [`Outcome::Pending`] when the key's current value is on the device. A
    /// pending RMW keeps `rmw` until it completes, so it must be `Send + 'static`.
    ///
    /// # Errors
    /// As [`Session::rmw`].
    pub fn start_rmw(
        &mut self,
        key: &K,
        rmw: impl Rmw<V> + Send + 'static,
    ) -> Result<Outcome<Option<V::Owned>>, OpError> {
        let serial = self.next_op();
        self.state.stats.bump(Counter::Rmws);
        let result = with_key_op(key, |key| self.run_rmw(serial, key, Box::new(rmw)));
        self.end_op(serial);
        result
    }

    /// Runs an RMW until it finishes or goes pending (then the session keeps `rmw`).
    fn run_rmw(
        &mut self,
        serial: u64,
        key: KeyRef<'_>,
        mut rmw: Box<dyn Rmw<V> + Send>,
    ) -> Result<Outcome<Option<V::Owned>>, OpError> {
        loop {
            let step = {
                let (store, guard, state) = self.parts();
                let mut update = rmw_update::typed::<V>(&mut *rmw);
                store.rmw_once(
                    guard,
                    state.ctx,
                    key,
                    &mut update,
                    &mut state.value,
                    &state.stats,
                )?
            };
            match step {
                Step::Done(done) => return self.rmw_ready(done.wrote).map(Outcome::Ready),
                Step::Retry => self.refresh(),
                Step::CprShift => self.shift_version(),
                Step::Pending { read, entry } => {
                    self.enqueue(serial, Kind::Rmw(rmw), key, entry, read);
                    return Ok(Outcome::Pending(serial));
                }
            }
        }
    }

    fn read_ready(&mut self, found: Found) -> Result<Option<V::Owned>, OpError> {
        if found.is_found() {
            self.state.stats.bump(Counter::ReadsFound);
        }
        Ok(found.decode::<V>(&self.state.value)?)
    }

    fn rmw_ready(&mut self, wrote: bool) -> Result<Option<V::Owned>, OpError> {
        if wrote {
            Ok(Some(V::decode(&self.state.value)?))
        } else {
            Ok(None)
        }
    }

    /// Registers a pending operation and issues its first device read.
    fn enqueue(&mut self, serial: u64, kind: Kind<V>, key: KeyRef<'_>, entry: u64, read: Address) {
        self.state.stats.bump(Counter::Pending);
        // Pending operations are left out of commit points until they finish (rule R9).
        self.state.shared.add_pending(serial);
        let (lookup, step) = DiskLookup::new(&**self.store, key.bytes, read);
        self.state.pending.ops.insert(
            serial,
            PendingOp {
                kind,
                hash: key.hash,
                entry,
                lookup,
            },
        );
        self.issue(serial, step);
    }

    /// Acts on a lookup step: a device read whose completion goes to the queue, or a result.
    fn issue(&mut self, serial: u64, step: DiskStep) {
        let pending = &mut self.state.pending;
        match step {
            DiskStep::Read(address, len) => {
                self.state.stats.bump(Counter::DeviceReads);
                let queue = Arc::clone(&pending.queue);
                let issued = self
                    .store
                    .log
                    .read_async(address, len, move |r| queue.push(serial, r));
                if let Err(e) = issued {
                    pending.queue.push(serial, Err(e));
                }
            }
            DiskStep::Found(record) => pending.resolved.push_back((serial, Some(record))),
            DiskStep::Absent => pending.resolved.push_back((serial, None)),
        }
    }

    /// Finishes the pending operations whose device reads completed, in order of completion.
    /// With `wait`, blocks (without epoch protection) until every pending operation has
    /// finished.
    ///
    /// # Errors
    /// Never as a whole: each operation's error is in its [`PendingCompletion`].
    pub fn complete_pending(&mut self, wait: bool) -> Vec<PendingCompletion<V::Owned>> {
        let mut completions = Vec::new();
        loop {
            while let Some((serial, found)) = self.state.pending.resolved.pop_front() {
                self.finish(serial, found, &mut completions);
            }
            let batch = self.state.pending.queue.take();
            let progressed = !batch.is_empty();
            for (serial, result) in batch {
                let step = match self.state.pending.ops.get_mut(&serial) {
                    Some(op) => op.lookup.on_read(&**self.store, result),
                    None => continue,
                };
                match step {
                    Ok(step @ DiskStep::Read(..)) => self.issue(serial, step),
                    Ok(DiskStep::Found(record)) => {
                        self.finish(serial, Some(record), &mut completions)
                    }
                    Ok(DiskStep::Absent) => self.finish(serial, None, &mut completions),
                    Err(e) => {
                        self.state.pending.ops.remove(&serial);
                        completions.push(PendingCompletion {
                            serial,
                            result: Err(e),
                        });
                    }
                }
            }
            let idle = self.state.pending.resolved.is_empty();
            if !wait || (self.state.pending.ops.is_empty() && idle) {
                return completions;
            }
            if !progressed && idle {
                // Never wait for the device while protected: flushes and evictions need every
                // protected thread to refresh.
                self.unprotect();
                self.store.log.device().poll();
                self.state.pending.queue.wait(Duration::from_millis(10));
            }
        }
    }

    /// Finishes pending operation `serial` whose lookup found `record` (or nothing).
    fn finish(
        &mut self,
        serial: u64,
        record: Option<DiskRecord>,
        completions: &mut Vec<PendingCompletion<V::Owned>>,
    ) {
        let Some(op) = self.state.pending.ops.remove(&serial) else {
            return;
        };
        // The operation finishes now, in whatever version this session is in (rule R9).
        self.next_op_version();
        let result = match op.kind {
            Kind::Read => {
                let found = Found::in_buffer(Store::<K, V>::read_after_device(
                    record,
                    &mut self.state.value,
                ));
                self.read_ready(found).map(Completed::Read)
            }
            Kind::Rmw(rmw) => {
                let key_bytes = op.lookup.key.clone();
                let key = KeyRef {
                    bytes: &key_bytes,
                    hash: op.hash,
                };
                match self.rmw_after_device(serial, key, op.entry, record.as_ref(), rmw) {
                    Ok(Outcome::Ready(value)) => Ok(Completed::Rmw(value)),
                    // Went pending again (the chain changed); it completes later.
                    Ok(Outcome::Pending(_)) => return,
                    Err(e) => Err(e),
                }
            }
        };
        self.state.shared.remove_pending(serial);
        completions.push(PendingCompletion { serial, result });
    }

    fn rmw_after_device(
        &mut self,
        serial: u64,
        key: KeyRef<'_>,
        entry: u64,
        record: Option<&DiskRecord>,
        mut rmw: Box<dyn Rmw<V> + Send>,
    ) -> Result<Outcome<Option<V::Owned>>, OpError> {
        let step = {
            let (store, guard, state) = self.parts();
            let mut update = rmw_update::typed::<V>(&mut *rmw);
            store.rmw_after_device(
                guard,
                state.ctx,
                key,
                FromDevice {
                    entry,
                    found: record,
                },
                &mut update,
                &mut state.value,
                &state.stats,
            )?
        };
        match step {
            Step::Done(done) => self.rmw_ready(done.wrote).map(Outcome::Ready),
            Step::CprShift => {
                self.shift_version();
                self.run_rmw(serial, key, rmw)
            }
            Step::Retry | Step::Pending { .. } => {
                self.refresh();
                self.run_rmw(serial, key, rmw)
            }
        }
    }
}

/// [`crate::session::with_key`] for operations whose result is not a plain value.
fn with_key_op<K: Codec + ?Sized, R>(
    key: &K,
    f: impl FnOnce(KeyRef<'_>) -> Result<R, OpError>,
) -> Result<R, OpError> {
    crate::session::with_key(key, f)
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Session<K, V> {
    /// See [`Pinned::start_read`].
    ///
    /// # Errors
    /// As [`Session::read`].
    pub fn start_read(&mut self, key: &K) -> Result<Outcome<Option<V::Owned>>, OpError> {
        self.pin().start_read(key)
    }

    /// See [`Pinned::start_rmw`].
    ///
    /// # Errors
    /// As [`Session::rmw`].
    pub fn start_rmw(
        &mut self,
        key: &K,
        rmw: impl Rmw<V> + Send + 'static,
    ) -> Result<Outcome<Option<V::Owned>>, OpError> {
        self.pin().start_rmw(key, rmw)
    }

    /// See [`Pinned::complete_pending`].
    pub fn complete_pending(&mut self, wait: bool) -> Vec<PendingCompletion<V::Owned>> {
        self.pin().complete_pending(wait)
    }

    /// Number of operations waiting for the device.
    pub fn pending_count(&self) -> usize {
        self.state.pending.len()
    }
}
