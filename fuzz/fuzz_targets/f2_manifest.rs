//! Fuzz target: an F2 manifest is rejected with an error, never a panic, whatever the bytes;
//! what decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = faster_f2::format::F2Manifest::decode(data) {
        assert_eq!(&manifest.encode()[..], data);
    }
});
