//! Fuzz target: a dump is read to its end or refused with an error, never a panic, whatever
//! the bytes; what reads to the end re-encodes to the same bytes.
#![no_main]

use faster_kv::dump::{DumpReader, DumpWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = DumpReader::new(data) else {
        return;
    };
    let header = reader.header().clone();
    let mut records = Vec::new();
    let mut blocks = 0;
    loop {
        match reader.next_block() {
            Ok(Some(block)) => {
                blocks += 1;
                records.extend(block.map(|r| (r.key.to_vec(), r.value.to_vec())));
            }
            Ok(None) => break,
            Err(_) => return,
        }
    }
    assert_eq!(reader.records(), records.len() as u64);
    let mut writer = DumpWriter::new(Vec::new(), &header.key, &header.value)
        .expect("a header that was read is written");
    for (key, value) in &records {
        writer
            .write_record(key, value)
            .expect("a record that was read is written");
    }
    let (again, _) = writer.finish().expect("writing to memory succeeds");
    let bytes: usize = records.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    if blocks <= 1 && bytes < faster_kv::dump::BLOCK_TARGET_BYTES {
        // What the writer puts in one block: it reproduces the bytes exactly.
        assert_eq!(again, data);
    }
});
