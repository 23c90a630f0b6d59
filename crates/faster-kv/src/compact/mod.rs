//! Keeping the log near the size of its live data: the live-record scan, compaction, and
//! deleting what no recovery needs.
//!
//! - `live.rs`: whether a record is its key's newest, and the conditional copy to the tail.
//! - `records.rs`: reading a range of the log in batches.
//! - `worker.rs`: the session the store's maintenance runs operations in.
//! - `run.rs`: [`FasterKv::compact`](crate::FasterKv::compact), the lookup variant.
//! - `scan_based.rs`: the scan variant, the default.
//! - `export.rs`: [`FasterKv::compact_into`](crate::FasterKv::compact_into), handing live
//!   records to another store.
//! - `reclaim.rs`: deleting the device's bytes below the begin address, safely.
//! - `gate.rs`: compaction, scans and the log-size throttle.
//! - `auto.rs`: the background compaction that keeps the log under a size budget.

pub(crate) mod auto;
mod export;
pub(crate) mod gate;
pub(crate) mod live;
pub(crate) mod reclaim;
pub(crate) mod records;
mod run;
mod scan_based;
pub(crate) mod worker;

pub use self::auto::CompactionPolicy;
pub use self::export::{CompactionSink, LiveRecord};
pub use self::reclaim::ReclaimError;
pub use self::run::{CompactError, CompactOptions, CompactReport, CompactionKind};
