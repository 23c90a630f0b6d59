//! Values with an expiry: [`Expiring<V>`] stores any value codec together with the moment it
//! stops existing.
//!
//! The encoding is the expiry, a little-endian `u64` of milliseconds since the Unix epoch (0:
//! never), followed by `V`'s own encoding. The store reads the first eight bytes through
//! [`Codec::expires_at`] wherever it decides whether a record holds a value: a record whose
//! expiry has passed reads as absent, is skipped by the live-record scan, is treated as a
//! tombstone by compaction, and an RMW of it starts from nothing (see `docs/ttl.md`).

use std::borrow::Borrow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Codec, CodecDescriptor, CodecError, CodecKind};

/// The length of the expiry that precedes the value.
const EXPIRY_BYTES: usize = 8;

/// Values shorter than this are encoded on the stack; longer ones in one allocation.
const STACK_BYTES: usize = 120;

/// A value of `V` with an optional expiry, in milliseconds since the Unix epoch.
///
/// Use it as a store's value type to give records a time to live. Reads, scans and
/// conditional operations treat a value whose expiry has passed as absent, and compaction
/// reclaims it; the expiry is part of the record, so it survives checkpoints and recovery.
///
/// ```
/// use std::time::Duration;
/// use faster_kv::{Expiring, FasterKv};
///
/// let store: FasterKv<str, Expiring<[u8]>> = FasterKv::builder().in_memory().open()?;
/// let mut session = store.session()?;
/// session.upsert("session:1", &Expiring::after(b"token".to_vec(), Duration::from_secs(60)))?;
/// session.upsert("gone", &Expiring::at(b"x".to_vec(), 1))?; // expired in 1970
/// let live = session.read("session:1")?.expect("written a moment ago");
/// assert_eq!(live.value, b"token");
/// assert!(live.remaining().is_some_and(|left| left <= Duration::from_secs(60)));
/// assert!(session.read("gone")?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Expiring<V: Codec + ?Sized> {
    /// The value.
    pub value: V::Owned,
    /// When the value stops existing, in milliseconds since the Unix epoch; `None`: never.
    pub expires_at: Option<u64>,
}

impl<V: Codec + ?Sized> Expiring<V> {
    /// A value that never expires.
    pub fn never(value: V::Owned) -> Self {
        Self {
            value,
            expires_at: None,
        }
    }

    /// A value that expires at `unix_millis` (milliseconds since the Unix epoch).
    pub fn at(value: V::Owned, unix_millis: u64) -> Self {
        Self {
            value,
            expires_at: Some(unix_millis),
        }
    }

    /// A value that expires `ttl` from now.
    pub fn after(value: V::Owned, ttl: Duration) -> Self {
        let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Self::at(value, now_millis().saturating_add(ttl))
    }

    /// Whether the expiry has passed.
    pub fn is_expired(&self) -> bool {
        self.expires_at.is_some_and(|at| at <= now_millis())
    }

    /// The time left before the value expires: `None` when it never does, zero when it has.
    pub fn remaining(&self) -> Option<Duration> {
        self.expires_at
            .map(|at| Duration::from_millis(at.saturating_sub(now_millis())))
    }
}

impl<V: Codec + ?Sized> Clone for Expiring<V>
where
    V::Owned: Clone,
{
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            expires_at: self.expires_at,
        }
    }
}

impl<V: Codec + ?Sized> fmt::Debug for Expiring<V>
where
    V::Owned: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expiring")
            .field("value", &self.value)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl<V: Codec + ?Sized> PartialEq for Expiring<V>
where
    V::Owned: PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value && self.expires_at == other.expires_at
    }
}

impl<V: Codec + ?Sized> Eq for Expiring<V> where V::Owned: Eq {}

/// Milliseconds since the Unix epoch, by the system clock (0 if the clock is before 1970).
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The stored form of an expiry: 0 for never; an expiry of 0 itself (the epoch) becomes 1,
/// which has passed just as surely.
fn stored(expires_at: Option<u64>) -> [u8; EXPIRY_BYTES] {
    expires_at.map_or(0, |at| at.max(1)).to_le_bytes()
}

impl<V: Codec + ?Sized> Codec for Expiring<V> {
    type Owned = Self;
    const FIXED_SIZE: Option<usize> = match V::FIXED_SIZE {
        Some(n) => Some(n + EXPIRY_BYTES),
        None => None,
    };
    const EXPIRES: bool = true;

    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, CodecError> {
        let expiry = stored(self.expires_at);
        self.value.borrow().with_bytes(|value| {
            let len = EXPIRY_BYTES + value.len();
            if len <= STACK_BYTES {
                let mut buffer = [0u8; STACK_BYTES];
                buffer[..EXPIRY_BYTES].copy_from_slice(&expiry);
                buffer[EXPIRY_BYTES..len].copy_from_slice(value);
                f(&buffer[..len])
            } else {
                let mut buffer = Vec::with_capacity(len);
                buffer.extend_from_slice(&expiry);
                buffer.extend_from_slice(value);
                f(&buffer)
            }
        })
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let (Some(head), Some(rest)) = (bytes.get(..EXPIRY_BYTES), bytes.get(EXPIRY_BYTES..))
        else {
            return Err(CodecError {
                what: std::any::type_name::<Self>(),
                reason: format!("{} bytes, shorter than the 8-byte expiry", bytes.len()),
            });
        };
        Ok(Self {
            value: V::decode(rest)?,
            expires_at: expiry_of(head),
        })
    }

    #[inline]
    fn expires_at(bytes: &[u8]) -> Option<u64> {
        bytes.get(..EXPIRY_BYTES).and_then(expiry_of)
    }

    fn descriptor() -> CodecDescriptor {
        let inner = V::descriptor();
        CodecDescriptor {
            kind: CodecKind::Expiring,
            type_name: std::any::type_name::<Self>(),
            fixed_size: <Self as Codec>::FIXED_SIZE,
            align: inner.align,
        }
    }
}

/// The expiry in the first eight bytes, `None` for the stored 0.
#[inline]
fn expiry_of(head: &[u8]) -> Option<u64> {
    let word = <[u8; EXPIRY_BYTES]>::try_from(head).ok()?;
    Some(u64::from_le_bytes(word)).filter(|&at| at != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded<V: Codec + ?Sized>(value: &Expiring<V>) -> Vec<u8> {
        value.with_bytes(<[u8]>::to_vec).unwrap()
    }

    #[test]
    fn the_expiry_precedes_the_value_and_reads_back() {
        let value = Expiring::<[u8]>::at(b"abc".to_vec(), 0x0102_0304);
        let bytes = encoded(&value);
        assert_eq!(bytes, [4, 3, 2, 1, 0, 0, 0, 0, b'a', b'b', b'c']);
        assert_eq!(<Expiring<[u8]>>::expires_at(&bytes), Some(0x0102_0304));
        assert_eq!(<Expiring<[u8]>>::decode(&bytes).unwrap(), value);
        let never = Expiring::<[u8]>::never(vec![7; 500]);
        let bytes = encoded(&never);
        assert_eq!(bytes.len(), 508);
        assert_eq!(<Expiring<[u8]>>::expires_at(&bytes), None);
        assert_eq!(<Expiring<[u8]>>::decode(&bytes).unwrap(), never);
    }

    #[test]
    fn an_expiry_at_the_epoch_is_stored_as_passed_not_as_never() {
        let bytes = encoded(&Expiring::<u64>::at(5, 0));
        assert_eq!(<Expiring<u64>>::expires_at(&bytes), Some(1));
        assert!(<Expiring<u64>>::decode(&bytes).unwrap().is_expired());
    }

    #[test]
    fn short_bytes_are_an_error_not_a_panic() {
        for len in 0..8 {
            assert!(<Expiring<[u8]>>::decode(&vec![1; len]).is_err());
            assert_eq!(<Expiring<[u8]>>::expires_at(&vec![1; len]), None);
        }
        // The inner codec still checks its own bytes.
        assert!(<Expiring<u64>>::decode(&[0; 12]).is_err());
    }

    #[test]
    fn fixed_sizes_grow_by_the_expiry_and_the_kind_is_its_own() {
        assert_eq!(<Expiring<u64> as Codec>::FIXED_SIZE, Some(16));
        assert_eq!(<Expiring<[u8]> as Codec>::FIXED_SIZE, None);
        let descriptor = <Expiring<[u8]>>::descriptor();
        assert_eq!(descriptor.kind, CodecKind::Expiring);
        assert_ne!(descriptor, <[u8]>::descriptor());
        assert_ne!(
            <Expiring<u64>>::descriptor().type_name,
            <Expiring<[u8; 8]>>::descriptor().type_name
        );
    }

    #[test]
    fn remaining_time_counts_down_and_stops_at_zero() {
        let later = Expiring::<u64>::after(1, Duration::from_secs(3600));
        let left = later.remaining().unwrap();
        assert!(left > Duration::from_secs(3590) && left <= Duration::from_secs(3600));
        assert!(!later.is_expired());
        let past = Expiring::<u64>::at(1, 1000);
        assert_eq!(past.remaining(), Some(Duration::ZERO));
        assert!(past.is_expired());
        assert_eq!(Expiring::<u64>::never(1).remaining(), None);
    }
}
