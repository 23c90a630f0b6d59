//! The advanced API: starting operations that may wait for the device, and finishing them
//! as their reads complete (see [`super`]).

use std::sync::Arc;
use std::time::Duration;

use faster_cpr::Serial;
use faster_hlog::Address;

use super::queue::{Kind, PendingOp};
use crate::chain::{DiskLookup, DiskRecord, DiskStep};
use crate::codec::Codec;
use crate::error::OpError;
use crate::ops::attempt::{FromDevice, KeyRef, with_key};
use crate::ops::driver::{Driven, Wait};
use crate::ops::read::ReadOp;
use crate::ops::rmw::RmwOp;
use crate::ops::update::{self, Rmw};
use crate::session::Session;
use crate::session::pinned::{Pinned, operation_failed};
use crate::stats::Counter;

/// The result of starting an operation with the advanced API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// Finished.
    Ready(T),
    /// Waiting for the device; [`Pinned::complete_pending`] reports it under this serial
    /// number.
    Pending(Serial),
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
    pub serial: Serial,
    /// Its result.
    pub result: Result<Completed<T>, OpError>,
}

/// The device's answer to a pending operation (the index entry when it went pending, and the
/// record found), or `None` for a fresh start.
type Answer<'a> = Option<FromDevice<'a>>;

impl<K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'_, K, V> {
    /// Number of operations waiting for the device.
    pub fn pending_count(&self) -> usize {
        self.state.pending.len()
    }

    /// Starts a read; [`Outcome::Pending`] when it needs the device. Device reads go out in
    /// batches: on the io_uring engine, the reads this `Pinned` started reach the kernel
    /// together, with one system call, at its next [`Pinned::complete_pending`] or when it
    /// drops (or at the 32nd unsent read), so start many, then complete them.
    ///
    /// # Errors
    /// As [`Session::read`].
    pub fn start_read(&mut self, key: &K) -> Result<Outcome<Option<V::Owned>>, OpError> {
        let serial = self.next_op();
        self.state.stats.bump(Counter::Reads);
        let result = with_key(key, |key| self.drive_read(serial, key, None));
        self.end_op(serial);
        if let Err(error) = &result {
            operation_failed(error);
        }
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
        let result = with_key(key, |key| self.drive_rmw(serial, key, Box::new(rmw), None));
        self.end_op(serial);
        if let Err(error) = &result {
            operation_failed(error);
        }
        result
    }

    /// Drives a read until it finishes or needs the device (then the session keeps it).
    #[inline(always)]
    fn drive_read(
        &mut self,
        serial: Serial,
        key: KeyRef<'_>,
        answer: Answer<'_>,
    ) -> Result<Outcome<Option<V::Owned>>, OpError> {
        match self.drive(&mut ReadOp, key, Wait::Defer, answer)? {
            Driven::Done(found) => self.read_result(found).map(Outcome::Ready),
            Driven::Deferred { read, entry } => {
                self.enqueue(serial, Kind::Read, key, entry, read);
                Ok(Outcome::Pending(serial))
            }
        }
    }

    /// Drives an RMW until it finishes or needs the device (then the session keeps `rmw`).
    fn drive_rmw(
        &mut self,
        serial: Serial,
        key: KeyRef<'_>,
        mut rmw: Box<dyn Rmw<V> + Send>,
        answer: Answer<'_>,
    ) -> Result<Outcome<Option<V::Owned>>, OpError> {
        let driven = {
            let mut update = update::typed::<V>(&mut *rmw);
            let mut op = RmwOp::new(&mut update);
            self.drive(&mut op, key, Wait::Defer, answer)?
        };
        match driven {
            Driven::Done(done) => self.rmw_result(done).map(Outcome::Ready),
            Driven::Deferred { read, entry } => {
                self.enqueue(serial, Kind::Rmw(rmw), key, entry, read);
                Ok(Outcome::Pending(serial))
            }
        }
    }

    /// Registers a pending operation and issues its first device read.
    fn enqueue(
        &mut self,
        serial: Serial,
        kind: Kind<V>,
        key: KeyRef<'_>,
        entry: Address,
        read: Address,
    ) {
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
    fn issue(&mut self, serial: Serial, step: DiskStep) {
        let pending = &mut self.state.pending;
        match step {
            DiskStep::Read(address, len) => {
                self.state.stats.bump(Counter::DeviceReads);
                let queue = Arc::clone(&pending.queue);
                // One of a batch: sent by the next `complete_pending` or when this `Pinned`
                // drops, so that reads issued together cost one system call (rule D12).
                let issued = self
                    .store
                    .log
                    .read_async_batched(address, len, move |r| queue.push(serial, r));
                match issued {
                    Ok(()) => self.unsent_reads = true,
                    Err(e) => pending.queue.push(serial, Err(e)),
                }
            }
            DiskStep::Found(record) => pending.resolved.push_back((serial, Some(record), false)),
            DiskStep::Absent { truncated } => pending.resolved.push_back((serial, None, truncated)),
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
            self.send_reads();
            while let Some((serial, found, truncated)) = self.state.pending.resolved.pop_front() {
                self.finish(serial, found, truncated, &mut completions);
            }
            let progressed = self.digest_reads(&mut completions);
            let idle = self.state.pending.resolved.is_empty();
            if !wait || (self.state.pending.ops.is_empty() && idle) {
                return completions;
            }
            if !progressed && idle {
                // Never wait for the device while protected: flushes and evictions need every
                // protected thread to refresh. Nor for a read still unsent.
                self.send_reads();
                self.unprotect();
                self.store.log.device().poll();
                self.state.pending.queue.wait(Duration::from_millis(10));
            }
        }
    }

    /// Finishes what needs no waiting, digesting at most `max` completed reads (so that one
    /// call stays short); also answers whether completed reads are left.
    pub(crate) fn complete_pending_up_to(
        &mut self,
        max: usize,
    ) -> (Vec<PendingCompletion<V::Owned>>, bool) {
        let mut completions = Vec::new();
        self.send_reads();
        while let Some((serial, found, truncated)) = self.state.pending.resolved.pop_front() {
            self.finish(serial, found, truncated, &mut completions);
        }
        let (batch, more) = self.state.pending.queue.take_up_to(max);
        self.digest(batch, &mut completions);
        (completions, more || !self.state.pending.resolved.is_empty())
    }

    /// Moves on every lookup whose device read completed; returns whether there was any.
    fn digest_reads(&mut self, completions: &mut Vec<PendingCompletion<V::Owned>>) -> bool {
        let batch = self.state.pending.queue.take();
        let progressed = !batch.is_empty();
        self.digest(batch, completions);
        progressed
    }

    /// Moves on the lookups of `batch`'s completed reads.
    fn digest(
        &mut self,
        batch: std::collections::VecDeque<(Serial, super::queue::IoResult)>,
        completions: &mut Vec<PendingCompletion<V::Owned>>,
    ) {
        for (serial, result) in batch {
            let step = match self.state.pending.ops.get_mut(&serial) {
                Some(op) => op.lookup.on_read(&**self.store, result),
                None => continue,
            };
            match step {
                Ok(step @ DiskStep::Read(..)) => self.issue(serial, step),
                Ok(DiskStep::Found(record)) => {
                    self.finish(serial, Some(record), false, completions);
                }
                Ok(DiskStep::Absent { truncated }) => {
                    self.finish(serial, None, truncated, completions);
                }
                Err(e) => {
                    self.state.pending.ops.remove(&serial);
                    operation_failed(&e);
                    completions.push(PendingCompletion {
                        serial,
                        result: Err(e),
                    });
                }
            }
        }
    }

    /// Finishes pending operation `serial` whose lookup found `record` (or nothing).
    fn finish(
        &mut self,
        serial: Serial,
        record: Option<DiskRecord>,
        truncated: bool,
        completions: &mut Vec<PendingCompletion<V::Owned>>,
    ) {
        let Some(op) = self.state.pending.ops.remove(&serial) else {
            return;
        };
        // The operation finishes now, in whatever version this session is in (rule R9).
        self.next_op_version();
        let key = KeyRef {
            bytes: &op.lookup.key,
            hash: op.hash,
        };
        // Rule R14: a lookup that ended below a moved begin address starts again from the
        // index if the key's entry changed meanwhile.
        let answer = (!(truncated && self.entry_moved(key, op.entry))).then_some(FromDevice {
            entry: op.entry,
            found: record.as_ref(),
        });
        let outcome = match op.kind {
            Kind::Read => self
                .drive_read(serial, key, answer)
                .map(|o| o.map(Completed::Read)),
            Kind::Rmw(rmw) => self
                .drive_rmw(serial, key, rmw, answer)
                .map(|o| o.map(Completed::Rmw)),
        };
        let result = match outcome {
            Ok(Outcome::Ready(completed)) => Ok(completed),
            // Went pending again (the chain changed); it completes later.
            Ok(Outcome::Pending(_)) => return,
            Err(e) => {
                operation_failed(&e);
                Err(e)
            }
        };
        self.state.shared.remove_pending(serial);
        completions.push(PendingCompletion { serial, result });
    }
}

impl<T> Outcome<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Self::Ready(value) => Outcome::Ready(f(value)),
            Self::Pending(serial) => Outcome::Pending(serial),
        }
    }
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
