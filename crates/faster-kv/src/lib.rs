//! FasterKv: a concurrent key-value store whose data may be far larger than memory, with
//! checkpoints that recover a consistent prefix of every thread's operations.
//!
//! # Quick start
//!
//! A store lives in a directory. Opening the directory creates the store the first time and
//! recovers it afterwards; a checkpoint makes what was written durable.
//!
//! ```
//! use faster_kv::{FasterKv, Opened};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! // First run: the directory is empty, so a store is created.
//! let store: FasterKv<str, u64> = FasterKv::open(dir)?;
//! assert_eq!(store.opened(), Opened::Created);
//! let mut session = store.session()?; // one session per thread
//! session.upsert("apples", &3)?;
//! session.add("apples", 2)?; // an atomic counter update, in place
//! store.checkpoint()?.wait()?; // durable from here on
//! session.upsert("pears", &1)?; // not checkpointed: gone after a restart
//! drop((session, store));
//!
//! // A restart: the same call recovers the newest checkpoint.
//! let store: FasterKv<str, u64> = FasterKv::open(dir)?;
//! assert!(matches!(store.opened(), Opened::Recovered(_)));
//! let mut session = store.session()?;
//! assert_eq!(session.read("apples")?, Some(5));
//! assert_eq!(session.read("pears")?, None);
//! # Ok(())
//! # }
//! ```
//!
//! Keys and values are [`Codec`]s: plain-old-data (`u64`, `[u8; N]`, `#[derive(Pod)]`
//! structs), `[u8]` and `str` of any length, or serde types through [`Serde`] (postcard:
//! compact, the type must not change) or [`Cbor`] (self-describing: survives added
//! `#[serde(default)]` fields). [`Expiring<V>`] gives any value an expiry: expired records
//! read as absent and compaction reclaims them ([`ttl`]). The store records its types and
//! settings in its manifest and
//! refuses to reopen with others ([`OpenError::TypeMismatch`],
//! [`OpenError::SettingMismatch`]); nothing needs repeating on a reopen.
//!
//! A store is held by one process at a time ([`OpenError::Locked`]). Checkpoints can run by
//! themselves ([`FasterKvBuilder::checkpoint_every`], [`FasterKvBuilder::checkpoint_every_bytes`],
//! [`FasterKvBuilder::checkpoint_on_close`]).
//!
//! # Durability
//!
//! Between checkpoints nothing is durable. A checkpoint runs while every session keeps
//! working; once [`CheckpointHandle::wait`] returns, the checkpoint holds, for every session,
//! its operations up to a *commit point* (a serial number) and none after — a consistent
//! prefix (CPR). Opening the store recovers the newest checkpoint that checks out and reports
//! each session's commit point ([`Recovered::sessions`]); [`FasterKv::continue_session`] gives
//! a session back at its commit point. A damaged checkpoint is passed over; an unreadable one
//! is an error, never silently skipped. The full contract, write order included, is the page
//! [`durability`].
//!
//! # Sessions and the advanced API
//!
//! Threads work through [`Session`]s: `read`, `upsert`, `rmw`, `add`, `delete`,
//! `insert_if_absent`, `compare_and_swap`. Each blocks for the device when the record is not
//! in memory. [`Session::pin`] keeps a session protected across a batch of operations (no
//! fences per operation); the pending API (`start_read`, `complete_pending`) keeps many device
//! reads in flight from one thread; prefetch hints and batched reads overlap cache misses.
//!
//! # Dumps and tools
//!
//! [`dump::dump`] writes a store's live records to a versioned, checksummed file and
//! [`dump::load`] upserts them into a store (`faster dump`, `faster load`). Tools that
//! cannot name a store's types open it with [`FasterKvBuilder::byte_codecs`] (`[u8]` and
//! `[u8; N]` in place of the recorded codecs) and create one for its owner with
//! [`FasterKvBuilder::record_codecs`].
//!
//! # A log that stays near its live size
//!
//! [`FasterKv::scan`] iterates the live records (each key's newest value once).
//! [`FasterKv::compact`] copies the live records below an address to the tail and drops the
//! rest; [`FasterKvBuilder::compaction`] does it in the background to keep the log under a
//! budget. The device deletes what no checkpoint needs any more (`docs/durability.md`), and
//! the hash index starts small and grows with the keys
//! ([`FasterKvBuilder::auto_grow_index`]).
//!
//! # Built on this crate, and not yet here
//!
//! F2 (a hot store of this kind beside a cold store) is the `faster-f2` crate, and the
//! Redis-protocol server the `faster-server` crate. Records carry no expiry yet.
//!
//! # Inside
//!
//! The algorithm, the record format and the rules the code cites (R1–R14) are on the page
//! [`protocol`]; the read cache's own rules (RC1–RC7) head its module, `read_cache`. Operations return [`OpError`]; [`Status`] (found, not found, pending) is an
//! outcome, not an error. Keys and values too large for a page are errors at the API.

mod async_scan;
mod chain;
pub mod checkpoint;
mod codec;
mod compact;
mod config;
pub mod dump;
mod error;
#[cfg(feature = "config")]
mod file_config;
mod grow;
mod kv;
mod lifecycle;
mod maintenance;
pub mod manifest;
#[cfg(any(feature = "prometheus", feature = "metrics"))]
mod metrics;
mod open;
mod opened;
mod ops;
mod pending;
pub mod protocol;
mod read_cache;
mod record;
mod scan;
mod session;
mod settings;
mod stats;
mod store;
mod store_dir;
mod sync;

pub use async_scan::{ASYNC_SCAN_BUFFER, AsyncScan, NextRecord};
pub use checkpoint::{CheckpointError, CheckpointHandle, CheckpointInfo, CheckpointOptions};
pub use codec::{
    Cbor, Codec, CodecDescriptor, CodecError, CodecKind, Expiring, ParseCodecKindError, Serde,
    expired, mix64, now_millis,
};
pub use compact::{
    CompactError, CompactOptions, CompactReport, CompactionKind, CompactionPolicy, CompactionSink,
    LiveRecord, ReclaimError,
};
pub use config::{
    DEFAULT_INDEX_BUCKETS, DEFAULT_MEMORY_BYTES, DEFAULT_PAGE_SIZE_BITS, DEFAULT_SEGMENT_SIZE,
    FasterKvBuilder,
};
pub use error::{CodecRole, OpError, OpErrorKind, OpenError, RecoverError, SessionError, Status};
pub use faster_cpr::{CheckpointToken, LogCheckpointKind, Serial, SessionCommit, SessionId};
pub use faster_hlog::Address;
#[cfg(feature = "prometheus")]
pub use faster_metrics::Exposition;
#[cfg(any(feature = "prometheus", feature = "metrics"))]
pub use faster_metrics::MetricSink;
#[cfg(feature = "config")]
pub use file_config::{CompactionConfig, CompactionKindConfig, FasterKvConfig};
pub use grow::GrowError;
pub use kv::FasterKv;
pub use opened::{Opened, Recovered};
pub use ops::batch::READ_BATCH_GROUP;
pub use ops::layered::{ChainMark, Layered, LayeredRmw, MarkedWrite};
pub use ops::update::Rmw;
pub use pending::api::{Completed, Outcome, PendingCompletion};
pub use pending::future::{AsyncSession, DIGEST_PER_POLL, OpFuture};
pub use read_cache::ReadCacheStats;
pub use scan::LiveScan;
pub use session::Session;
pub use session::pinned::{Pinned, REFRESH_INTERVAL};
pub use stats::{CheckpointStats, CompactionStats, MemoryUse, RetryStats, Stats};

/// The durability contract of faster-kv (and of the crates below it), as `docs/durability.md`
/// states it.
#[doc = include_str!("../../../docs/durability.md")]
pub mod durability {}

/// Values with an expiry, as `docs/ttl.md` describes them (its example is a doctest).
#[doc = include_str!("../../../docs/ttl.md")]
pub mod ttl {}

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
