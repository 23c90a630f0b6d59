//! Fuzz target: a log snapshot file of a checkpoint is rejected with an error, never a panic,
//! whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = faster_kv::checkpoint::parse_snapshot(data, faster_kv::CheckpointToken::new(1), 4096);
});
