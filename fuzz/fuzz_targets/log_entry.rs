//! Fuzz target: FasterLog's entry parser. Input: an 8-byte little-endian address, then the
//! bytes from that address to the end of its page. The parser must never panic, and an
//! entry it accepts must re-encode to the same bytes.

#![no_main]

use faster_log::entry::{ENTRY_HEADER_SIZE, encode_entry, entry_size, parse_entry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((address, bytes)) = data.split_first_chunk::<8>() else {
        return;
    };
    let address = u64::from_le_bytes(*address) & ((1 << 48) - 1);
    if let Ok(Some(entry)) = parse_entry(address, bytes) {
        let used = ENTRY_HEADER_SIZE + entry.payload.len();
        let mut again = vec![0; entry_size(entry.payload.len())];
        encode_entry(
            &mut again,
            address,
            entry.kind,
            entry.generation,
            entry.payload,
        );
        assert_eq!(
            &again[..used],
            &bytes[..used],
            "accepted bytes do not re-encode"
        );
    }
});
