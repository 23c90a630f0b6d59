//! The fuzz corpus of the store's formats (`fuzz/corpus/`), run through the same parsers as
//! the fuzz targets: every input is accepted or rejected without a panic, the valid ones
//! (named `valid_*`) are accepted and the damaged ones (`truncated_*`, `flipped_*`) rejected —
//! so the committed corpus stays in step with the formats.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::PathBuf;

use faster_kv::CheckpointToken;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// Valid inputs must parse, damaged ones must not; anything else only must not panic.
fn expect(name: &str, ok: bool) {
    if name.starts_with("valid_") {
        assert!(ok, "{name} was rejected");
    } else if name.starts_with("truncated_") || name.starts_with("flipped_") {
        assert!(!ok, "{name} was accepted");
    }
}

#[test]
fn checkpoint_metadata_corpus() {
    for (name, bytes) in corpus("checkpoint_meta") {
        let meta = faster_cpr::CheckpointMeta::decode(&bytes);
        if name == "valid_meta" {
            let meta = meta.unwrap();
            assert_eq!(meta.encode().unwrap(), bytes);
        } else if name.starts_with("valid_marker") {
            assert!(
                faster_cpr::check_complete(&bytes, CheckpointToken::new(1), b"x").is_err(),
                "a marker checked against other metadata"
            );
        } else {
            assert!(meta.is_err(), "{name} decoded");
        }
    }
}

#[test]
fn store_manifest_corpus() {
    for (name, bytes) in corpus("store_manifest") {
        let manifest = faster_kv::manifest::Manifest::decode(&bytes);
        expect(&name, manifest.is_ok());
        if let Ok(m) = manifest {
            assert_eq!(m.encode().unwrap(), bytes, "{name} re-encodes");
        }
    }
}

#[test]
fn snapshot_file_corpus() {
    for (name, bytes) in corpus("snapshot_file") {
        let parsed = faster_kv::checkpoint::parse_snapshot(&bytes, CheckpointToken::new(1), 4096);
        expect(&name, parsed.is_ok());
    }
}

#[test]
fn index_snapshot_corpus() {
    for (name, bytes) in corpus("index_snapshot") {
        let parsed =
            faster_index::HashIndex::from_snapshot_bytes(&bytes, faster_epoch::Epoch::new());
        expect(&name, parsed.is_ok());
        let _ = faster_index::parse_snapshot_header(&bytes);
    }
}

#[test]
fn expiring_value_corpus() {
    use faster_kv::{Codec, Expiring};
    for (name, bytes) in corpus("expiring_value") {
        let parsed = <Expiring<[u8]>>::decode(&bytes);
        expect(&name, parsed.is_ok());
        if let Ok(value) = parsed {
            assert_eq!(value.with_bytes(<[u8]>::to_vec).unwrap(), bytes, "{name}");
            assert_eq!(value.expires_at, <Expiring<[u8]>>::expires_at(&bytes));
        }
    }
}
