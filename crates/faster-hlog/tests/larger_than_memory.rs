//! Many threads append distinct records to a log whose data is twenty times its memory
//! budget; afterwards every record reads back exactly, from memory or from the device, and a
//! scan finds each one once, in address order.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::{identity, mem_log, payload_len, read_back, record, sizer, write_at};
use faster_device::{Device, FileDevice};
use faster_epoch::Epoch;
use faster_hlog::{Address, HybridLog, LogConfig};

const WRITERS: u32 = 4;

/// Appends records from `WRITERS` threads until `bytes_total` bytes are in the log; returns
/// every record's address and length, by `(writer, seq)`.
fn fill(log: &HybridLog, bytes_total: u64) -> HashMap<(u32, u64), (Address, usize)> {
    let per_writer = bytes_total / u64::from(WRITERS);
    let threads: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let log = log.clone();
            std::thread::spawn(move || {
                let handle = log.epoch().register().unwrap();
                let mut guard = handle.protect();
                let mut written = 0;
                let mut placed = Vec::new();
                let mut seq = 0;
                while written < per_writer {
                    let bytes = record(writer, seq, payload_len(writer, seq));
                    let address = log.allocate(bytes.len() as u64, &mut guard).unwrap();
                    write_at(&log, address, &bytes);
                    placed.push(((writer, seq), (address, bytes.len())));
                    written += bytes.len() as u64;
                    seq += 1;
                    if seq % 8 == 0 {
                        guard.refresh();
                    }
                }
                placed
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

fn check_every_record(log: &HybridLog, placed: &HashMap<(u32, u64), (Address, usize)>) {
    let mut from_device = 0;
    let head = log.head_address();
    for (&(writer, seq), &(address, len)) in placed {
        if address < head {
            from_device += 1;
        }
        let bytes = read_back(log, address, len);
        assert_eq!(
            bytes,
            record(writer, seq, payload_len(writer, seq)),
            "record ({writer}, {seq}) at {address}"
        );
    }
    assert!(
        from_device > placed.len() / 2,
        "most records should have come from the device ({from_device} of {})",
        placed.len()
    );
}

fn check_scan(log: &HybridLog, placed: &HashMap<(u32, u64), (Address, usize)>) {
    let tail = log.shift_read_only_to_tail();
    assert!(log.wait_flushed(tail, Duration::from_secs(30)).unwrap());
    let mut scan = log.scan(Address::FIRST_VALID, tail, sizer).unwrap();
    let mut seen = 0;
    let mut last = Address::INVALID;
    while let Some(r) = scan.next().unwrap() {
        assert!(r.address > last, "scan goes forward");
        last = r.address;
        let (writer, seq) = identity(r.bytes);
        let &(address, len) = placed
            .get(&(writer, seq))
            .expect("scan found a known record");
        assert_eq!(address, r.address);
        assert_eq!(r.bytes.len(), len.div_ceil(8) * 8);
        assert_eq!(
            &r.bytes[..len],
            &record(writer, seq, payload_len(writer, seq))[..]
        );
        seen += 1;
    }
    assert_eq!(seen, placed.len(), "every record scanned exactly once");
    check_skipping_scan(log, placed);
}

/// A scan that skips to every `step`-th record (across pages and whole skipped pages, on
/// the device and in memory) returns exactly those records; a skip backwards changes nothing.
fn check_skipping_scan(log: &HybridLog, placed: &HashMap<(u32, u64), (Address, usize)>) {
    let mut by_address: Vec<_> = placed.iter().map(|(&id, &(a, len))| (a, len, id)).collect();
    by_address.sort_unstable();
    for step in [7, 1_000] {
        let tail = log.tail_address();
        let mut scan = log.scan(Address::FIRST_VALID, tail, sizer).unwrap();
        for &(address, len, (writer, seq)) in by_address.iter().step_by(step) {
            scan.skip_to(address);
            scan.skip_to(Address::FIRST_VALID);
            let r = scan
                .next()
                .unwrap()
                .expect("a record at the skipped-to address");
            assert_eq!(r.address, address, "step {step}");
            assert_eq!(
                &r.bytes[..len],
                &record(writer, seq, payload_len(writer, seq))[..]
            );
        }
    }
}

#[test]
fn records_twenty_times_memory_read_back_exactly_on_a_memory_device() {
    let log = mem_log(14, 8); // 8 frames of 16 KiB = 128 KiB of memory
    let memory = log.config().memory_bytes();
    let placed = fill(&log, 20 * memory);
    assert!(log.tail_address().raw() > 20 * memory);
    check_every_record(&log, &placed);
    check_scan(&log, &placed);
}

#[test]
fn records_twenty_times_memory_read_back_exactly_on_a_file_device() {
    let dir = tempfile::tempdir().unwrap();
    let device: Arc<dyn Device> = Arc::new(
        FileDevice::builder(dir.path())
            .segment_size(1 << 20)
            .open()
            .unwrap(),
    );
    let log = HybridLog::open(
        LogConfig::new()
            .page_size_bits(15)
            .memory_pages(4)
            .mutable_fraction(0.5),
        device,
        Epoch::new(),
    )
    .unwrap();
    let memory = log.config().memory_bytes();
    let placed = fill(&log, 20 * memory);
    check_every_record(&log, &placed);
    check_scan(&log, &placed);
}
