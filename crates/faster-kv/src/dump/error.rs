//! [`DumpError`]: why a dump could not be written, read or loaded.

use crate::error::{CodecRole, OpError, SessionError};

/// Why a dump could not be written, read or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// Reading or writing the file failed.
    #[error("dump file: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with the dump magic: it is not a dump.
    #[error("not a faster-kv dump: the file does not start with the dump magic")]
    BadMagic,
    /// The dump has a format version this build does not read (older or newer).
    #[error(
        "dump format version {found} is not supported: this build reads version {}",
        super::format::DUMP_VERSION
    )]
    UnsupportedVersion {
        /// The version the file names.
        found: u16,
    },
    /// The bytes at `offset` are damaged: a checksum, a length or a count is wrong.
    #[error("corrupt dump at byte {offset}: {reason}")]
    Corrupt {
        /// Offset in the file of the header, block or record that is wrong.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The file ends before its trailer: the dump was cut short.
    #[error("the dump is truncated: it ends at byte {offset}, before its trailer")]
    Truncated {
        /// Where the file ends.
        offset: u64,
    },
    /// The dump was written from a store with other codecs than the target store's.
    #[error("the dump's {role} codec is {dump}, but the store's is {store}")]
    CodecMismatch {
        /// Key or value.
        role: CodecRole,
        /// The codec the dump records.
        dump: String,
        /// The codec the store records.
        store: String,
    },
    /// A record is too large for a dump block (it cannot come from a store).
    #[error("a record of {bytes} bytes does not fit in a dump block")]
    RecordTooLarge {
        /// Bytes of the record: its lengths, key and value.
        bytes: u64,
    },
    /// A codec's name is too long to be written.
    #[error("a codec's {what} of {bytes} bytes is too long for a dump header")]
    DescriptorTooLong {
        /// `"kind"` or `"type name"`.
        what: &'static str,
        /// Its length.
        bytes: usize,
    },
    /// The store could not scan, encode, decode or upsert.
    #[error("{0}")]
    Op(#[from] OpError),
    /// Loading could not start a session.
    #[error("{0}")]
    Session(#[from] SessionError),
}
