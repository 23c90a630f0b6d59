//! Fuzz target: a value with an expiry (`Expiring<V>`) decodes or is rejected with an error,
//! never a panic, whatever the bytes; what decodes re-encodes to the same bytes and agrees
//! with the expiry the store reads from the raw bytes.
#![no_main]

use faster_kv::{Codec, Expiring};
use libfuzzer_sys::fuzz_target;

fn check<V: Codec + ?Sized>(data: &[u8]) {
    let raw = <Expiring<V>>::expires_at(data);
    if let Ok(value) = <Expiring<V>>::decode(data) {
        assert_eq!(value.expires_at, raw);
        let again = value.with_bytes(<[u8]>::to_vec).ok();
        assert_eq!(again.as_deref(), Some(data));
    }
}

fuzz_target!(|data: &[u8]| {
    check::<[u8]>(data);
    check::<str>(data);
    check::<u64>(data);
    check::<[u8; 3]>(data);
});
