//! Opening a store with byte codecs, as tools do: a store written with its program's types
//! reads and writes byte for byte as `[u8; N]` and `[u8]`, its manifest kept; a dump taken
//! that way loads into a new store created with the recorded codecs, which the program then
//! opens with its own types.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::path::Path;

use common::small_in;
use faster_kv::dump;
use faster_kv::manifest::{Manifest, StoredCodec};
use faster_kv::{CodecRole, FasterKv, FasterKvBuilder, OpenError, Serde};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    item: String,
    quantity: u32,
    notes: Option<String>,
}

/// Keys written: far more records than the pages in memory.
const KEYS: u64 = 2_000;

fn order(k: u64) -> Serde<Order> {
    Serde(Order {
        item: format!("item-{}", k % 17),
        quantity: (k * 7) as u32,
        notes: k.is_multiple_of(3).then(|| "n".repeat((k % 50) as usize)),
    })
}

/// A `u64 -> Serde<Order>` store in `dir` with every key written, a third of them updated,
/// a tenth deleted, and a checkpoint.
fn write_orders(dir: &Path) {
    let store: FasterKv<u64, Serde<Order>> = small_in(dir).open().unwrap();
    let mut s = store.session().unwrap();
    for k in 0..KEYS {
        s.upsert(&k, &order(k + 1)).unwrap();
    }
    for k in (0..KEYS).step_by(3) {
        s.upsert(&k, &order(k)).unwrap();
    }
    for k in (0..KEYS).step_by(10) {
        s.delete(&k).unwrap();
    }
    drop(s);
    store.checkpoint().unwrap().wait().unwrap();
}

fn expected(k: u64) -> Option<Serde<Order>> {
    match k {
        k if k % 10 == 0 => None,
        k if k % 3 == 0 => Some(order(k)),
        k => Some(order(k + 1)),
    }
}

fn bytes_of(dir: &Path) -> FasterKvBuilder {
    small_in(dir).byte_codecs(true)
}

#[test]
fn a_dump_taken_through_byte_codecs_loads_into_a_store_its_program_opens() {
    let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_orders(from.path());
    let manifest = Manifest::read(from.path()).unwrap().unwrap();

    // The program's own dump and the tool's are the same bytes.
    let typed: FasterKv<u64, Serde<Order>> = small_in(from.path()).recover(None).unwrap().0;
    let mut by_program = Vec::new();
    dump::dump(&typed, &mut by_program, |_| {}).unwrap();
    drop(typed);
    let tool: FasterKv<[u8; 8], [u8]> = bytes_of(from.path()).recover(None).unwrap().0;
    assert_eq!(
        tool.recorded_codecs(),
        (manifest.key.clone(), manifest.value.clone())
    );
    let live = tool.scan().unwrap().map(Result::unwrap).count() as u64;
    let mut file = Vec::new();
    let summary = dump::dump(&tool, &mut file, |_| {}).unwrap();
    assert_eq!(summary.records, live);
    assert_eq!(
        live,
        (0..KEYS).filter(|&k| expected(k).is_some()).count() as u64
    );
    assert_eq!(file, by_program);
    drop(tool);
    assert_eq!(
        Manifest::read(from.path()).unwrap().unwrap(),
        manifest,
        "kept"
    );

    // A new store created by the tool with the recorded codecs.
    let reader = dump::DumpReader::new(file.as_slice()).unwrap();
    let (key, value) = (reader.header().key.clone(), reader.header().value.clone());
    {
        let loaded: FasterKv<[u8; 8], [u8]> = small_in(to.path())
            .record_codecs(key.clone(), value.clone())
            .create_new()
            .unwrap();
        let summary = dump::load_from(&loaded, reader, |_| {}).unwrap();
        assert_eq!(summary.records, live);
        loaded.checkpoint().unwrap().wait().unwrap();
    }
    let created = Manifest::read(to.path()).unwrap().unwrap();
    assert_eq!((created.key, created.value), (key, value));
    let mine: FasterKv<u64, Serde<Order>> = small_in(to.path()).recover(None).unwrap().0;
    let mut s = mine.session().unwrap();
    for k in 0..KEYS {
        assert_eq!(s.read(&k).unwrap(), expected(k), "key {k}");
    }
}

#[test]
fn byte_codecs_read_and_write_the_encoded_bytes() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store: FasterKv<u64, str> = small_in(dir.path()).open().unwrap();
        let mut s = store.session().unwrap();
        (0..KEYS).for_each(|k| s.upsert(&k, &format!("v{k}")).unwrap());
        drop(s);
        store.checkpoint().unwrap().wait().unwrap();
    }
    {
        let tool: FasterKv<[u8; 8], [u8]> = bytes_of(dir.path()).recover(None).unwrap().0;
        let mut s = tool.session().unwrap();
        for k in [0u64, 1, 999, KEYS - 1] {
            let got = s.read(&k.to_le_bytes()).unwrap();
            assert_eq!(got, Some(format!("v{k}").into_bytes()));
        }
        s.upsert(&7u64.to_le_bytes(), b"seven".as_slice()).unwrap();
        drop(s);
        tool.checkpoint().unwrap().wait().unwrap();
    }
    let store: FasterKv<u64, str> = small_in(dir.path()).recover(None).unwrap().0;
    let mut s = store.session().unwrap();
    assert_eq!(s.read(&7).unwrap().as_deref(), Some("seven"));
    assert_eq!(s.read(&8).unwrap().as_deref(), Some("v8"));
}

#[test]
fn byte_codecs_of_another_shape_or_without_the_setting_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_orders(dir.path());
    let err = bytes_of(dir.path())
        .recover::<[u8; 4], [u8]>(None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::TypeMismatch {
                role: CodecRole::Key,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("[u8; 8]"), "{err}");
    let err = bytes_of(dir.path())
        .recover::<[u8; 8], str>(None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::TypeMismatch {
                role: CodecRole::Value,
                ..
            }
        ),
        "{err}"
    );
    let err = small_in(dir.path())
        .recover::<[u8; 8], [u8]>(None)
        .unwrap_err();
    assert!(matches!(err, OpenError::TypeMismatch { .. }), "{err}");
}

#[test]
fn recorded_codecs_must_fit_the_codecs_opened_with_and_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (key, value) = (StoredCodec::of::<u64>(), StoredCodec::of::<Serde<Order>>());
    let err = small_in(dir.path())
        .record_codecs(key.clone(), value.clone())
        .create_new::<[u8], [u8]>()
        .unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::TypeMismatch {
                role: CodecRole::Key,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        Manifest::read(dir.path()).unwrap().is_none(),
        "nothing created"
    );
    let unknown = StoredCodec {
        kind: "json".into(),
        ..value.clone()
    };
    let err = small_in(dir.path())
        .record_codecs(key.clone(), unknown)
        .create_new::<[u8; 8], [u8]>()
        .unwrap_err();
    assert!(err.to_string().contains("json"), "{err}");

    drop(
        small_in(dir.path())
            .record_codecs(key.clone(), value.clone())
            .create_new::<[u8; 8], [u8]>()
            .unwrap(),
    );
    let manifest = Manifest::read(dir.path()).unwrap().unwrap();
    assert_eq!((manifest.key, manifest.value), (key.clone(), value));
    let err = small_in(dir.path())
        .record_codecs(key, StoredCodec::of::<[u8]>())
        .open::<[u8; 8], [u8]>()
        .unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::TypeMismatch {
                role: CodecRole::Value,
                ..
            }
        ),
        "{err}"
    );
    let store: FasterKv<u64, Serde<Order>> = small_in(dir.path()).open().unwrap();
    assert_eq!(store.session().unwrap().read(&1).unwrap(), None);
}
