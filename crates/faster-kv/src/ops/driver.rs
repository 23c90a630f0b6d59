//! The one loop every operation runs in: attempt, then retry after a refresh, move to the
//! next version (rule R8), or go to the device — blocking, or deferred to the pending API.

use faster_hlog::Address;

use super::attempt::{Attempt, FromDevice, KeyRef, Operation, Step};
use crate::chain::{DiskLookup, DiskRecord, DiskStep};
use crate::codec::Codec;
use crate::error::OpError;
use crate::session::pinned::Pinned;
use crate::stats::Counter;

/// What the driver does when an attempt needs the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Follow the chain on the device now, unprotected, and go on.
    Block,
    /// Hand the operation back ([`Driven::Deferred`]) for the pending API.
    Defer,
}

/// How far a chain was followed without waiting for the disk.
enum Cached {
    /// To its end: the record found (if any), and whether to restart from the index.
    Done(Option<DiskRecord>, bool),
    /// A read of this address would wait.
    Miss(Address),
}

/// How a driven operation ended.
#[derive(Debug)]
pub(crate) enum Driven<T> {
    /// Finished.
    Done(T),
    /// Needs the device (only with [`Wait::Defer`]): read from `read`; the index entry
    /// pointed at `entry`.
    Deferred { read: Address, entry: Address },
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'_, K, V> {
    /// One attempt of `op` on `key` under the session's guard: a fresh one, or the one after
    /// the device answered.
    #[inline(always)]
    fn attempt<O: Operation<K, V>>(
        &mut self,
        op: &mut O,
        key: KeyRef<'_>,
        device: Option<FromDevice<'_>>,
    ) -> Result<Step<O::Output>, OpError> {
        let (store, guard, state) = self.parts();
        let mut at = Attempt {
            store,
            guard,
            ctx: &state.ctx,
            key,
            stats: &state.stats,
            value: &mut state.value,
        };
        match device {
            None => op.attempt(&mut at),
            Some(device) => op.after_device(&mut at, device),
        }
    }

    /// Runs `op` on `key` until it finishes (or, with [`Wait::Defer`], needs the device).
    /// `device` is the device's answer to an earlier [`Driven::Deferred`], for the first
    /// attempt. One call site of the attempt, in one loop: the in-memory path is the attempt
    /// and a predicted branch, and a refresh, a version move and the device are calls out of
    /// it (the device lookup is cold).
    #[inline(always)]
    pub(crate) fn drive<O: Operation<K, V>>(
        &mut self,
        op: &mut O,
        key: KeyRef<'_>,
        wait: Wait,
        device: Option<FromDevice<'_>>,
    ) -> Result<Driven<O::Output>, OpError> {
        let mut device = device;
        let mut found: Option<DiskRecord>;
        let mut retries = 0u32;
        loop {
            match self.attempt(op, key, device.take())? {
                Step::Done(out) => return Ok(Driven::Done(out)),
                Step::Retry(cause) => {
                    self.retry(cause, retries);
                    retries = retries.saturating_add(1);
                }
                Step::CprShift => self.cpr_shift(),
                Step::Pending { read, entry } => match wait {
                    Wait::Defer => match self.lookup_cached(key, read, entry)? {
                        // Everything it needed was in the page cache: go on at once.
                        Cached::Done(record, restart) => {
                            found = record;
                            device = (!restart).then_some(FromDevice {
                                entry,
                                found: found.as_ref(),
                            });
                        }
                        Cached::Miss(read) => return Ok(Driven::Deferred { read, entry }),
                    },
                    Wait::Block => {
                        let restart;
                        (found, restart) = self.lookup_blocking(key, read, entry)?;
                        // A restart is a fresh attempt (rule R14).
                        device = (!restart).then_some(FromDevice {
                            entry,
                            found: found.as_ref(),
                        });
                    }
                },
            }
        }
    }

    /// Runs `op` on `key` to the end, waiting for the device if it must.
    #[inline(always)]
    pub(crate) fn run<O: Operation<K, V>>(
        &mut self,
        op: &mut O,
        key: KeyRef<'_>,
    ) -> Result<O::Output, OpError> {
        loop {
            // With `Wait::Block` the driver never defers; the loop only makes that total.
            if let Driven::Done(out) = self.drive(op, key, Wait::Block, None)? {
                return Ok(out);
            }
        }
    }

    /// Whether the key's index entry changed since it pointed at `entry`: after a device
    /// lookup that ended below the begin address, a compaction may have installed a copy of
    /// the key's record (rule R14), so the operation starts again from the index. Cold: only
    /// lookups that met a truncation get here.
    #[cold]
    #[inline(never)]
    pub(crate) fn entry_moved(&mut self, key: KeyRef<'_>, entry: Address) -> bool {
        let (store, guard, _) = self.parts();
        match store.index.find(key.hash, guard) {
            Ok(Some(slot)) => slot.address() != entry,
            Ok(None) => false,
            // A growth in progress: look again from the index.
            Err(_busy) => true,
        }
    }

    /// Follows a chain on the device as far as the device answers without waiting for the
    /// disk (`HybridLog::read_cached`), with no protection held: the record (and whether to
    /// restart, as [`Pinned::lookup_blocking`] says), or the address where a read would wait —
    /// the pending API goes on from there. Cold and never inlined.
    #[cold]
    #[inline(never)]
    fn lookup_cached(
        &mut self,
        key: KeyRef<'_>,
        at: Address,
        entry: Address,
    ) -> Result<Cached, OpError> {
        self.unprotect();
        let (mut lookup, mut step) = DiskLookup::new(&**self.store, key.bytes, at);
        loop {
            match step {
                DiskStep::Read(address, len) => {
                    let Some(read) = self.store.log.read_cached(address, len) else {
                        return Ok(Cached::Miss(address));
                    };
                    self.state.stats.bump(Counter::DeviceReads);
                    step = lookup.on_read(&**self.store, read)?;
                }
                DiskStep::Found(record) => return Ok(Cached::Done(Some(record), false)),
                DiskStep::Absent { truncated } => {
                    return Ok(Cached::Done(
                        None,
                        truncated && self.entry_moved(key, entry),
                    ));
                }
            }
        }
    }

    /// Follows a chain on the device, blocking, with no protection held. Cold and never
    /// inlined: it keeps the device path out of the code of the in-memory one.
    #[cold]
    #[inline(never)]
    /// Also answers whether the operation must start again from the index instead (rule R14:
    /// the lookup ended below a moved begin address and the key's entry is no longer
    /// `entry`).
    fn lookup_blocking(
        &mut self,
        key: KeyRef<'_>,
        at: Address,
        entry: Address,
    ) -> Result<(Option<DiskRecord>, bool), OpError> {
        self.unprotect();
        self.state.stats.bump(Counter::Pending);
        let (mut lookup, mut step) = DiskLookup::new(&**self.store, key.bytes, at);
        loop {
            match step {
                DiskStep::Read(address, len) => {
                    self.state.stats.bump(Counter::DeviceReads);
                    let read = self.store.log.read_blocking(address, len);
                    step = lookup.on_read(&**self.store, read)?;
                }
                DiskStep::Found(record) => return Ok((Some(record), false)),
                DiskStep::Absent { truncated } => {
                    return Ok((None, truncated && self.entry_moved(key, entry)));
                }
            }
        }
    }
}
