//! Code shared by the integration tests: self-checking payloads and small logs.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::sync::Arc;

use faster_log::{Device, FasterLog, FasterLogBuilder, LogIterator, MemDevice};

/// The payload of entry `seq` of `writer`: `[writer u32][seq u64][life u32]` then a pattern
/// derived from all three, `len` bytes in all (at least 16).
pub(crate) fn payload(writer: u32, seq: u64, life: u32, len: usize) -> Vec<u8> {
    let len = len.max(16);
    let mut bytes = Vec::with_capacity(len);
    bytes.extend_from_slice(&writer.to_le_bytes());
    bytes.extend_from_slice(&seq.to_le_bytes());
    bytes.extend_from_slice(&life.to_le_bytes());
    let mut x = (u64::from(writer) << 40) ^ seq.rotate_left(7) ^ (u64::from(life) << 20) ^ 0x9e37;
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push(x as u8);
    }
    bytes
}

/// Payload length of entry `seq` of `writer`: varied, 16..=max.
pub(crate) fn payload_len(writer: u32, seq: u64, max: usize) -> usize {
    16 + ((u64::from(writer) * 131 + seq * 37) % (max as u64 - 15)) as usize
}

/// `(writer, seq, life)` of a payload, after checking every byte of it.
pub(crate) fn identify(bytes: &[u8]) -> (u32, u64, u32) {
    assert!(bytes.len() >= 16, "payload too short: {}", bytes.len());
    let writer = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
    let seq = u64::from_le_bytes(bytes[4..12].try_into().unwrap());
    let life = u32::from_le_bytes(bytes[12..16].try_into().unwrap());
    assert_eq!(
        bytes,
        &payload(writer, seq, life, bytes.len())[..],
        "payload of ({writer}, {seq}, {life}) differs"
    );
    (writer, seq, life)
}

/// Memory devices for a log and its commit metadata.
pub(crate) fn mem_devices() -> (Arc<dyn Device>, Arc<dyn Device>) {
    (Arc::new(MemDevice::new()), Arc::new(MemDevice::new()))
}

/// A builder for a small log on the given devices: 4 KiB pages, 4 pages of memory.
pub(crate) fn small(log: &Arc<dyn Device>, commit: &Arc<dyn Device>) -> FasterLogBuilder {
    FasterLog::builder(Arc::clone(log), Arc::clone(commit))
        .page_size_bits(12)
        .memory_pages(4)
        .huge_pages(false)
}

/// Every committed entry's payload from the iterator's position on, without waiting.
pub(crate) fn drain(iter: &mut LogIterator) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(entry) = iter.next().unwrap() {
        out.push(entry.payload.to_vec());
    }
    out
}

/// A small deterministic generator.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
