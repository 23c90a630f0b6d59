//! Codecs: how keys and values become the bytes of a record.
//!
//! - Plain-old-data types (`u64`, `[u8; N]` for any `N`, `#[derive(Pod)]` structs — anything
//!   [`bytemuck::Pod`]) are stored as their bytes. Values of up to 8 bytes live in one atomic
//!   word and are updated in place atomically; larger ones are updated in place under a
//!   per-record sequence lock.
//! - `[u8]` and `str` of any length (up to what fits in a page), read back as `Vec<u8>` and
//!   `String`.
//! - Any serde type through [`Serde`] (postcard) or [`Cbor`] (self-describing CBOR).
//!
//! # Choosing a codec
//!
//! - **Plain-old-data** is the fastest: no encoding at all, and values are updated in place
//!   (counters with one atomic add). The layout is the type's bytes, so it cannot change.
//! - **[`Serde<T>`]** (postcard) is compact and fast for anything serde can write, but the
//!   bytes hold no field names: a stored value reads back only as the type that wrote it.
//!   Adding, removing or reordering a field makes old values fail to decode or, worse,
//!   decode to wrong data.
//! - **[`Cbor<T>`]** is larger and slower (every record carries its field names), and in
//!   exchange values survive a type that gains `#[serde(default)]` fields, loses fields or
//!   has its fields reordered. Choose it for values whose type will evolve.
//!
//! [`Expiring<V>`] wraps any value codec with an expiry: records whose expiry has passed
//! read as absent (`docs/ttl.md`).
//!
//! Every codec has a [`CodecDescriptor`] ([`Codec::descriptor`]), its identity when a store
//! is reopened.
//!
//! Plain-old-data is stored in the machine's byte order, and the store refuses to build on
//! big-endian targets, so files are always little-endian.

use std::borrow::Borrow;

mod bytes;
mod descriptor;
mod expiring;
mod pod;
mod serde;

pub use self::descriptor::{CodecDescriptor, CodecKind, ParseCodecKindError};
pub use self::expiring::{Expiring, now_millis};
pub use self::serde::{Cbor, Serde};

#[cfg(target_endian = "big")]
compile_error!(
    "faster-kv stores plain-old-data in little-endian layout; big-endian targets are not supported"
);

/// Why stored bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode a stored {what}: {reason}")]
pub struct CodecError {
    /// The type being decoded.
    pub what: &'static str,
    /// What was wrong.
    pub reason: String,
}

/// A type that can be a key or a value of a store.
///
/// Implemented for every [`bytemuck::Pod`] type, for `[u8]`, for `str`, and for [`Serde<T>`]
/// and [`Cbor<T>`]. A store is written and read back with the same codecs: the bytes carry no
/// type tag.
///
/// Plain-old-data is the fastest and is updated in place; [`Serde<T>`] (postcard) is compact
/// but reads back only as the exact type that wrote it; [`Cbor<T>`] is larger and slower and
/// survives a type that gains `#[serde(default)]` fields or has its fields reordered.
///
/// # Identity
///
/// [`Codec::descriptor`] is a codec's identity: its [`CodecKind`], the stored type's name,
/// fixed size and alignment. A store records the descriptors of its key and value codecs and
/// refuses to reopen with codecs whose descriptors differ from the recorded ones. The type
/// name ([`std::any::type_name`]) is part of the identity: renaming a type, or moving it to
/// another module, changes it, and so could a compiler whose `type_name` output differs;
/// [`FasterKvBuilder::check_type_names`](crate::FasterKvBuilder::check_type_names)`(false)`
/// accepts such a type once when its kind, size and alignment still match.
///
/// # Which types
///
/// `String` and `Vec<u8>` are not codecs; their borrowed forms are, and reads hand back the
/// owned ones:
///
/// ```
/// use faster_kv::FasterKv;
///
/// let store: FasterKv<str, [u8]> = FasterKv::builder().in_memory().open()?;
/// let mut session = store.session()?;
/// session.upsert("key", b"value".as_slice())?;
/// let value: Option<Vec<u8>> = session.read("key")?;
/// assert_eq!(value.as_deref(), Some(b"value".as_slice()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// ```compile_fail,E0277
/// use faster_kv::FasterKv;
///
/// // `String` is not a Codec: the key type is `str`.
/// let store: FasterKv<String, u64> = FasterKv::builder().in_memory().open()?;
/// # Ok::<(), faster_kv::OpenError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Codec`, so it cannot be a key or a value of a `FasterKv`",
    label = "not a `Codec`",
    note = "codecs are plain-old-data (`u64`, `[u8; N]`, `#[derive(Pod)]` structs), `str` (read back as `String`), `[u8]` (read back as `Vec<u8>`), and serde types wrapped in `faster_kv::Serde<T>` (postcard) or `faster_kv::Cbor<T>` (self-describing CBOR)",
    note = "for `String` use `str`; for `Vec<u8>` use `[u8]`"
)]
pub trait Codec: Send + Sync + 'static {
    /// What a read hands back: `Self` for plain-old-data, `Vec<u8>` for `[u8]`, `String` for
    /// `str`.
    type Owned: Borrow<Self> + Send + Sync + 'static;

    /// `Some(n)` when every value encodes to exactly `n` bytes.
    const FIXED_SIZE: Option<usize>;

    /// Calls `f` with the encoded bytes (without copying them when the type is already bytes).
    ///
    /// # Errors
    /// [`CodecError`] when the value cannot be encoded (a serde type whose `Serialize` fails).
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, CodecError>;

    /// Decodes bytes produced by [`Codec::with_bytes`].
    ///
    /// # Errors
    /// [`CodecError`] when the bytes are not a valid encoding (corrupt or foreign data).
    fn decode(bytes: &[u8]) -> Result<Self::Owned, CodecError>;

    /// The 64-bit hash the index uses for this key. The default hashes the encoded bytes with
    /// xxh3; 8-byte plain-old-data keys use one multiply and a shift instead.
    ///
    /// # Errors
    /// As [`Codec::with_bytes`].
    fn hash64(&self) -> Result<u64, CodecError> {
        self.with_bytes(twox_hash::XxHash3_64::oneshot)
    }

    /// The codec's identity (see [Identity](Codec#identity)). It takes no receiver, so that
    /// unsized codecs (`str`, `[u8]`) have one too.
    fn descriptor() -> CodecDescriptor;

    /// Whether encoded values may carry an expiry ([`Codec::expires_at`]). `false` for every
    /// codec but [`Expiring<V>`]; when it is `false` the store never asks, so values without
    /// an expiry pay nothing for the feature.
    const EXPIRES: bool = false;

    /// The expiry recorded in encoded value bytes, in milliseconds since the Unix epoch
    /// (`None`: never). Consulted only when [`Codec::EXPIRES`] is `true`.
    #[inline]
    fn expires_at(bytes: &[u8]) -> Option<u64> {
        let _ = bytes;
        None
    }
}

/// Whether the encoded value `bytes` of a `V` has expired: the store then treats its record
/// as a tombstone (rule X1 of `docs/ttl.md`). Always `false` for codecs without an expiry.
#[inline(always)]
pub fn expired<V: Codec + ?Sized>(bytes: &[u8]) -> bool {
    V::EXPIRES && V::expires_at(bytes).is_some_and(|at| at <= now_millis())
}

/// Mixes an 8-byte key into a hash: one multiply by an odd constant, then the high half folded
/// into the low half, so that both the bucket (low bits) and the tag (bits 48–61) depend on
/// every bit of the key.
#[inline]
pub fn mix64(key: u64) -> u64 {
    let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 32)
}

/// Whether values of `V` live in one atomic word: fixed-size values of at most 8 bytes that
/// carry no expiry (the paths that read a word never look for one).
#[inline]
pub(crate) const fn is_word<V: Codec + ?Sized>() -> bool {
    matches!(V::FIXED_SIZE, Some(n) if n <= 8) && !V::EXPIRES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_spreads_neighbouring_keys_over_buckets_and_tags() {
        let mut buckets = std::collections::HashSet::new();
        let mut tags = std::collections::HashSet::new();
        for k in 0..1024u64 {
            let h = mix64(k);
            buckets.insert(h & 1023);
            tags.insert((h >> 48) & 0x3fff);
        }
        assert!(buckets.len() > 600, "low bits spread: {}", buckets.len());
        assert!(tags.len() > 900, "tag bits spread: {}", tags.len());
    }
}
