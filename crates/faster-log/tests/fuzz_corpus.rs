//! Every file of the committed fuzz corpora goes through the parsers the fuzz targets call
//! (`fuzz/fuzz_targets/log_entry.rs`, `log_commit.rs`, `log_manifest.rs`): no panic, and the
//! valid samples are accepted while the damaged ones are rejected.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::PathBuf;

use faster_hlog::Address;
use faster_log::commit_record::CommitRecord;
use faster_log::entry::parse_entry;
use faster_log::manifest::LogManifest;

fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            (name, std::fs::read(entry.path()).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{}: too few samples", dir.display());
    files
}

#[test]
fn the_entry_corpus_parses_without_panicking() {
    for (name, data) in corpus("log_entry") {
        let Some((address, bytes)) = data.split_first_chunk::<8>() else {
            continue;
        };
        let address = Address::from_masked(u64::from_le_bytes(*address)).raw();
        let result = parse_entry(address, bytes);
        match name.as_str() {
            n if n.starts_with("valid") => {
                assert!(matches!(result, Ok(Some(_))), "{n}: {result:?}")
            }
            "zero_header" | "short_padding" => assert_eq!(result, Ok(None), "{name}"),
            _ => assert!(
                result.is_err(),
                "{name}: damaged sample accepted: {result:?}"
            ),
        }
    }
}

#[test]
fn the_commit_corpus_parses_without_panicking() {
    for (name, data) in corpus("log_commit") {
        let result = CommitRecord::decode(&data);
        if name.starts_with("valid") {
            let record = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            let bytes = record.encode();
            assert_eq!(&bytes[..], &data[..bytes.len()], "{name}");
        } else {
            let error = result.expect_err(&name);
            assert!(
                error.to_string().starts_with("commit record: "),
                "{name}: {error}"
            );
        }
    }
}

#[test]
fn the_manifest_corpus_parses_without_panicking() {
    let files = corpus("log_manifest");
    for prefix in ["valid_", "flipped_", "truncated_"] {
        assert!(
            files.iter().any(|(name, _)| name.starts_with(prefix)),
            "no {prefix} sample"
        );
    }
    for (name, data) in files {
        let result = LogManifest::decode(&data);
        if name.starts_with("valid_") {
            let manifest = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(manifest.check(), Ok(()), "{name}");
            assert_eq!(manifest.encode(), data, "{name}");
        } else {
            assert!(
                result.is_err(),
                "{name}: damaged sample accepted: {result:?}"
            );
        }
    }
}
