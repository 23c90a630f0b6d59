//! The serde codecs: [`Serde<T>`] stores a serde type through postcard, [`Cbor<T>`] through
//! CBOR.
//!
//! Postcard writes fields in declaration order with no names or tags, so it is compact and
//! fast, but the bytes mean something only to the exact type that wrote them. CBOR (RFC 8949,
//! through ciborium) writes structs as maps keyed by field names, so a value outlives the
//! changes serde's derive tolerates when reading a map: a field added with
//! `#[serde(default)]`, fields reordered, a field removed.

use super::{Codec, CodecDescriptor, CodecError, CodecKind};

/// A serde type stored through postcard: `FasterKv<str, Serde<MyValue>>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(transparent)]
pub struct Serde<T>(pub T);

impl<T> Codec for Serde<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    type Owned = Serde<T>;
    const FIXED_SIZE: Option<usize> = None;

    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, CodecError> {
        let bytes = postcard::to_allocvec(&self.0).map_err(|e| CodecError {
            what: std::any::type_name::<T>(),
            reason: e.to_string(),
        })?;
        Ok(f(&bytes))
    }

    fn decode(bytes: &[u8]) -> Result<Serde<T>, CodecError> {
        postcard::from_bytes(bytes)
            .map(Serde)
            .map_err(|e| CodecError {
                what: std::any::type_name::<T>(),
                reason: e.to_string(),
            })
    }

    fn descriptor() -> CodecDescriptor {
        CodecDescriptor {
            kind: CodecKind::Postcard,
            type_name: std::any::type_name::<T>(),
            fixed_size: None,
            align: 1,
        }
    }
}

impl<T> From<T> for Serde<T> {
    fn from(value: T) -> Self {
        Serde(value)
    }
}

/// A serde type stored as self-describing CBOR: `FasterKv<str, Cbor<MyValue>>`.
///
/// Structs are maps keyed by field names, so stored values read back after the type gains a
/// field marked `#[serde(default)]` (the field takes its default), has its fields reordered,
/// or loses a field. Such a change must keep the type's name, which is part of the codec's
/// [identity](Codec#identity). The price is size (every field's name is in every record) and
/// time (the names are written and matched on each access), against [`Serde<T>`].
///
/// As a key, the encoding is the key's identity: a changed type encodes the same key to other
/// bytes, which no longer find the old records. Schema changes are for values.
///
/// ```
/// use faster_kv::{Cbor, FasterKv};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Profile {
///     name: String,
///     #[serde(default)]
///     visits: u32,
/// }
///
/// let store: FasterKv<u64, Cbor<Profile>> = FasterKv::builder().in_memory().open()?;
/// let mut session = store.session()?;
/// let ada = Profile { name: "Ada".into(), visits: 3 };
/// session.upsert(&1, &Cbor(ada))?;
/// assert_eq!(session.read(&1)?.map(|p| p.0.visits), Some(3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(transparent)]
pub struct Cbor<T>(pub T);

impl<T> Codec for Cbor<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    type Owned = Cbor<T>;
    const FIXED_SIZE: Option<usize> = None;

    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, CodecError> {
        let mut bytes = Vec::new();
        ciborium::into_writer(&self.0, &mut bytes).map_err(|e| CodecError {
            what: std::any::type_name::<T>(),
            reason: e.to_string(),
        })?;
        Ok(f(&bytes))
    }

    fn decode(bytes: &[u8]) -> Result<Cbor<T>, CodecError> {
        let mut rest = bytes;
        let value = ciborium::from_reader(&mut rest).map_err(|e| CodecError {
            what: std::any::type_name::<T>(),
            reason: e.to_string(),
        })?;
        // A record holds exactly one encoded value; bytes after it are not ours.
        if !rest.is_empty() {
            return Err(CodecError {
                what: std::any::type_name::<T>(),
                reason: format!("{} bytes after the CBOR value", rest.len()),
            });
        }
        Ok(Cbor(value))
    }

    fn descriptor() -> CodecDescriptor {
        CodecDescriptor {
            kind: CodecKind::Cbor,
            type_name: std::any::type_name::<T>(),
            fixed_size: None,
            align: 1,
        }
    }
}

impl<T> From<T> for Cbor<T> {
    fn from(value: T) -> Self {
        Cbor(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_values_round_trip_and_reject_garbage() {
        let v = Serde((String::from("x"), 7u32, vec![1u8, 2]));
        let back = v
            .with_bytes(Serde::<(String, u32, Vec<u8>)>::decode)
            .unwrap()
            .unwrap();
        assert_eq!(back, v);
        assert!(Serde::<(String, u32)>::decode(&[0xff; 3]).is_err());
    }

    #[test]
    fn serde_descriptors_name_the_wrapped_type() {
        let d = Serde::<Vec<u32>>::descriptor();
        assert_eq!(d.kind, CodecKind::Postcard);
        assert_eq!(d.type_name, std::any::type_name::<Vec<u32>>());
        assert_eq!((d.fixed_size, d.align), (None, 1));
        assert_ne!(d, Serde::<Vec<u64>>::descriptor());
        let c = Cbor::<Vec<u32>>::descriptor();
        assert_eq!(c.kind, CodecKind::Cbor);
        assert_eq!(c.type_name, d.type_name);
        assert_ne!(c, d, "same type, other encoding");
        assert_eq!(
            Cbor::<u16>::descriptor().to_string(),
            "u16 (serde-cbor, variable size, align 1)"
        );
    }

    mod v1 {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        pub(super) struct Point {
            pub(super) x: i32,
            pub(super) y: i32,
            pub(super) label: String,
        }
    }

    mod v2 {
        /// `v1::Point` with its fields reordered, `label` removed and `z` added.
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        pub(super) struct Point {
            pub(super) y: i32,
            #[serde(default)]
            pub(super) z: i32,
            pub(super) x: i32,
        }
    }

    fn encode<C: Codec>(value: &C) -> Vec<u8> {
        value.with_bytes(<[u8]>::to_vec).unwrap()
    }

    #[test]
    fn cbor_values_survive_reordered_added_and_removed_fields() {
        let old = v1::Point {
            x: -3,
            y: 40_000,
            label: "far".into(),
        };
        let bytes = encode(&Cbor(old));
        let new = Cbor::<v2::Point>::decode(&bytes).unwrap();
        assert_eq!(
            new.0,
            v2::Point {
                y: 40_000,
                z: 0,
                x: -3
            }
        );
    }

    #[test]
    fn postcard_values_do_not_survive_the_same_change() {
        let old = v1::Point {
            x: -3,
            y: 40_000,
            label: "far".into(),
        };
        let bytes = encode(&Serde(old));
        // Postcard reads `y` from `x`'s bytes, `z` from `y`'s and `x` from the label's length
        // (3, zigzag-decoded to -2), and leaves the label's text unread: wrong data, with no
        // error.
        let new = Serde::<v2::Point>::decode(&bytes).unwrap();
        assert_eq!(
            new.0,
            v2::Point {
                y: -3,
                z: 40_000,
                x: -2
            }
        );
    }

    #[test]
    fn cbor_rejects_garbage_and_trailing_bytes() {
        assert!(Cbor::<(String, u32)>::decode(&[0xff; 3]).is_err());
        assert!(Cbor::<u32>::decode(&[]).is_err());
        let mut bytes = encode(&Cbor(7u32));
        assert_eq!(Cbor::<u32>::decode(&bytes).unwrap().0, 7);
        bytes.push(0);
        let err = Cbor::<u32>::decode(&bytes).unwrap_err();
        assert_eq!(err.reason, "1 bytes after the CBOR value");
    }

    #[test]
    fn cbor_is_larger_than_postcard_by_the_field_names() {
        let point = v1::Point {
            x: 1,
            y: 2,
            label: String::new(),
        };
        let postcard = encode(&Serde(point));
        let point = v1::Point {
            x: 1,
            y: 2,
            label: String::new(),
        };
        let cbor = encode(&Cbor(point));
        // Postcard: three one-byte fields. CBOR: a map header, then "x", "y", "label" as text
        // (one header byte each) and their one-byte values.
        assert_eq!(postcard.len(), 3);
        assert_eq!(cbor.len(), 1 + (1 + 1) + (1 + 1) + (1 + 5) + 1 + 1 + 1);
    }
}
