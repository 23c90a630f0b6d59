//! Fuzz target: a store's manifest is rejected with an error, never a panic, whatever the
//! bytes; what decodes re-encodes to bytes that decode to the same manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = faster_kv::manifest::Manifest::decode(data) {
        let again = manifest.encode().expect("a decoded manifest encodes");
        assert_eq!(
            faster_kv::manifest::Manifest::decode(&again).as_ref(),
            Ok(&manifest)
        );
    }
});
