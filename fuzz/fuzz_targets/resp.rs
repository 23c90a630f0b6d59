//! Fuzz target: the RESP parsers read a request or a frame, ask for more, or refuse the bytes
//! with an error, never a panic, whatever the bytes; a frame that was read is written and
//! read back as the same frame.
#![no_main]

use faster_server::resp::{Limits, Protocol, parse_frame, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    if let Ok(Some((_, used))) = parse_request(data, &limits) {
        assert!(used <= data.len());
    }
    if let Ok(Some((frame, used))) = parse_frame(data, &limits) {
        assert!(used <= data.len());
        let again = frame.to_bytes(Protocol::Resp3);
        let (back, _) = parse_frame(&again, &limits)
            .expect("a written frame parses")
            .expect("a written frame is whole");
        // NaN is the one value that is not equal to itself.
        if !format!("{frame:?}").contains("NaN") {
            assert_eq!(back, frame);
        }
    }
});
