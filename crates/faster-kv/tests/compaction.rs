//! Compaction and the live-record scan against models: with writers running, across
//! checkpoints and recovery, and with the space below the begin address reclaimed only when
//! no checkpoint needs it.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use faster_kv::{
    Address, Codec, CodecDescriptor, CodecError, CodecKind, CompactOptions, CompactionKind,
    FasterKv, Status,
};

/// Compacts everything below the read-only address.
fn compact_all<K: faster_kv::Codec + ?Sized, V: faster_kv::Codec + ?Sized>(
    store: &FasterKv<K, V>,
) -> faster_kv::CompactReport {
    compact_all_with(store, CompactionKind::Scan)
}

fn compact_all_with<K: faster_kv::Codec + ?Sized, V: faster_kv::Codec + ?Sized>(
    store: &FasterKv<K, V>,
    kind: CompactionKind,
) -> faster_kv::CompactReport {
    let until = store.regions().read_only;
    let options = CompactOptions { kind, threads: 2 };
    store.compact_with(until, options).unwrap()
}

/// The scan's answer as a map; fails on a key returned twice.
fn scan_map(store: &FasterKv<u64, u64>) -> HashMap<u64, u64> {
    let mut out = HashMap::new();
    for item in store.scan().unwrap() {
        let (k, v) = item.unwrap();
        assert!(out.insert(k, v).is_none(), "key {k} returned twice");
    }
    out
}

/// A small pseudo-random generator (xorshift), so that runs are repeatable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn compaction_beside_two_writers_doing_upserts_rmws_and_deletes_keeps_every_key_right() {
    beside_two_writers(CompactionKind::Scan);
}

#[test]
fn lookup_compaction_on_two_threads_beside_two_writers_keeps_every_key_right() {
    beside_two_writers(CompactionKind::Lookup);
}

fn beside_two_writers(kind: CompactionKind) {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = common::small_in(dir.path()).open().unwrap();
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut s = store.session().unwrap();
                let mut model: HashMap<u64, u64> = HashMap::new();
                let mut rng = Rng(0x9E37_79B9 + w);
                let mut ops = 0u64;
                while ops < 60_000 {
                    // Writer w owns the keys k with k % 2 == w.
                    let key = (rng.next() % 1500) * 2 + w;
                    match rng.next() % 10 {
                        0 => {
                            let status = s.delete(&key).unwrap();
                            // Found is certain for a key that exists; for one that does not,
                            // a delete whose chain goes to the device appends a tombstone
                            // without looking and answers Found too.
                            if model.remove(&key).is_some() {
                                assert_eq!(status, Status::Found, "delete of {key}");
                            }
                        }
                        1..=3 => {
                            let total = s.add(&key, 3).unwrap();
                            let expected = model.get(&key).copied().unwrap_or(0) + 3;
                            assert_eq!(total, expected, "add to {key}");
                            model.insert(key, expected);
                        }
                        4 => {
                            let got = s.read(&key).unwrap();
                            assert_eq!(got, model.get(&key).copied(), "read of {key}");
                        }
                        _ => {
                            let value = rng.next() >> 8;
                            s.upsert(&key, &value).unwrap();
                            model.insert(key, value);
                        }
                    }
                    ops += 1;
                }
                model
            })
        })
        .collect();
    let mut compactions = 0;
    let mut copied = 0;
    while compactions < 10 || writers.iter().any(|w| !w.is_finished()) {
        let report = compact_all_with(&store, kind);
        if report.until > report.from {
            compactions += 1;
            copied += report.copied;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let mut model = HashMap::new();
    for w in writers {
        model.extend(w.join().unwrap());
    }
    assert!(copied > 0, "the compactions copied live records");
    let stats = store.stats();
    assert!(stats.compaction.runs >= 10, "{:?}", stats.compaction);
    let mut s = store.session().unwrap();
    for key in 0..3000u64 {
        assert_eq!(s.read(&key).unwrap(), model.get(&key).copied(), "key {key}");
    }
    assert_eq!(scan_map(&store), model);
    // A checkpoint and a recovery give back exactly the same, deleted keys included.
    store.checkpoint().unwrap().wait().unwrap();
    compact_all(&store);
    drop(s);
    drop(store);
    let store: FasterKv<u64, u64> = common::small_in(dir.path()).open().unwrap();
    let mut s = store.session().unwrap();
    for key in 0..3000u64 {
        assert_eq!(s.read(&key).unwrap(), model.get(&key).copied(), "key {key}");
    }
    assert_eq!(scan_map(&store), model);
}

#[test]
fn a_crash_after_compaction_recovers_the_last_checkpoint_whole_and_space_goes_later() {
    let dir = tempfile::tempdir().unwrap();
    let open = || -> FasterKv<u64, u64> {
        common::small_in(dir.path())
            .checkpoint_retention(1)
            .mutable_fraction(0.25)
            .open()
            .unwrap()
    };
    let store = open();
    let mut s = store.session().unwrap();
    let mut at_checkpoint = HashMap::new();
    for round in 0..12u64 {
        for key in 0..3000u64 {
            s.upsert(&key, &(round * 10_000 + key)).unwrap();
            at_checkpoint.insert(key, round * 10_000 + key);
        }
    }
    for key in (0..3000u64).step_by(3) {
        assert_eq!(s.delete(&key).unwrap(), Status::Found);
        at_checkpoint.remove(&key);
    }
    store.checkpoint().unwrap().wait().unwrap();
    let segments_at_checkpoint = segment_files(dir.path());
    // More updates, then a compaction far past the checkpoint's begin address.
    for key in 0..3000u64 {
        s.upsert(&key, &(999_000 + key)).unwrap();
    }
    let report = compact_all(&store);
    assert!(
        report.until > report.from,
        "{report:?} {:?}",
        store.regions()
    );
    assert!(store.regions().begin == report.until);
    // The checkpoint still needs the old log: nothing it holds was deleted.
    let kept = segment_files(dir.path());
    for f in &segments_at_checkpoint {
        assert!(
            kept.contains(f),
            "{f} was deleted before a checkpoint stopped needing it"
        );
    }
    // A crash now (no closing checkpoint) recovers the checkpoint whole: no deleted key
    // comes back, no live one is lost.
    drop(s);
    drop(store);
    let store = open();
    let mut s = store.session().unwrap();
    for key in 0..3000u64 {
        assert_eq!(
            s.read(&key).unwrap(),
            at_checkpoint.get(&key).copied(),
            "key {key}"
        );
    }
    // After a compaction and a checkpoint that no longer needs the old log, its segments go.
    for key in 0..3000u64 {
        s.upsert(&key, &(7_000_000 + key)).unwrap();
    }
    let before = common::disk_bytes(dir.path());
    let report = compact_all(&store);
    store.checkpoint().unwrap().wait().unwrap();
    let after = common::disk_bytes(dir.path());
    let first_kept = report.until.raw() / (1 << 16);
    for f in segment_files(dir.path()) {
        let index: u64 = f.trim_start_matches("log.").parse().unwrap_or(u64::MAX);
        assert!(
            index >= first_kept,
            "segment {f} lies below the begin address"
        );
    }
    assert!(
        after < before,
        "{after} bytes on disk after, {before} before"
    );
    drop(s);
    drop(store);
    let store = open();
    let mut s = store.session().unwrap();
    for key in 0..3000u64 {
        assert_eq!(s.read(&key).unwrap(), Some(7_000_000 + key), "key {key}");
    }
}

/// The names of the log's segment files in `dir`.
fn segment_files(dir: &Path) -> HashSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("log."))
        .collect()
}

#[test]
fn deleted_keys_stay_deleted_after_compaction_and_after_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = common::small_in(dir.path()).open().unwrap();
    let mut s = store.session().unwrap();
    for key in 0..2000u64 {
        s.upsert(&key, &key).unwrap();
    }
    for key in 0..1000u64 {
        s.delete(&key).unwrap();
    }
    // Push the tombstones and the records they delete below the read-only address.
    for key in 5000..8000u64 {
        s.upsert(&key, &key).unwrap();
    }
    let report = compact_all(&store);
    assert!(report.until > Address::FIRST_VALID);
    for key in 0..1000u64 {
        assert_eq!(s.read(&key).unwrap(), None, "key {key}");
    }
    store.checkpoint().unwrap().wait().unwrap();
    drop(s);
    drop(store);
    let store: FasterKv<u64, u64> = common::small_in(dir.path()).open().unwrap();
    let mut s = store.session().unwrap();
    for key in 0..2000u64 {
        let expected = (key >= 1000).then_some(key);
        assert_eq!(s.read(&key).unwrap(), expected, "key {key}");
    }
    let live = scan_map(&store);
    assert_eq!(live.len(), 1000 + 3000);
}

#[test]
fn a_scan_under_concurrent_writes_returns_every_untouched_key_exactly_once() {
    let store: FasterKv<u64, u64> = common::small().open().unwrap();
    let mut s = store.session().unwrap();
    // Untouched keys 0..3000; keys 10_000.. are written while the scan runs.
    for key in 0..3000u64 {
        s.upsert(&key, &(key * 7)).unwrap();
    }
    for key in 10_000..11_000u64 {
        s.upsert(&key, &0).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut s = store.session().unwrap();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = 10_000 + i % 2000;
                if i.is_multiple_of(5) {
                    s.delete(&key).unwrap();
                } else {
                    s.upsert(&key, &i).unwrap();
                }
                i += 1;
            }
        })
    };
    for _ in 0..5 {
        let mut seen = HashSet::new();
        let mut untouched = 0;
        for item in store.scan().unwrap() {
            let (k, v) = item.unwrap();
            assert!(seen.insert(k), "key {k} returned twice");
            if k < 3000 {
                assert_eq!(v, k * 7);
                untouched += 1;
            } else {
                assert!((10_000..12_000).contains(&k), "key {k} was never written");
            }
        }
        assert_eq!(untouched, 3000);
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
}

#[test]
fn a_compaction_that_meets_a_read_error_leaves_the_store_as_it_was() {
    use faster_device::{Device, FaultDevice, MemDevice};
    let disk: Arc<dyn Device> = Arc::new(MemDevice::new());
    let fault = Arc::new(FaultDevice::new(Arc::clone(&disk)));
    let store: FasterKv<u64, u64> = common::small()
        .device(fault.clone() as Arc<dyn Device>)
        .mutable_fraction(0.25)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    let mut model = HashMap::new();
    for round in 0..4u64 {
        for key in 0..2000u64 {
            s.upsert(&key, &(round * 10_000 + key)).unwrap();
            model.insert(key, round * 10_000 + key);
        }
    }
    for key in (0..2000u64).step_by(5) {
        s.delete(&key).unwrap();
        model.remove(&key);
    }
    for kind in [CompactionKind::Scan, CompactionKind::Lookup] {
        let before = store.regions().begin;
        // The compaction's reads of its range fail part-way.
        fault.fail_nth_read(3);
        let until = store.regions().read_only;
        let result = store.compact_with(until, CompactOptions { kind, threads: 1 });
        fault.disarm();
        assert!(
            result.is_err(),
            "{kind:?}: the compaction reported success: {result:?}"
        );
        assert_eq!(
            store.regions().begin,
            before,
            "{kind:?}: the begin address moved"
        );
        for key in 0..2000u64 {
            assert_eq!(
                s.read(&key).unwrap(),
                model.get(&key).copied(),
                "{kind:?}: key {key}"
            );
        }
    }
    // Once the device is well again, compaction goes through and nothing changed.
    let report = compact_all(&store);
    assert!(report.until > report.from);
    assert_eq!(scan_map(&store), model);
}

/// A byte-string key whose hash is one of 16 values: most keys share their chain with others,
/// so chain heads on the device usually hold another key, and different keys share hashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Crowded(Vec<u8>);

impl Codec for Crowded {
    type Owned = Crowded;
    const FIXED_SIZE: Option<usize> = None;

    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, CodecError> {
        Ok(f(&self.0))
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(Crowded(bytes.to_vec()))
    }

    fn hash64(&self) -> Result<u64, CodecError> {
        let sum: u64 = self.0.iter().map(|&b| u64::from(b)).sum();
        Ok(faster_kv::mix64(sum % 16))
    }

    fn descriptor() -> CodecDescriptor {
        CodecDescriptor {
            kind: CodecKind::Bytes,
            type_name: std::any::type_name::<Self>(),
            fixed_size: None,
            align: 1,
        }
    }
}

#[test]
fn keys_sharing_chains_hashes_and_first_bytes_compact_and_scan_right() {
    // Long keys with the same first 8 bytes, 8-byte keys with those bytes, short keys: the
    // comparison of a chain head's key with a candidate's must look at every byte.
    let key = |i: u64| match i % 3 {
        0 => Crowded(format!("user:{i:012}").into_bytes()),
        1 => Crowded(format!("user:{:03}", i % 1000).into_bytes()),
        _ => Crowded(format!("k{i}").into_bytes()),
    };
    let keys: Vec<Crowded> = (0..1_500).map(key).collect();
    let store: FasterKv<Crowded, u64> = common::small().open().unwrap();
    let mut s = store.session().unwrap();
    let mut model: HashMap<Crowded, u64> = HashMap::new();
    let check = |store: &FasterKv<Crowded, u64>, model: &HashMap<Crowded, u64>| {
        let mut s = store.session().unwrap();
        for k in &keys {
            assert_eq!(s.read(k).unwrap(), model.get(k).copied(), "key {k:?}");
        }
        let mut scanned = HashMap::new();
        for item in store.scan().unwrap() {
            let (k, v) = item.unwrap();
            assert!(scanned.insert(k, v).is_none(), "a key scanned twice");
        }
        assert_eq!(&scanned, model);
    };
    for round in 0..12u64 {
        for (i, k) in keys.iter().enumerate() {
            let i = i as u64;
            if round == 3 && i.is_multiple_of(7) {
                s.delete(k).unwrap();
                model.remove(k);
            } else if round < 4 || i.is_multiple_of(2) {
                let v = round * 1_000_000 + i;
                s.upsert(k, &v).unwrap();
                model.insert(k.clone(), v);
            }
        }
        if round >= 1 {
            // The oldest third: newer records of its keys lie above it, on the device.
            let r = store.regions();
            let until = Address::from_masked(r.begin.raw() + (r.head.raw() - r.begin.raw()) / 3);
            let report = store.compact(until).unwrap();
            assert!(report.records > 0 && report.until < r.head);
            check(&store, &model);
        }
    }
}
