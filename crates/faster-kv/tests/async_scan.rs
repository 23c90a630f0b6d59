//! The live-record scan as futures (`FasterKv::scan_async`): on a store mostly on the device
//! it returns exactly the model's live set, its futures park rather than block the runtime's
//! thread, and dropping it part-way closes the scan (compaction runs, the directory reopens).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::HashMap;

use faster_kv::{Codec, CodecDescriptor, CodecError, CodecKind, FasterKv, OpErrorKind, Status};

const KEYS: u64 = 20_000;

/// Loads `KEYS` keys, rewrites every third, deletes every seventh; the model of what is live.
fn load(store: &FasterKv<u64, u64>) -> HashMap<u64, u64> {
    let mut model = HashMap::new();
    let mut s = store.session().unwrap();
    for key in 0..KEYS {
        s.upsert(&key, &key).unwrap();
        model.insert(key, key);
    }
    for key in (0..KEYS).step_by(3) {
        s.upsert(&key, &(key + 1_000_000)).unwrap();
        model.insert(key, key + 1_000_000);
    }
    for key in (0..KEYS).step_by(7) {
        assert_eq!(s.delete(&key).unwrap(), Status::Found);
        model.remove(&key);
    }
    model
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn an_async_scan_returns_the_live_set_and_parks_while_it_reads() {
    let store: FasterKv<u64, u64> = common::small().open().unwrap();
    let model = load(&store);
    assert!(
        store.regions().head > faster_kv::Address::FIRST_VALID,
        "most of the log is on the device"
    );
    let mut scan = store.scan_async().unwrap();
    let (seen, polls, items) = runtime().block_on(async move {
        let mut seen = HashMap::new();
        let (mut polls, mut items) = (0u64, 0u64);
        loop {
            let (item, n) = common::Counted {
                inner: scan.next(),
                polls: 0,
            }
            .await;
            polls += u64::from(n);
            let Some(item) = item else { break };
            let (key, value) = item.unwrap();
            items += 1;
            assert!(
                seen.insert(key, value).is_none(),
                "key {key} returned twice"
            );
        }
        (seen, polls, items)
    });
    assert_eq!(seen, model);
    assert!(
        polls > items + 1,
        "the futures waited for the reading thread at least once ({polls} polls for {items} records)"
    );
}

#[test]
fn dropping_an_async_scan_part_way_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = common::small_in(dir.path()).open().unwrap();
    let model = load(&store);
    let mut scan = store.scan_async().unwrap();
    let taken = runtime().block_on(async {
        let mut taken = 0;
        while taken < 10 {
            scan.next().await.unwrap().unwrap();
            taken += 1;
        }
        taken
    });
    assert_eq!(taken, 10);
    drop(scan);
    // The scan is closed: a compaction runs (it would wait for an open scan), and a new
    // scan sees everything.
    let until = store.regions().read_only;
    store.compact(until).unwrap();
    let live: HashMap<u64, u64> = store.scan().unwrap().map(Result::unwrap).collect();
    assert_eq!(live, model);
    // Nothing of the scan holds the store: it closes, and its directory opens again.
    store.checkpoint().unwrap().wait().unwrap();
    drop(store);
    let again: FasterKv<u64, u64> = common::small_in(dir.path()).open().unwrap();
    let mut s = again.session().unwrap();
    for (key, value) in model.iter().take(100) {
        assert_eq!(s.read(key).unwrap(), Some(*value));
    }
}

/// A value whose decoding panics for one value: a scan thread that meets it dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Touchy(u64);

const POISON: u64 = 13;

impl Codec for Touchy {
    type Owned = Touchy;
    const FIXED_SIZE: Option<usize> = Some(8);

    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, CodecError> {
        Ok(f(&self.0.to_le_bytes()))
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let value = u64::from_le_bytes(bytes.try_into().map_err(|_| CodecError {
            what: "Touchy",
            reason: format!("{} bytes", bytes.len()),
        })?);
        assert_ne!(value, POISON, "a value this codec refuses to decode");
        Ok(Touchy(value))
    }

    fn hash64(&self) -> Result<u64, CodecError> {
        Ok(faster_kv::mix64(self.0))
    }

    fn descriptor() -> CodecDescriptor {
        CodecDescriptor {
            kind: CodecKind::Bytes,
            type_name: std::any::type_name::<Self>(),
            fixed_size: Some(8),
            align: 1,
        }
    }
}

#[test]
fn a_scan_thread_that_dies_ends_the_scan_with_an_error() {
    let store: FasterKv<u64, Touchy> = common::small().open().unwrap();
    let mut s = store.session().unwrap();
    for key in 0..2_000u64 {
        let value = if key == 1_000 { POISON } else { key + 100 };
        s.upsert(&key, &Touchy(value)).unwrap();
    }
    drop(s);
    let mut scan = store.scan_async().unwrap();
    let (records, last) = runtime().block_on(async move {
        let mut records = 0u64;
        let mut last = None;
        while let Some(item) = scan.next().await {
            match item {
                Ok(_) => records += 1,
                Err(e) => last = Some(e),
            }
        }
        (records, last)
    });
    assert!(
        records < 2_000,
        "the scan stopped at the value it could not decode"
    );
    let error = last.expect("a cut-short scan says so");
    assert!(matches!(error.kind(), OpErrorKind::ScanAborted), "{error}");
}
