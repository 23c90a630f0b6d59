//! F2: a key-value store for data far larger than memory with a skewed access pattern — hot
//! keys updated in place in memory, cold keys on the device at about a byte of memory each
//! (after "F2: Designing a Key-Value Store for Large Skewed Workloads", PVLDB 18(12)).
//!
//! ```
//! use faster_f2::F2Kv;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let tmp = tempfile::tempdir()?;
//! let store: F2Kv<u64, u64> = F2Kv::builder(tmp.path()).hot_memory(16 << 20).open()?;
//! let mut session = store.session()?;
//! session.upsert(&1, &10)?;
//! assert_eq!(session.add(&1, 5)?, 15);
//! session.delete(&1)?;
//! assert_eq!(session.read(&1)?, None);
//! store.checkpoint()?; // durable: both stores
//! # Ok(())
//! # }
//! ```
//!
//! # How it is built
//!
//! - A **hot store**: a faster-kv store (`hot/`) with a read cache. Every write goes here:
//!   upserts, RMWs and deletes (a tombstone, even for a key only the cold store holds).
//! - A **cold store**: a log of cold records (`cold-log/`, a FasterLog) and a **cold index**
//!   (`cold-index/`): a two-level hash index whose chunks of 32 slots are the records of a
//!   small faster-kv store. Memory holds only that store's index (one entry per chunk) and its
//!   log budget, so a cold key costs about a byte of memory or less.
//! - **Reads** try the hot store (and its read cache), then the cold store; a value found
//!   cold is copied into the hot store's read cache.
//! - **Migration**: when the hot log passes its budget, a background thread hands its oldest
//!   live records (values and tombstones) to the cold store (faster-kv's `compact_into`) and
//!   drops them from the hot log. **Cold compaction** keeps the cold log near its live size.
//! - **Checkpoints** are the hot store's, with every session's commit point (CPR); the cold
//!   store never holds anything that is not durable already. Opening recovers all three
//!   parts. The directory's manifest (`F2`) records the cold index's size.
//!
//! # The rules
//!
//! - **HC1 — where a key's cold records are found.** Bits 16.. of the key's hash (the codec's
//!   `hash64`) pick one of 2^`chunk_bits` chunks, its top 5 bits a home slot of the chunk,
//!   its low 16 bits a tag. A slot holds a tag and the cold-log address of the newest record
//!   of its chain; each record holds the address of the previous one (0: none). A key's chain
//!   is the first slot from its home on that carries its tag; the first empty slot before
//!   that is where its chain will start; in a chunk with no slot left, its home slot's chain.
//!   Slots are taken in probe order and never emptied, so reads find what writes linked.
//! - **HC2 — committed before indexed.** Cold records are appended and the cold log committed
//!   (durable) before any slot points at them; only one thread writes the cold store at a time
//!   (migration and cold compaction take turns).
//! - **HC3 — walking a slot's chain.** From the slot's address down: each entry read back is
//!   checked (its entry checksum by the log, its fields by `cold/record.rs`), previous
//!   addresses must go down, and an address below the cold log's begin address ends the chain.
//! - **HC4 — cold compaction.** A record of `[begin, until)` that is still its key's newest is
//!   appended again (a value) or dropped (a tombstone, with every older record of its key,
//!   all below it); the copies are committed and the cold index checkpointed before the begin
//!   address moves. A crash at any point leaves a slot pointing at a record that exists.
//! - **HC5 — what comes from disk is checked.** The manifest, cold records and chunks are
//!   parsed with every length and field checked before use; damage is an error, never a
//!   wrong answer.
//! - **HC6 — migration keeps the prefix.** Only records below the start address of a durable
//!   hot checkpoint migrate (a checkpoint is taken first if needed), so every cold record
//!   belongs to the history a recovery restores: nothing written after a session's commit
//!   point can surface from the cold store. The cold store is made durable (committed and its
//!   index checkpointed) before the hot log's begin address moves, so a key is never in
//!   neither store. Until then it may be in both; the hot store's record is newer or equal.
//! - **HC7 — RMW of a cold key.** The hot store answers "no record" with a mark (its index
//!   entry); the update runs on the cold value and its result is installed in the hot store
//!   only if that entry still holds the mark, else the RMW runs again. Compare-and-swap and
//!   counters are RMWs.
//! - **HC8 — deletes.** A delete is a hot tombstone (appended even when the hot store has no
//!   record of the key); it migrates as a cold tombstone, which hides older cold records
//!   until cold compaction drops them together.
//!
//! # Not yet
//!
//! Sessions are blocking only (no pending or async forms); writers are not slowed when
//! migration falls behind the hot log's growth; the cold index does not grow (its chunk count
//! is fixed when the store is created).

mod cold;
#[cfg(feature = "config")]
mod config;
mod error;
mod manifest;
#[cfg(any(feature = "prometheus", feature = "metrics"))]
mod metrics;
mod migrate;
mod session;
mod store;

pub use cold::record::RecordError;

/// The formats an F2 directory adds to those of its parts (`docs/formats.md`), for tools and
/// for fuzzing: the manifest and the cold record.
pub mod format {
    pub use crate::cold::record::{ColdRecord, FORMAT as COLD_RECORD_FORMAT, encode, parse};
    pub use crate::manifest::F2Manifest;
}
#[cfg(feature = "config")]
pub use config::F2Config;
pub use error::{F2Error, Part};
#[cfg(feature = "prometheus")]
pub use faster_metrics::Exposition;
#[cfg(any(feature = "prometheus", feature = "metrics"))]
pub use faster_metrics::MetricSink;
pub use session::F2Session;
pub use store::{DEFAULT_CHUNK_BITS, F2Builder, F2Kv, F2Stats};
