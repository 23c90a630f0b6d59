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
    /// Runs `op` on `key` until it finishes (or, with [`Wait::Defer`], needs the device).
    /// `device` is the answer of the device to an earlier [`Driven::Deferred`]: the index
    /// entry then and the record found.
    #[inline(always)]
    pub(crate) fn drive<O: Operation<K, V>>(
        &mut self,
        op: &mut O,
        key: KeyRef<'_>,
        wait: Wait,
        mut device: Option<(Address, Option<DiskRecord>)>,
    ) -> Result<Driven<O::Output>, OpError> {
        loop {
            let step = {
                let (store, guard, state) = self.parts();
                let mut at = Attempt {
                    store,
                    guard,
                    ctx: state.ctx,
                    key,
                    stats: &state.stats,
                    value: &mut state.value,
                };
                match device.take() {
                    None => op.attempt(&mut at)?,
                    Some((entry, found)) => op.after_device(
                        &mut at,
                        FromDevice {
                            entry,
                            found: found.as_ref(),
                        },
                    )?,
                }
            };
            match step {
                Step::Done(out) => return Ok(Driven::Done(out)),
                Step::Retry => self.retry(),
                Step::CprShift => self.cpr_shift(),
                Step::Pending { read, entry } => match wait {
                    Wait::Defer => return Ok(Driven::Deferred { read, entry }),
                    Wait::Block => {
                        device = Some((entry, self.lookup_blocking(key.bytes, read)?));
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

    /// Follows a chain on the device, blocking, with no protection held.
    fn lookup_blocking(&mut self, key: &[u8], at: Address) -> Result<Option<DiskRecord>, OpError> {
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
}
