//! Hybrid log throughput: allocate + write of 24-byte records on 1 and 2 threads (huge pages
//! on and off), and sustained appending to a file device while pages are flushed and evicted,
//! beside a plain sequential write of the same bytes to the same kind of device.
//!
//! Run with `cargo xtask bench hlog` (or `cargo bench -p faster-hlog --bench hlog`).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use faster_device::{AlignedBuf, Device, DeviceExt, FileDevice, MemDevice};
use faster_epoch::Epoch;
use faster_hlog::{HybridLog, LogConfig};

const RECORD: u64 = 24;

/// Appends `per_thread` records of `size` bytes from each of `threads` threads; returns the
/// elapsed time of the slowest thread.
fn append(log: &HybridLog, threads: usize, per_thread: u64, size: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (log, barrier) = (log.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let handle = log.epoch().register().expect("epoch slot");
                let mut guard = handle.protect();
                barrier.wait();
                let start = Instant::now();
                for i in 0..per_thread {
                    let address = log.allocate(size, &mut guard).expect("allocate");
                    let ptr = log.frame_ptr(address);
                    let value = (t as u64) << 48 | i;
                    // SAFETY: rules H2, H4 — the bytes were just allocated under `guard`: this
                    // thread owns them until it refreshes.
                    unsafe {
                        std::ptr::write_unaligned(ptr.cast::<u64>(), size);
                        std::ptr::write_unaligned(ptr.add(8).cast::<u64>(), value);
                        std::ptr::write_unaligned(ptr.add(16).cast::<u64>(), !value);
                    }
                    if i % 64 == 0 {
                        guard.refresh();
                    }
                }
                start.elapsed()
            })
        })
        .collect();
    workers
        .into_iter()
        .map(|w| w.join().expect("bench thread"))
        .max()
        .unwrap_or_default()
}

fn in_memory(threads: usize, huge_pages: bool) -> f64 {
    let per_thread = 20_000_000 / threads as u64;
    let device: Arc<dyn Device> = Arc::new(MemDevice::new());
    // 1 GiB of frames: the 480 MB appended never leave memory.
    let config = LogConfig::new()
        .page_size_bits(22)
        .memory_pages(256)
        .huge_pages(huge_pages);
    let log = HybridLog::open(config, device, Epoch::new()).expect("open");
    let elapsed = append(&log, threads, per_thread, RECORD);
    (per_thread * threads as u64) as f64 / elapsed.as_secs_f64() / 1e6
}

fn to_file(threads: usize, record: u64) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let device = FileDevice::builder(dir.path())
        .segment_size(1 << 30)
        .direct_io(true)
        .open_auto()
        .expect("file device")
        .0;
    // 64 MiB of memory; append 1 GiB so that nearly everything is flushed and evicted.
    let config = LogConfig::new().page_size_bits(22).memory_pages(16);
    let log = HybridLog::open(config, device, Epoch::new()).expect("open");
    let total: u64 = 1 << 30;
    let per_thread = total / record / threads as u64;
    let start = Instant::now();
    append(&log, threads, per_thread, record);
    log.flush_and_sync().expect("flush");
    let elapsed = start.elapsed().as_secs_f64();
    let records = (per_thread * threads as u64) as f64;
    (
        records * record as f64 / elapsed / 1e6,
        records / elapsed / 1e6,
    )
}

fn raw_sequential_write() -> f64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let device = FileDevice::builder(dir.path())
        .segment_size(1 << 30)
        .direct_io(true)
        .open_auto()
        .expect("file device")
        .0;
    let chunk = AlignedBuf::zeroed(4 << 20);
    let total: u64 = 1 << 30;
    let start = Instant::now();
    let mut offset = 0;
    while offset < total {
        device.write_blocking(offset, &chunk).expect("write");
        offset += chunk.len() as u64;
    }
    device.flush().expect("flush");
    total as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn main() {
    println!("faster-hlog: allocate + write of {RECORD}-byte records, log in memory (Mops/s)");
    println!("{:<24} {:>10} {:>10}", "", "1 thread", "2 threads");
    for huge in [true, false] {
        let one = in_memory(1, huge);
        let two = in_memory(2, huge);
        let name = if huge { "huge pages" } else { "4 KiB pages" };
        println!("{name:<24} {one:>10.1} {two:>10.1}");
    }
    println!();
    println!(
        "appending 1 GiB through 64 MiB of memory to a file device (O_DIRECT), incl. final flush"
    );
    println!("{:<24} {:>10} {:>12}", "", "MB/s", "Mrecords/s");
    for (threads, record) in [(1, 24), (2, 24), (1, 1024), (2, 1024)] {
        let (mb, mrec) = to_file(threads, record);
        println!(
            "{:<24} {mb:>10.0} {mrec:>12.2}",
            format!("{threads} thr, {record} B")
        );
    }
    let raw = raw_sequential_write();
    println!("{:<24} {raw:>10.0}", "raw 4 MiB writes, 1 thr");
}
