//! [`F2Session`]: a thread's operations on an F2 store. Writes go to the hot store; reads try
//! the hot store (its read cache included), then the cold store; an RMW of a key the hot
//! store has no record of computes from the cold value and installs the result in the hot
//! store only if no hot record of the key appeared meanwhile (rule HC7).

use std::borrow::Borrow;
use std::sync::Arc;

use faster_kv::{Codec, Layered, LayeredRmw, MarkedWrite, Rmw, Serial, Session, SessionId};

use crate::cold::{Chunk, ColdRead};
use crate::error::F2Error;
use crate::store::Inner;

/// A session of an F2 store: `Send`, used from one thread at a time. Its serial numbers and
/// commit points are those of its hot-store session (CPR, rule HC6).
pub struct F2Session<K: Codec + ?Sized, V: Codec + ?Sized> {
    hot: Session<K, V>,
    cold: Session<u64, Chunk>,
    inner: Arc<Inner<K, V>>,
}

/// An [`Rmw`] borrowed, so that one update can run against the hot store and then the cold
/// value.
struct Borrowed<'a, R>(&'a mut R);

impl<V: Codec + ?Sized, R: Rmw<V>> Rmw<V> for Borrowed<'_, R> {
    fn apply(&mut self, current: Option<&V>) -> Option<V::Owned> {
        self.0.apply(current)
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> F2Session<K, V> {
    pub(crate) fn new(inner: Arc<Inner<K, V>>, hot: Session<K, V>) -> Result<Self, F2Error> {
        let cold = inner.cold.reader()?;
        Ok(Self { hot, cold, inner })
    }

    /// The session's id (kept by checkpoints, for [`F2Kv::continue_session`](crate::F2Kv::continue_session)).
    pub fn id(&self) -> SessionId {
        self.hot.id()
    }

    /// The serial number of the session's last operation.
    pub fn serial(&self) -> Serial {
        self.hot.serial()
    }

    /// The cold store's value of `key` (`None`: absent or deleted there). An error is also a
    /// `warn` event (the hot store reports its own).
    fn cold_value(&mut self, key: &K) -> Result<Option<V::Owned>, F2Error> {
        let value = self.cold_value_inner(key);
        if let Err(error) = &value {
            tracing::warn!(%error, "operation failed");
        }
        value
    }

    fn cold_value_inner(&mut self, key: &K) -> Result<Option<V::Owned>, F2Error> {
        let hash = key.hash64()?;
        let found = key.with_bytes(|bytes| self.inner.cold.read(&mut self.cold, bytes, hash))??;
        Ok(match found {
            // An expired value is as absent in the cold store as in the hot one.
            ColdRead::Value(bytes) if faster_kv::expired::<V>(&bytes) => None,
            ColdRead::Value(bytes) => Some(V::decode(&bytes)?),
            ColdRead::Deleted | ColdRead::Absent => None,
        })
    }

    /// The value of `key`: from the hot store, or else from the cold store (and then copied
    /// into the hot store's read cache).
    ///
    /// # Errors
    /// Either store's errors; [`F2Error::Corrupt`] for a damaged cold record.
    pub fn read(&mut self, key: &K) -> Result<Option<V::Owned>, F2Error> {
        match self.hot.read_layered(key).map_err(F2Error::hot)? {
            Layered::Value(value) => Ok(Some(value)),
            Layered::Deleted => Ok(None),
            Layered::Absent(mark) => {
                let value = self.cold_value(key)?;
                // Best effort: a hot write since the mark keeps the copy out. Either way the
                // read ends here, with its serial number.
                let write = value
                    .as_ref()
                    .map_or(MarkedWrite::Nothing, |v| MarkedWrite::Cache(v.borrow()));
                self.hot
                    .finish_at_mark(key, write, mark)
                    .map_err(F2Error::hot)?;
                Ok(value)
            }
        }
    }

    /// Stores `value` under `key` (in the hot store).
    ///
    /// # Errors
    /// The hot store's errors.
    pub fn upsert(&mut self, key: &K, value: &V) -> Result<(), F2Error> {
        self.hot.upsert(key, value).map_err(F2Error::hot)
    }

    /// Deletes `key`: a hot tombstone, which hides the key's cold records and later migrates
    /// as a cold tombstone.
    ///
    /// # Errors
    /// The hot store's errors.
    pub fn delete(&mut self, key: &K) -> Result<(), F2Error> {
        self.hot.delete_layered(key).map_err(F2Error::hot)
    }

    /// Read-modify-write: stores `rmw.apply(current)` and returns it, or `None` when `apply`
    /// declined to store anything. `apply` may run more than once.
    ///
    /// # Errors
    /// Either store's errors.
    pub fn rmw(&mut self, key: &K, mut rmw: impl Rmw<V>) -> Result<Option<V::Owned>, F2Error> {
        loop {
            let mark = match self
                .hot
                .rmw_layered(key, Borrowed(&mut rmw))
                .map_err(F2Error::hot)?
            {
                LayeredRmw::Done(stored) => return Ok(stored),
                LayeredRmw::Absent(mark) => mark,
            };
            let cold = self.cold_value(key)?;
            let Some(new) = rmw.apply(cold.as_ref().map(Borrow::borrow)) else {
                self.hot
                    .finish_at_mark(key, MarkedWrite::Nothing, mark)
                    .map_err(F2Error::hot)?;
                return Ok(None);
            };
            if self
                .hot
                .finish_at_mark(key, MarkedWrite::Store(new.borrow()), mark)
                .map_err(F2Error::hot)?
            {
                return Ok(Some(new));
            }
            // A hot record of the key appeared meanwhile: run again on it.
        }
    }

    /// Replaces the value of `key` by `new` if it is `expected` (`None`: absent or
    /// deleted); returns whether it did.
    ///
    /// # Errors
    /// Either store's errors.
    pub fn compare_and_swap(
        &mut self,
        key: &K,
        expected: Option<&V>,
        new: &V,
    ) -> Result<bool, F2Error> {
        let expected = expected.map(|v| v.with_bytes(<[u8]>::to_vec)).transpose()?;
        let mut cas = Cas {
            expected,
            new: new.with_bytes(<[u8]>::to_vec)?,
            wrote: false,
        };
        self.rmw(key, &mut cas)?;
        Ok(cas.wrote)
    }

    /// Adds `delta` to the counter `key` (absent counts as 0, wrapping); returns the new
    /// count.
    ///
    /// # Errors
    /// Either store's errors.
    pub fn add(&mut self, key: &K, delta: u64) -> Result<u64, F2Error>
    where
        V: Codec<Owned = u64>,
    {
        let stored = self.rmw(key, |current: Option<&V>| {
            current
                .and_then(|v| v.with_bytes(V::decode).ok().and_then(Result::ok))
                .unwrap_or(0)
                .wrapping_add(delta)
        })?;
        Ok(stored.unwrap_or(0))
    }
}

/// The update of [`F2Session::compare_and_swap`], on encoded values.
struct Cas {
    expected: Option<Vec<u8>>,
    new: Vec<u8>,
    wrote: bool,
}

impl<V: Codec + ?Sized> Rmw<V> for &mut Cas {
    fn apply(&mut self, current: Option<&V>) -> Option<V::Owned> {
        let current = current.and_then(|v| v.with_bytes(<[u8]>::to_vec).ok());
        // The last run is the one stored (an RMW may run again on a newer value).
        self.wrote = current == self.expected && V::decode(&self.new).is_ok();
        if self.wrote {
            V::decode(&self.new).ok()
        } else {
            None
        }
    }
}
