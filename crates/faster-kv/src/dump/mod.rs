//! Dumping a store's live records to a file and loading them into a store: a portable copy of
//! the data, independent of the log, the index, the page size and the checkpoints.
//!
//! [`dump`] writes every live record of a store (from [`FasterKv::scan`](crate::FasterKv::scan))
//! as its codecs' encoded bytes; [`load`] upserts the records of a dump into a store through
//! one session. The file is versioned and checksummed (`docs/formats.md`, "Dump file"):
//!
//! - a header: magic, format version, the key and value codecs the store records;
//! - blocks of records, each with its record count, byte length and an xxh3 checksum, each
//!   record its key and value lengths, then its key and value bytes;
//! - a trailer with the total record count, after which the file must end.
//!
//! Loading refuses a dump whose codecs are not the target store's
//! ([`DumpError::CodecMismatch`]), a dump of another format version
//! ([`DumpError::UnsupportedVersion`]), and any damage — a wrong checksum, an impossible
//! length, a missing trailer — with an error, never a panic. Every length is checked before
//! anything is allocated for it, and a block's bytes are read as they arrive, so a damaged
//! length costs no more memory than the file holds.
//!
//! ```
//! use faster_kv::{FasterKv, dump};
//!
//! let store: FasterKv<str, u64> = FasterKv::builder().in_memory().open()?;
//! store.session()?.upsert("apples", &3)?;
//! let mut file = Vec::new();
//! let written = dump::dump(&store, &mut file, |_| {})?;
//! assert_eq!(written.records, 1);
//!
//! let copy: FasterKv<str, u64> = FasterKv::builder().in_memory().open()?;
//! let loaded = dump::load(&copy, file.as_slice(), |_| {})?;
//! assert_eq!(loaded.records, 1);
//! assert_eq!(copy.session()?.read("apples")?, Some(3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod format;
mod reader;
mod run;
mod writer;

pub use error::DumpError;
pub use format::{BLOCK_TARGET_BYTES, DUMP_MAGIC, DUMP_VERSION, DumpHeader, MAX_BLOCK_BYTES};
pub use reader::{DumpReader, DumpRecord, DumpRecords};
pub use run::{DumpProgress, DumpSummary, LoadSummary, ScanPosition, dump, load, load_from};
pub use writer::DumpWriter;
