//! The fuzz corpus of F2's formats (`fuzz/corpus/f2_manifest`, `fuzz/corpus/cold_record`),
//! run through the fuzz targets' parsers: valid inputs (`valid_*`) are accepted and re-encode
//! to the same bytes, damaged ones (`truncated_*`, `flipped_*`) are rejected.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::PathBuf;

use faster_f2::format::{F2Manifest, encode, parse};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "corpus {} too small", dir.display());
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

#[test]
fn the_f2_manifest_corpus_is_accepted_or_rejected_as_named() {
    for (name, bytes) in corpus("f2_manifest") {
        let decoded = F2Manifest::decode(&bytes);
        assert_eq!(
            decoded.is_ok(),
            name.starts_with("valid_"),
            "{name}: {decoded:?}"
        );
        if let Ok(m) = decoded {
            assert_eq!(&m.encode()[..], &bytes[..], "{name}");
        }
    }
}

#[test]
fn the_cold_record_corpus_is_accepted_or_rejected_as_named() {
    for (name, bytes) in corpus("cold_record") {
        let parsed = parse(&bytes);
        assert_eq!(
            parsed.is_ok(),
            name.starts_with("valid_"),
            "{name}: {parsed:?}"
        );
        if let Ok(r) = parsed {
            let mut again = Vec::new();
            encode(r.previous, r.hash, r.key, r.value, &mut again);
            assert_eq!(again, bytes, "{name}");
        }
    }
}
