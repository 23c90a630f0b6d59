//! Fuzz target: checkpoint metadata and completion markers are rejected with an error, never a
//! panic, whatever the bytes; what decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(meta) = faster_cpr::CheckpointMeta::decode(data) {
        let again = meta.encode().expect("decoded metadata encodes");
        assert_eq!(faster_cpr::CheckpointMeta::decode(&again).as_ref(), Ok(&meta));
    }
    // The marker checked against the input itself and against a fixed metadata blob.
    let _ = faster_cpr::check_complete(data, faster_cpr::CheckpointToken::new(1), data);
    let _ = faster_cpr::check_complete(data, faster_cpr::CheckpointToken::new(7), b"metadata");
});
