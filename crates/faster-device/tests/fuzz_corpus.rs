//! The committed fuzz corpus of the segment header (`fuzz/corpus/segment_header`) goes
//! through the parser the fuzz target calls (`fuzz/fuzz_targets/segment_header.rs`): the
//! valid samples are accepted and re-encode to the same block, every other sample is
//! rejected, with the error its name describes.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::PathBuf;

use faster_device::envelope::EnvelopeError;
use faster_device::{SEGMENT_HEADER_BYTES, SegmentHeader, SegmentHeaderError};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
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
fn the_segment_header_corpus_is_accepted_or_rejected_as_named() {
    for (name, data) in corpus("segment_header") {
        let result = SegmentHeader::decode(&data);
        if name.starts_with("valid_") {
            let header = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                header.encode(),
                &data[..SEGMENT_HEADER_BYTES as usize],
                "{name}"
            );
            continue;
        }
        let expected = match name.as_str() {
            "flipped_checksum" | "flipped_identity" => Some(SegmentHeaderError::Envelope(
                EnvelopeError::ChecksumMismatch,
            )),
            "flipped_version" => Some(SegmentHeaderError::Envelope(
                EnvelopeError::UnsupportedVersion {
                    found: 2,
                    supported: 1,
                },
            )),
            "flipped_padding" => Some(SegmentHeaderError::NonZeroPadding { offset: 2000 }),
            "truncated_header" => Some(SegmentHeaderError::Short { got: 56 }),
            "zeroed_block" => Some(SegmentHeaderError::Zeroed),
            "headerless_data" => Some(SegmentHeaderError::Envelope(EnvelopeError::BadMagic)),
            _ => None,
        };
        match expected {
            Some(error) => assert_eq!(result, Err(error), "{name}"),
            None => assert!(result.is_err(), "{name}: accepted"),
        }
    }
}
