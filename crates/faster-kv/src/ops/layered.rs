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
use crate::stats::Counter;

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
            return Ok(Step::Retry);
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
                Append::Retry => Step::Retry,
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
    /// No record of the key: nothing was done.
    Absent(ChainMark),
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Session<K, V> {
    /// Reads `key`, telling a deleted key ([`Layered::Deleted`]) from one this store has no
    /// record of ([`Layered::Absent`], with the mark that [`Session::insert_at_mark`] checks).
    ///
    /// # Errors
    /// As [`Session::read`].
    pub fn read_layered(&mut self, key: &K) -> Result<Layered<V::Owned>, OpError> {
        let mut pinned = self.pin_unthrottled();
        pinned.op(|this| {
            this.state.stats.bump(Counter::Reads);
            let found = with_key(key, |key| this.run(&mut ReadOp, key))?;
            Ok(match found {
                Found::Deleted => Layered::Deleted,
                Found::Absent(mark) => Layered::Absent(ChainMark(mark)),
                found => match this.read_result(found)? {
                    Some(value) => Layered::Value(value),
                    None => Layered::Deleted,
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
        pinned.op(|this| {
            let mut update = update::typed::<V>(&mut rmw);
            let mut op = RmwOp::new(&mut update);
            op.create = false;
            let done: RmwDone = with_key(key, |key| {
                this.state.stats.bump(Counter::Rmws);
                this.run(&mut op, key)
            })?;
            if let Some(mark) = op.absent {
                return Ok(LayeredRmw::Absent(ChainMark(mark)));
            }
            Ok(LayeredRmw::Done(this.rmw_result(done)?))
        })
    }

    /// Stores `value` (`None`: a tombstone) under `key` only if the key's index entry still
    /// holds `mark`, that is if no record of the key was written here since the mark was
    /// taken; returns whether it did.
    ///
    /// # Errors
    /// As [`Session::upsert`].
    pub fn insert_at_mark(
        &mut self,
        key: &K,
        value: Option<&V>,
        mark: ChainMark,
    ) -> Result<bool, OpError> {
        let mut pinned = self.pin();
        pinned.op(|this| {
            with_key(key, |key| match value {
                Some(value) => value.with_bytes(|bytes| {
                    this.run(
                        &mut InsertAtMark {
                            mark: mark.0,
                            value: Some(bytes),
                        },
                        key,
                    )
                })?,
                None => this.run(
                    &mut InsertAtMark {
                        mark: mark.0,
                        value: None,
                    },
                    key,
                ),
            })
        })
    }

    /// Copies `value`, read from a lower layer, into this store's read cache as `key`'s value
    /// if the key's entry still holds `mark`; returns whether it did (never without a read
    /// cache). The copy is dropped by the first write of the key here, like every copy.
    ///
    /// # Errors
    /// Only if the key or value cannot be encoded.
    pub fn cache_at_mark(&mut self, key: &K, value: &V, mark: ChainMark) -> Result<bool, OpError> {
        let mut pinned = self.pin_unthrottled();
        pinned.op(|this| {
            with_key(key, |key| {
                value.with_bytes(|bytes| {
                    this.run(
                        &mut CacheAtMark {
                            mark: mark.0,
                            value: bytes,
                        },
                        key,
                    )
                })?
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
