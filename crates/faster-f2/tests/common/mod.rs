//! Helpers of the F2 tests.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::path::Path;
use std::time::Duration;

use faster_f2::{F2Builder, F2Kv};

/// A store whose budgets are tiny, so that keys move hot → cold after a few thousand
/// writes: 4 KiB hot pages, 64 KiB of them in memory, migration past 128 KiB of hot log,
/// 256 chunks of cold index, cold compaction past 1 MiB of cold log, checked every 5 ms.
pub(crate) fn tiny(dir: &Path) -> F2Builder {
    F2Kv::builder(dir)
        .page_size_bits(12)
        .hot_memory(16 << 12)
        .hot_log_budget(128 << 10)
        .read_cache(Some(256 << 10))
        .cold_index_chunk_bits(8)
        .cold_index_memory(1 << 20)
        .cold_log_budget(1 << 20)
        .check_every(Duration::from_millis(5))
}

/// The value key `k` holds after round `round`.
pub(crate) fn value(k: u64, round: u64) -> u64 {
    k.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ round
}
