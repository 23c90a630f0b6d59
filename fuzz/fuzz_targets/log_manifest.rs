//! Fuzz target: the manifest of a FasterLog directory
//! (`faster_log::manifest::LogManifest::decode`). Whatever the bytes, it returns an error rather
//! than panicking; a manifest it accepts holds settings in range and re-encodes to exactly the
//! bytes it read.

#![no_main]

use faster_log::manifest::LogManifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = LogManifest::decode(data) {
        assert_eq!(manifest.check(), Ok(()), "an accepted manifest is out of range");
        assert_eq!(
            manifest.encode(),
            data,
            "an accepted manifest does not re-encode"
        );
    }
});
