//! Test records for the hybrid log: `[len: u32][writer: u32][seq: u64][payload]`, where the
//! payload is a pattern derived from `(writer, seq)`, so every byte can be checked.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::sync::Arc;

use faster_device::{Device, MemDevice};
use faster_epoch::Epoch;
use faster_hlog::{Address, HybridLog, LogConfig};

pub(crate) const HEADER: usize = 16;

/// The bytes of record `(writer, seq)` with `payload_len` payload bytes.
pub(crate) fn record(writer: u32, seq: u64, payload_len: usize) -> Vec<u8> {
    let len = HEADER + payload_len;
    let mut bytes = Vec::with_capacity(len);
    bytes.extend_from_slice(&u32::try_from(len).unwrap().to_le_bytes());
    bytes.extend_from_slice(&writer.to_le_bytes());
    bytes.extend_from_slice(&seq.to_le_bytes());
    let mut x = (u64::from(writer) << 32) ^ seq ^ 0x9e37_79b9_7f4a_7c15;
    for _ in 0..payload_len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push(x as u8);
    }
    bytes
}

/// Payload length of the `seq`th record of `writer`: varied, 0..=300 bytes.
pub(crate) fn payload_len(writer: u32, seq: u64) -> usize {
    ((u64::from(writer) * 31 + seq * 17) % 301) as usize
}

/// The sizer for `LogScan`: reads the length field, `None` for the zeros at a page's end.
pub(crate) fn sizer(bytes: &[u8]) -> Option<u64> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    (len != 0).then_some(u64::from(len))
}

/// `(writer, seq)` of a record's bytes.
pub(crate) fn identity(bytes: &[u8]) -> (u32, u64) {
    (
        u32::from_le_bytes(bytes[4..8].try_into().unwrap()),
        u64::from_le_bytes(bytes[8..16].try_into().unwrap()),
    )
}

/// A small log on a memory device: pages of `1 << page_bits`, `pages` frames.
pub(crate) fn mem_log(page_bits: u32, pages: u64) -> HybridLog {
    let device: Arc<dyn Device> =
        Arc::new(MemDevice::builder().segment_size(1 << 20).build().unwrap());
    HybridLog::open(
        LogConfig::new()
            .page_size_bits(page_bits)
            .memory_pages(pages)
            .mutable_fraction(0.5),
        device,
        Epoch::new(),
    )
    .unwrap()
}

/// Writes `bytes` into the freshly allocated `address`.
pub(crate) fn write_at(log: &HybridLog, address: Address, bytes: &[u8]) {
    // SAFETY: rule H4 — the caller allocated `address` with at least `bytes.len()` bytes and
    // still holds the guard it allocated under: the owner writes its fresh allocation.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), log.frame_ptr(address), bytes.len());
    }
}

/// Reads the record at `address` back, from memory if it is there, else from the device.
pub(crate) fn read_back(log: &HybridLog, address: Address, len: usize) -> Vec<u8> {
    let handle = log.epoch().register().unwrap();
    let guard = handle.protect();
    if let Some(ptr) = log.get(address, &guard) {
        // SAFETY: rule H6 — `get` checked `address >= head` under `guard`, which is still held;
        // the record is below the tail and complete (its writer has finished).
        return unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len) }.to_vec();
    }
    drop(guard);
    let buffer = log.read_blocking(address, len as u64).unwrap();
    buffer.bytes()[..len].to_vec()
}
