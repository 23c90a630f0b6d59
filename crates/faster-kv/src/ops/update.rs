//! The updates an RMW applies: the user's [`Rmw`], and the fixed updates behind
//! [`Session::insert_if_absent`](crate::Session::insert_if_absent),
//! [`Session::compare_and_swap`](crate::Session::compare_and_swap) and
//! [`Session::add`](crate::Session::add) ([`super::conditional`]), which may decline to write.

use std::borrow::Borrow;

use crate::codec::Codec;
use crate::error::OpError;

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

/// The update of an RMW on encoded values: given the current value (`None` when the key is
/// absent or deleted), write the new value into the buffer and say whether to store it.
/// It may be called more than once (a lost compare-and-swap calls it again with the newer
/// value); the last call's result is the one stored.
///
/// Operations are generic over it, so that a fixed update is inlined into the operation;
/// typed updates of [`Session::rmw`](crate::Session::rmw) are closures.
pub(crate) trait Update {
    /// Computes the new value from the current one.
    fn apply(&mut self, current: Option<&[u8]>, out: &mut Vec<u8>) -> Result<bool, OpError>;

    /// `Some(delta)` when the update adds `delta` to a little-endian `u64`, wrapping: then an
    /// 8-byte word value may be updated with one atomic add instead of a compare-and-swap
    /// loop around [`Update::apply`].
    fn word_add(&self) -> Option<u64> {
        None
    }
}

impl<F: FnMut(Option<&[u8]>, &mut Vec<u8>) -> Result<bool, OpError>> Update for F {
    fn apply(&mut self, current: Option<&[u8]>, out: &mut Vec<u8>) -> Result<bool, OpError> {
        self(current, out)
    }
}

/// Wraps a typed [`Rmw`]: decode, apply, encode.
pub(crate) fn typed<'a, V: Codec + ?Sized>(
    rmw: &'a mut (impl Rmw<V> + ?Sized),
) -> impl FnMut(Option<&[u8]>, &mut Vec<u8>) -> Result<bool, OpError> + 'a {
    move |current, out| {
        let decoded = current.map(V::decode).transpose()?;
        match rmw.apply(decoded.as_ref().map(Borrow::borrow)) {
            None => Ok(false),
            Some(new) => {
                out.clear();
                new.borrow()
                    .with_bytes(|bytes| out.extend_from_slice(bytes))?;
                Ok(true)
            }
        }
    }
}

/// Stores `value` only when there is no current value.
pub(crate) fn insert_if_absent(
    value: &[u8],
) -> impl FnMut(Option<&[u8]>, &mut Vec<u8>) -> Result<bool, OpError> + '_ {
    move |current, out| {
        if current.is_some() {
            return Ok(false);
        }
        out.clear();
        out.extend_from_slice(value);
        Ok(true)
    }
}

/// Stores `new` when the current value's bytes are `expected` (`None`: absent).
pub(crate) fn compare_and_swap<'a>(
    expected: Option<&'a [u8]>,
    new: &'a [u8],
) -> impl FnMut(Option<&[u8]>, &mut Vec<u8>) -> Result<bool, OpError> + 'a {
    move |current, out| {
        if current != expected {
            return Ok(false);
        }
        out.clear();
        out.extend_from_slice(new);
        Ok(true)
    }
}

/// Adds `delta` to a little-endian `u64` (absent counts as 0), wrapping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Add(pub(crate) u64);

impl Update for Add {
    fn apply(&mut self, current: Option<&[u8]>, out: &mut Vec<u8>) -> Result<bool, OpError> {
        let old = match current {
            None => 0,
            Some(bytes) => u64::from_le_bytes(bytes.try_into().map_err(|_| {
                OpError::from(crate::codec::CodecError {
                    what: "u64 counter",
                    reason: format!("{} bytes", bytes.len()),
                })
            })?),
        };
        out.clear();
        out.extend_from_slice(&old.wrapping_add(self.0).to_le_bytes());
        Ok(true)
    }

    fn word_add(&self) -> Option<u64> {
        Some(self.0)
    }
}
