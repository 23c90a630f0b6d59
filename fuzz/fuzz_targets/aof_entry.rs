//! Fuzz target: the server's append-only log entry decoder reads an entry or refuses the
//! bytes with an error, never a panic, whatever the bytes; an entry that was read is written
//! back as the same bytes.
#![no_main]

use faster_server::aof::entry::AofEntry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = AofEntry::decode(data) {
        assert_eq!(entry.encode(), data);
    }
});
