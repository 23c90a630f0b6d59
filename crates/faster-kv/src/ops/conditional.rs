//! Conditional inserts, compare-and-swap and counters: RMWs ([`super::rmw`]) with a fixed
//! update ([`super::update`]) that may decline to write.

use std::borrow::Borrow;

use super::attempt::with_key;
use super::update::{Add, compare_and_swap, insert_if_absent};
use crate::codec::Codec;
use crate::error::OpError;
use crate::session::Session;
use crate::session::pinned::Pinned;

impl<K: Codec + ?Sized, V: Codec + ?Sized> Pinned<'_, K, V> {
    /// See [`Session::insert_if_absent`].
    ///
    /// # Errors
    /// As [`Session::rmw`].
    pub fn insert_if_absent(&mut self, key: &K, value: &V) -> Result<bool, OpError> {
        self.op(|this| {
            value.with_bytes(|value| {
                let mut update = insert_if_absent(value);
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
                let mut update = compare_and_swap(expected.as_deref(), new);
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
            let mut update = Add(delta);
            with_key(key, |key| this.rmw_bytes(key, &mut update))?;
            let owned: V::Owned = V::decode(&this.state.value)?;
            Ok(*owned.borrow())
        })
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Session<K, V> {
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
