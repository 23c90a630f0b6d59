//! Fuzz target: a hash index snapshot — its header alone and the whole thing — is rejected
//! with an error, never a panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = faster_index::parse_snapshot_header(data);
    let _ = faster_index::HashIndex::from_snapshot_bytes(data, faster_epoch::Epoch::new());
});
