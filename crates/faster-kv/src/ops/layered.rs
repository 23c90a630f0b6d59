//! Operations for a store layered over this one (F2's hot store): reads and RMWs that say
//! whether the key is *absent* here — no record of it at all, so a lower layer may hold it —
//! rather than deleted, and that hand back a [`ChainMark`]; and writes that succeed only if
//! the key's chain is still where that mark saw it.
//!
//! A mark is the key's index entry as an operation saw it. Every install of a record of the
//! key swaps that entry (rule R1), so "the entry still holds the mark" means "no record of the
//! key was written here since": a value computed from a lower layer can then be installed
//! without losing a concurrent write (FASTER F2's conditional insert).

use faster_hlog::Address;

use super::attempt::{Attempt, Operation, Step, with_key};
use super::delete::DeleteOp;
use super::read::{Found, ReadOp};
use super::rmw::{RmwDone, RmwOp};
use super::update::{self, Rmw};
use crate::chain::Append;
use crate::codec::Codec;
use crate::error::OpError;
use crate::record::TOMBSTONE;
use crate::session::Session;
use crate::session::pinned::Pinned;
use crate::stats::{Counter, RetryCause};

/// The index entry a key's chain started from when an operation found no record of the key
/// (see the module documentation of [`Session::read_layered`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainMark(pub(crate) Address);

/// What [`Session::read_layered`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layered<T> {
    /// The key's newest record holds this value.
    Value(T),
    /// The key's newest record is a tombstone.
    Deleted,
    /// No record of the key: its chain ends (or was compacted away) without one.
    Absent(ChainMark),
}

/// Appends `(key, value)` (or a tombstone) if the key's entry still holds the mark.
struct InsertAtMark<'v> {
    mark: Address,
    value: Option<&'v [u8]>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Operation<K, V> for InsertAtMark<'_> {
    type Output = bool;

    fn attempt(&mut self, at: &mut Attempt<'_, '_, K, V>) -> Result<Step<bool>, OpError> {
        let Ok(slot) = at.store.index.find_or_create(at.key.hash, at.guard) else {
            return Ok(Step::Retry(RetryCause::IndexGrowth));
        };
        let entry = slot.address();
        // A mark taken when the key had no entry matches an entry created since that holds
        // no record yet.
        let unchanged =
            entry == self.mark || (self.mark.is_invalid() && entry == faster_index::UNSET_ADDRESS);
        if !unchanged {
            return Ok(Step::Done(false));
        }
        let empty = vec![0u8; V::FIXED_SIZE.unwrap_or(0)];
        let (flags, value) = match self.value {
            Some(value) => (at.ctx.flags(), value),
            None => (TOMBSTONE | at.ctx.flags(), empty.as_slice()),
        };
        Ok(
            match at
                .store
                .append(at.guard, &slot, entry, flags, at.key.bytes, value)?
            {
                Append::Installed(_) => {
                    at.stats.bump(Counter::Appends);
                    Step::Done(true)
                }
                Append::Retry(cause) => Step::Retry(cause),
            },
        )
    }
}

/// Copies `(key, value)` into the read cache if the key's entry still holds the mark.
struct CacheAtMark<'v> {
    mark: Address,
    value: &'v [u8],
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Operation<K, V> for CacheAtMark<'_> {
    type Output = bool;

    fn attempt(&mut self, at: &mut Attempt<'_, '_, K, V>) -> Result<Step<bool>, OpError> {
        Ok(Step::Done(at.store.cache_copy(
            at.guard,
            at.key.hash,
            self.mark,
            at.key.bytes,
            self.value,
        )))
    }
}

/// How [`Session::rmw_layered`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayeredRmw<T> {
    /// The key had a record here (a value or a tombstone) and the RMW ran on it: the value
    /// stored, or `None` if the update declined to store one.
    Done(Option<T>),
    /// No record of the key: nothing was done, and no serial number was used.
    Absent(ChainMark),
}

/// What [`Session::finish_at_mark`] does with a key that had no record here.
#[derive(Debug, Clone, Copy)]
pub enum MarkedWrite<'a, V: ?Sized> {
    /// Store this value, if the key's entry still holds the mark.
    Store(&'a V),
    /// Copy this value (read from a lower layer) into the read cache, if the entry still
    /// holds the mark; best effort.
    Cache(&'a V),
    /// Nothing: the operation ends here.
    Nothing,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'_, K, V> {
    /// Runs an operation whose body may find it did nothing (`Ok((_, false))`): its serial
    /// number is then handed back, for the operation that completes the same request. Such
    /// an operation wrote nothing, so a commit point taken meanwhile (one less) is exact.
    fn op_or_withdraw<R, E>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(R, bool), E>,
    ) -> Result<R, E> {
        let before = self.state.serial;
        let serial = self.next_op();
        match f(self) {
            Ok((out, true)) => {
                self.end_op(serial);
                Ok(out)
            }
            Ok((out, false)) => {
                self.state.serial = before;
                Ok(out)
            }
            Err(e) => {
                self.end_op(serial);
                Err(e)
            }
        }
    }
}

/// # Layered operations
///
/// For a store layered over this one (F2's hot store over its cold store). Each request of
/// the layered store uses exactly one serial number of this session, whatever the number of
/// calls it takes: a call that finds no record ([`Layered::Absent`],
/// [`LayeredRmw::Absent`]) or whose mark moved ([`Session::finish_at_mark`] returning
/// `false`) uses none, and the request ends with [`Session::finish_at_mark`], which uses one.
/// So commit points and [`FasterKv::continue_session`](crate::FasterKv::continue_session)
/// count the layered store's requests.
impl<K: Codec + ?Sized, V: Codec + ?Sized> Session<K, V> {
    /// Reads `key`, telling a deleted key ([`Layered::Deleted`]) from one this store has no
    /// record of ([`Layered::Absent`], with the mark that [`Session::finish_at_mark`] checks).
    ///
    /// # Errors
    /// As [`Session::read`].
    pub fn read_layered(&mut self, key: &K) -> Result<Layered<V::Owned>, OpError> {
        let mut pinned = self.pin_unthrottled();
        pinned.op_or_withdraw(|this| {
            this.state.stats.bump(Counter::Reads);
            let found = with_key(key, |key| this.run(&mut ReadOp, key))?;
            Ok(match found {
                Found::Deleted => (Layered::Deleted, true),
                Found::Absent(mark) => (Layered::Absent(ChainMark(mark)), false),
                found => match this.read_result(found)? {
                    Some(value) => (Layered::Value(value), true),
                    None => (Layered::Deleted, true),
                },
            })
        })
    }

    /// An RMW that runs only if the key has a record here (a tombstone counts: the update
    /// then starts from `None`); otherwise it stores nothing and returns the mark.
    ///
    /// # Errors
    /// As [`Session::rmw`].
    pub fn rmw_layered(
        &mut self,
        key: &K,
        mut rmw: impl Rmw<V>,
    ) -> Result<LayeredRmw<V::Owned>, OpError> {
        let mut pinned = self.pin();
        pinned.op_or_withdraw(|this| {
            let mut update = update::typed::<V>(&mut rmw);
            let mut op = RmwOp::new(&mut update);
            op.create = false;
            let done: RmwDone = with_key(key, |key| {
                this.state.stats.bump(Counter::Rmws);
                this.run(&mut op, key)
            })?;
            if let Some(mark) = op.absent {
                return Ok((LayeredRmw::Absent(ChainMark(mark)), false));
            }
            Ok((LayeredRmw::Done(this.rmw_result(done)?), true))
        })
    }

    /// Ends a request for a key that had no record here: stores a value only if the key's
    /// index entry still holds `mark` — no record of the key was written here since the mark
    /// was taken — and returns whether it did ([`MarkedWrite::Store`]; on `false` nothing is
    /// done and no serial number is used, so the request can look again); or copies a value
    /// into the read cache under the same condition, or does nothing (both always `true`).
    ///
    /// # Errors
    /// As [`Session::upsert`].
    pub fn finish_at_mark(
        &mut self,
        key: &K,
        write: MarkedWrite<'_, V>,
        mark: ChainMark,
    ) -> Result<bool, OpError> {
        let mut pinned = self.pin();
        pinned.op_or_withdraw(|this| {
            with_key(key, |key| match write {
                MarkedWrite::Store(value) => value.with_bytes(|bytes| {
                    let mut op = InsertAtMark {
                        mark: mark.0,
                        value: Some(bytes),
                    };
                    this.run(&mut op, key).map(|stored| (stored, stored))
                })?,
                MarkedWrite::Cache(value) => value.with_bytes(|bytes| {
                    let mut op = CacheAtMark {
                        mark: mark.0,
                        value: bytes,
                    };
                    this.run(&mut op, key).map(|_| (true, true))
                })?,
                MarkedWrite::Nothing => Ok((true, true)),
            })
        })
    }

    /// Deletes `key` by appending a tombstone even when this store has no record of it, so
    /// that the deletion hides the key's records in a lower layer. A key whose newest record
    /// here is a tombstone already is left as it is.
    ///
    /// # Errors
    /// As [`Session::delete`].
    pub fn delete_layered(&mut self, key: &K) -> Result<(), OpError> {
        let mut pinned = self.pin();
        pinned.op(|this| {
            this.state.stats.bump(Counter::Deletes);
            with_key(key, |key| this.run(&mut DeleteOp { force: true }, key)).map(drop)
        })
    }
}
