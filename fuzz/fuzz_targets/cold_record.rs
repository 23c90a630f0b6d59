//! Fuzz target: an F2 cold record is rejected with an error, never a panic, whatever the
//! bytes; what parses re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = faster_f2::format::parse(data) {
        let mut again = Vec::new();
        faster_f2::format::encode(
            record.previous,
            record.hash,
            record.key,
            record.value,
            &mut again,
        );
        assert_eq!(again, data);
    }
});
