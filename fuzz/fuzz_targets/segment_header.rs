//! Fuzz target: the segment file header parser (`faster_device::SegmentHeader::decode`). It
//! must never panic, and a header it accepts must re-encode to exactly the block it read.

#![no_main]

use faster_device::{SEGMENT_HEADER_BYTES, SegmentHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = SegmentHeader::decode(data) {
        let block = header.encode();
        assert_eq!(
            &block[..],
            &data[..SEGMENT_HEADER_BYTES as usize],
            "an accepted header does not re-encode"
        );
        assert_eq!(SegmentHeader::decode(&block), Ok(header));
    }
});
