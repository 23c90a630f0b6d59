//! A store's values outlive a change of their type when the codec is self-describing:
//! written as CBOR, checkpointed, and recovered with a type that gained a defaulted field,
//! they read back; written through postcard, the same change breaks every read.
//!
//! Each test declares the two generations of the value type as `Value` in two blocks of one
//! function, so that both have the same type name, as one type has across two builds of a
//! program: their codec descriptors are equal, and only the bytes decide whether the old
//! records can be read.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::Path;

use faster_kv::{Cbor, Codec, FasterKv, FasterKvBuilder, OpError, OpErrorKind, Serde};
use serde::{Deserialize, Serialize};

/// Keys written in the first generation: far more records than the four pages in memory.
const KEYS: u32 = 3_000;

fn builder(dir: &Path) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir)
        .page_size_bits(12)
        .memory_budget(4 << 12)
        .segment_size(1 << 16)
        .index_buckets(1 << 10)
}

/// Opens a fresh store in `dir`, writes `value(k)` for every key, takes a checkpoint and
/// closes the store.
fn write_and_checkpoint<V: Codec>(dir: &Path, value: impl Fn(u32) -> V) {
    let store: FasterKv<u32, V> = builder(dir).open().unwrap();
    let mut session = store.session().unwrap();
    for k in 0..KEYS {
        session.upsert(&k, &value(k)).unwrap();
    }
    drop(session);
    store.checkpoint().unwrap().wait().unwrap();
}

/// Reopens the store in `dir` from its checkpoint with value type `V`.
fn recover<V: Codec>(dir: &Path) -> FasterKv<u32, V> {
    let (store, recovered) = builder(dir).recover::<u32, V>(None).unwrap();
    assert!(recovered.skipped.is_empty(), "{:?}", recovered.skipped);
    let head = store.regions().head;
    assert!(
        head.raw() > 100_000,
        "most records are on the device: {head:?}"
    );
    store
}

#[test]
fn cbor_values_read_back_after_their_type_gains_a_defaulted_field() {
    let dir = tempfile::tempdir().unwrap();
    let written_with = {
        #[derive(Serialize, Deserialize)]
        struct Value {
            a: u32,
        }
        write_and_checkpoint(dir.path(), |k| Cbor(Value { a: k * 7 }));
        Cbor::<Value>::descriptor()
    };

    let read_with = {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Value {
            a: u32,
            #[serde(default)]
            b: String,
        }
        let store: FasterKv<u32, Cbor<Value>> = recover(dir.path());
        let mut session = store.session().unwrap();
        let before = store.stats().device_reads;
        for k in 0..KEYS {
            let value = session.read(&k).unwrap().map(|v| v.0);
            let expected = Value {
                a: k * 7,
                b: String::new(),
            };
            assert_eq!(value, Some(expected), "key {k}");
        }
        assert!(
            store.stats().device_reads - before > 1_000,
            "old records came back from the device"
        );

        // Old and new records live side by side: an update through the new type keeps the
        // old field and fills the new one.
        let updated = session
            .rmw(&5, |old: Option<&Cbor<Value>>| {
                let a = old.map_or(0, |v| v.0.a);
                Cbor(Value {
                    a: a + 1,
                    b: format!("was {a}"),
                })
            })
            .unwrap()
            .map(|v| v.0);
        let expected = Value {
            a: 36,
            b: "was 35".into(),
        };
        assert_eq!(updated, Some(expected));
        assert_eq!(
            session.read(&6).unwrap().map(|v| v.0.b),
            Some(String::new())
        );
        Cbor::<Value>::descriptor()
    };

    assert_eq!(written_with, read_with, "one type name, one descriptor");
}

#[test]
fn postcard_values_fail_to_decode_after_their_type_gains_a_defaulted_field() {
    let dir = tempfile::tempdir().unwrap();
    let written_with = {
        #[derive(Serialize, Deserialize)]
        struct Value {
            a: u32,
        }
        write_and_checkpoint(dir.path(), |k| Serde(Value { a: k * 7 }));
        Serde::<Value>::descriptor()
    };

    let read_with = {
        #[derive(Debug, Serialize, Deserialize)]
        struct Value {
            a: u32,
            #[serde(default)]
            b: String,
        }
        let store: FasterKv<u32, Serde<Value>> = recover(dir.path());
        let mut session = store.session().unwrap();
        // Postcard has no field names: it decodes `a`, then looks for the length of `b` past
        // the end of the stored bytes. `#[serde(default)]` does not apply to a sequence.
        for k in 0..KEYS {
            match session.read(&k).map_err(OpError::into_kind) {
                Err(OpErrorKind::Codec(e)) => {
                    assert!(e.what.ends_with("Value"), "{e}");
                }
                other => panic!("key {k}: expected a codec error, got {other:?}"),
            }
        }
        Serde::<Value>::descriptor()
    };

    assert_eq!(written_with, read_with, "one type name, one descriptor");
}
