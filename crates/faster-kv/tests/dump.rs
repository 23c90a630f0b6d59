//! Dumps end to end: a store's live records round-trip through a dump into another store
//! (plain-old-data, byte strings, strings and serde values; updated and deleted keys; across
//! reopens), and every damaged dump — each byte flipped, every truncation, blocks reordered or
//! dropped, another format version, other codecs — is refused with an error, never a panic.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::borrow::Borrow;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use common::small_in;
use faster_kv::dump::{self, DumpError, DumpReader, DumpWriter};
use faster_kv::manifest::StoredCodec;
use faster_kv::{Codec, CodecRole, FasterKv, Serde};
use serde::{Deserialize, Serialize};

/// Keys written: far more records than the eight 4 KiB pages in memory.
const KEYS: u32 = 3_000;

/// A small in-memory store.
fn in_memory<K: Codec + ?Sized, V: Codec + ?Sized>() -> FasterKv<K, V> {
    FasterKv::builder()
        .in_memory()
        .page_size_bits(12)
        .memory_budget(4 << 12)
        .index_buckets(1 << 8)
        .auto_grow_index(false)
        .open()
        .unwrap()
}

/// What key `i` holds after [`write`]: the generation of its value, or `None` once deleted.
fn expected(i: u32) -> Option<u32> {
    match i {
        i if i % 5 == 0 => None,
        i if i % 3 == 0 => Some(1),
        _ => Some(0),
    }
}

/// Writes generation 0 of every key, generation 1 of every third, deletes every fifth.
fn write<K, V>(
    store: &FasterKv<K, V>,
    key: &impl Fn(u32) -> K::Owned,
    value: &impl Fn(u32, u32) -> V::Owned,
) where
    K: Codec + ?Sized,
    V: Codec + ?Sized,
{
    let mut s = store.session().unwrap();
    for i in 0..KEYS {
        s.upsert(key(i).borrow(), value(i, 0).borrow()).unwrap();
    }
    for i in (0..KEYS).step_by(3) {
        s.upsert(key(i).borrow(), value(i, 1).borrow()).unwrap();
    }
    for i in (0..KEYS).step_by(5) {
        s.delete(key(i).borrow()).unwrap();
    }
}

/// Checks that `store` holds exactly what [`write`] leaves.
fn check<K, V>(
    store: &FasterKv<K, V>,
    key: &impl Fn(u32) -> K::Owned,
    value: &impl Fn(u32, u32) -> V::Owned,
) where
    K: Codec + ?Sized,
    V: Codec + ?Sized,
    V::Owned: PartialEq + Debug,
{
    let mut s = store.session().unwrap();
    for i in 0..KEYS {
        let want = expected(i).map(|g| value(i, g));
        assert_eq!(s.read(key(i).borrow()).unwrap(), want, "key {i}");
    }
}

/// Writes a store in a directory, reopens it, dumps it, loads the dump into a store in
/// another directory, reopens that one and reads every key back; returns the records loaded.
fn round_trip<K, V>(key: impl Fn(u32) -> K::Owned, value: impl Fn(u32, u32) -> V::Owned) -> u64
where
    K: Codec + ?Sized,
    V: Codec + ?Sized,
    V::Owned: PartialEq + Debug,
{
    let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    {
        let store: FasterKv<K, V> = small_in(from.path()).open().unwrap();
        write(&store, &key, &value);
        store.checkpoint().unwrap().wait().unwrap();
    }
    let store: FasterKv<K, V> = small_in(from.path()).recover(None).unwrap().0;
    let mut file = Vec::new();
    let mut reports = Vec::new();
    let dumped = dump::dump(&store, &mut file, |p| reports.push(p)).unwrap();
    let live = live();
    assert_eq!((dumped.records, dumped.bytes), (live, file.len() as u64));
    let last = reports.last().unwrap();
    let scan = last.scan.unwrap();
    assert_eq!((last.records, scan.next), (live, scan.end));
    assert!(scan.begin < scan.end);
    drop(store);

    {
        let target: FasterKv<K, V> = small_in(to.path()).open().unwrap();
        let loaded = dump::load(&target, file.as_slice(), |_| {}).unwrap();
        assert_eq!((loaded.records, loaded.bytes), (live, file.len() as u64));
        assert_eq!(loaded.data_bytes, dumped.data_bytes);
        target.checkpoint().unwrap().wait().unwrap();
    }
    let target: FasterKv<K, V> = small_in(to.path()).recover(None).unwrap().0;
    check(&target, &key, &value);
    live
}

/// Keys [`write`] leaves live.
fn live() -> u64 {
    (0..KEYS).filter(|&i| expected(i).is_some()).count() as u64
}

#[test]
fn u64_records_round_trip_through_a_dump_across_reopens() {
    let loaded = round_trip::<u64, u64>(u64::from, |i, g| u64::from(i) * 10 + u64::from(g));
    assert_eq!(loaded, 2_400);
}

#[test]
fn byte_strings_of_every_length_round_trip_through_a_dump() {
    let loaded = round_trip::<[u8], [u8]>(
        |i| format!("key-{i}").into_bytes(),
        |i, g| vec![g as u8 + 1; (i % 300) as usize],
    );
    assert_eq!(loaded, live());
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Account {
    name: String,
    balance: i64,
    tags: Vec<u16>,
}

#[test]
fn strings_and_serde_values_round_trip_through_a_dump() {
    let loaded = round_trip::<str, Serde<Account>>(
        |i| format!("user/{i}"),
        |i, g| {
            Serde(Account {
                name: "x".repeat((i % 40) as usize),
                balance: i64::from(i) - 1500 + i64::from(g),
                tags: (0..(i % 7) as u16).collect(),
            })
        },
    );
    assert_eq!(loaded, live());
}

/// A dump of three live `u64 -> u64` records (two more were deleted).
fn small_dump() -> Vec<u8> {
    let store: FasterKv<u64, u64> = in_memory();
    let mut s = store.session().unwrap();
    for k in 0..5u64 {
        s.upsert(&k, &(k * 100)).unwrap();
    }
    s.delete(&1).unwrap();
    s.delete(&3).unwrap();
    drop(s);
    let mut file = Vec::new();
    dump::dump(&store, &mut file, |_| {}).unwrap();
    file
}

/// Whether `err` is one of the errors of damaged bytes (not of I/O or the store).
fn is_damage(err: &DumpError) -> bool {
    matches!(
        err,
        DumpError::BadMagic
            | DumpError::UnsupportedVersion { .. }
            | DumpError::Corrupt { .. }
            | DumpError::Truncated { .. }
    )
}

#[test]
fn every_flipped_byte_of_a_dump_is_refused() {
    let file = small_dump();
    let target: FasterKv<u64, u64> = in_memory();
    dump::load(&target, file.as_slice(), |_| {}).unwrap();
    for i in 0..file.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut bad = file.clone();
            bad[i] ^= flip;
            let fresh: FasterKv<u64, u64> = in_memory();
            let err = dump::load(&fresh, bad.as_slice(), |_| {}).unwrap_err();
            assert!(is_damage(&err), "flip {flip:#x} at {i}: {err}");
        }
    }
}

#[test]
fn every_truncation_of_a_dump_is_refused_as_truncated() {
    let file = small_dump();
    let target: FasterKv<u64, u64> = in_memory();
    for len in 0..file.len() {
        match dump::load(&target, &file[..len], |_| {}) {
            Err(DumpError::Truncated { offset }) => assert_eq!(offset, len as u64),
            other => panic!("cut at {len}: {other:?}"),
        }
    }
    let mut longer = file.clone();
    longer.push(0);
    let err = dump::load(&target, longer.as_slice(), |_| {}).unwrap_err();
    assert!(err.to_string().contains("after the trailer"), "{err}");
}

/// A dump written directly with value codec `V`: 3,000 records of about 1 KiB in three
/// blocks. Returns the bytes and the offset of each block and of the trailer.
fn three_blocks<V: Codec + ?Sized>() -> (Vec<u8>, Vec<usize>) {
    let (key, value) = (StoredCodec::of::<[u8]>(), StoredCodec::of::<V>());
    let mut writer = DumpWriter::new(Vec::new(), &key, &value).unwrap();
    for i in 0..3_000u32 {
        writer
            .write_record(&i.to_le_bytes(), &vec![i as u8; 1000])
            .unwrap();
    }
    let (file, bytes) = writer.finish().unwrap();
    assert_eq!(bytes, file.len() as u64);
    let mut reader = DumpReader::new(file.as_slice()).unwrap();
    let mut starts = vec![reader.bytes_read() as usize];
    let mut seen = 0u32;
    while let Some(records) = reader.next_block().unwrap() {
        for r in records {
            assert_eq!(r.key, seen.to_le_bytes());
            assert_eq!(r.value, vec![seen as u8; 1000]);
            seen += 1;
        }
        starts.push(reader.bytes_read() as usize);
    }
    assert_eq!((seen, reader.records()), (3_000, 3_000));
    assert_eq!(starts.len(), 4, "three blocks and the trailer: {starts:?}");
    (file, starts)
}

/// Reads every block of `bytes`.
fn read_all(bytes: &[u8]) -> Result<u64, DumpError> {
    let mut reader = DumpReader::new(bytes)?;
    while reader.next_block()?.is_some() {}
    Ok(reader.records())
}

#[test]
fn blocks_reordered_dropped_or_cut_at_their_boundaries_are_refused() {
    let (file, s) = three_blocks::<[u8]>();
    assert_eq!(read_all(&file).unwrap(), 3_000);
    let swapped = [
        &file[..s[0]],
        &file[s[1]..s[2]],
        &file[s[0]..s[1]],
        &file[s[2]..],
    ]
    .concat();
    let dropped = [&file[..s[1]], &file[s[2]..]].concat();
    for (what, bytes) in [("swapped", swapped), ("dropped", dropped)] {
        let err = read_all(&bytes).unwrap_err();
        assert!(matches!(err, DumpError::Corrupt { .. }), "{what}: {err}");
    }
    // The same records under another value codec: every block differs only in its checksum,
    // which is seeded with the header's.
    let (other, t) = three_blocks::<str>();
    assert_eq!(other.len() - t[0], file.len() - s[0]);
    let spliced = [&file[..s[1]], &other[t[1]..]].concat();
    let err = read_all(&spliced).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    for &cut in &s {
        assert!(matches!(
            read_all(&file[..cut]),
            Err(DumpError::Truncated { .. })
        ));
    }
}

#[test]
fn another_format_version_or_a_foreign_file_is_refused_by_name() {
    let mut file = small_dump();
    file[8] = 2;
    let err = read_all(&file).unwrap_err();
    assert!(matches!(err, DumpError::UnsupportedVersion { found: 2 }));
    assert_eq!(
        err.to_string(),
        "dump format version 2 is not supported: this build reads version 1"
    );
    let err = read_all(b"FRSKVMF\n and the rest of a manifest").unwrap_err();
    assert!(matches!(err, DumpError::BadMagic), "{err}");
}

#[test]
fn a_dump_of_other_codecs_is_refused_naming_both() {
    let file = small_dump();
    let values: FasterKv<u64, [u8]> = in_memory();
    let err = dump::load(&values, file.as_slice(), |_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            DumpError::CodecMismatch {
                role: CodecRole::Value,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the dump's value codec is u64 (pod, 8 bytes, align 8), but the store's is [u8] \
         (bytes, variable size, align 1)"
    );
    let keys: FasterKv<i64, u64> = in_memory();
    let err = dump::load(&keys, file.as_slice(), |_| {}).unwrap_err();
    assert!(matches!(
        err,
        DumpError::CodecMismatch {
            role: CodecRole::Key,
            ..
        }
    ));
    assert_eq!(
        values.session().unwrap().read(&0).unwrap(),
        None,
        "nothing loaded"
    );
}

/// The committed fuzz corpus of the dump reader.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/dump_file");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p: &PathBuf| (name(p), std::fs::read(p).unwrap()))
        .collect()
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn the_fuzz_corpus_of_the_dump_reader_is_accepted_or_refused_by_name() {
    let files = corpus();
    assert!(files.len() >= 3, "{files:?}");
    for (name, bytes) in files {
        let read = read_all(&bytes);
        if name.starts_with("valid_") {
            assert!(read.is_ok(), "{name}: {read:?}");
        } else {
            assert!(read.is_err(), "{name} was accepted");
        }
    }
}

/// What the fuzz target does: reads `bytes` to the end, and writes what it read again.
fn reread(bytes: &[u8]) -> Result<Vec<u8>, DumpError> {
    let mut reader = DumpReader::new(bytes)?;
    let header = reader.header().clone();
    let mut writer = DumpWriter::new(Vec::new(), &header.key, &header.value)?;
    while let Some(block) = reader.next_block()? {
        for r in block {
            writer.write_record(r.key, r.value)?;
        }
    }
    Ok(writer.finish()?.0)
}

#[test]
fn a_dump_read_and_written_again_is_the_same_bytes() {
    let file = small_dump();
    assert_eq!(reread(&file).unwrap(), file);
    let (large, _) = three_blocks::<[u8]>();
    assert_eq!(reread(&large).unwrap(), large);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

    /// Bytes overwritten, inserted or removed anywhere: an error, never a panic.
    #[test]
    fn a_dump_changed_anywhere_is_refused(
        edits in proptest::collection::vec((0usize..200, 0u8..3, proptest::num::u8::ANY), 1..4),
    ) {
        let mut bytes = small_dump();
        let original = bytes.clone();
        for (at, kind, byte) in edits {
            let at = at % (bytes.len() + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        let read = reread(&bytes);
        proptest::prop_assert!(bytes == original || read.as_ref().is_err_and(is_damage), "{read:?}");
    }
}
