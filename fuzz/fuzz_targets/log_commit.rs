//! Fuzz target: FasterLog's commit record parser (metadata slots and fast commit entries).
//! It must never panic, and a record it accepts must re-encode to the same bytes.

#![no_main]

use faster_log::commit_record::CommitRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = CommitRecord::decode(data) {
        let bytes = record.encode();
        assert_eq!(
            &bytes[..],
            &data[..bytes.len()],
            "accepted bytes do not re-encode"
        );
    }
});
