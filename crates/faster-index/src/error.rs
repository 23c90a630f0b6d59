//! The errors of the index: [`Busy`] (retry after a refresh), [`IndexError`] (configuration,
//! growth, snapshots), [`SnapshotError`] (what is wrong with a snapshot's bytes) and
//! [`InvariantViolation`] (what [`HashIndex::check_invariants`](crate::HashIndex) found).

use faster_device::DeviceError;

/// The index is preparing to grow: refresh the guard and retry the operation.
///
/// Returned only between the start of a growth and the moment every thread protected before
/// it has refreshed (rule G2). The operation had no effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the index is preparing to grow: refresh the epoch guard and retry")]
pub struct Busy;

/// Errors of building, growing, snapshotting and restoring an index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The number of buckets is not a power of two, or is zero.
    #[error("a hash table needs a power-of-two number of buckets, not {buckets}")]
    NotPowerOfTwo {
        /// The number asked for.
        buckets: u64,
    },
    /// The table would be larger than [`MAX_TABLE_SIZE_BITS`](crate::MAX_TABLE_SIZE_BITS)
    /// allows.
    #[error("a table of 2^{size_bits} buckets is larger than the limit of 2^{max_bits}")]
    TooLarge {
        /// log2 of the number of buckets asked for.
        size_bits: u32,
        /// The largest allowed.
        max_bits: u32,
    },
    /// The allocator refused the table's memory.
    #[error("could not allocate {bytes} bytes for the hash table")]
    OutOfMemory {
        /// Bytes asked for.
        bytes: u64,
    },
    /// Another growth is running, or the operation needs a table that is not growing.
    #[error("the index is growing: wait for the growth to finish")]
    GrowInProgress,
    /// The guard passed to `grow` is nested inside another guard of the same handle, so
    /// refreshing it cannot move the thread's epoch and the growth would wait for itself.
    #[error("grow needs the outermost guard of its handle: a nested guard cannot refresh")]
    NestedGuard,
    /// The device's sector size is above the 1 MiB a snapshot may declare.
    #[error("sector size {sector_size} is above the 1 MiB a snapshot supports")]
    UnsupportedSectorSize {
        /// The device's sector size.
        sector_size: usize,
    },
    /// The device failed.
    #[error("device error: {0}")]
    Device(#[from] DeviceError),
    /// A snapshot's bytes are not a valid snapshot.
    #[error("invalid index snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
}

/// Which checksummed part of a snapshot failed its check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotPart {
    /// The header fields.
    Header,
    /// The buckets.
    Data,
}

impl std::fmt::Display for SnapshotPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SnapshotPart::Header => "header",
            SnapshotPart::Data => "data",
        })
    }
}

/// What is wrong with the bytes of a snapshot (format in the repository's `docs/formats.md`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The first eight bytes are not the snapshot magic.
    #[error("bad magic {found:02x?}: not an index snapshot")]
    BadMagic {
        /// The bytes found.
        found: [u8; 8],
    },
    /// The format version is not one this build reads.
    #[error("unsupported snapshot format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version found.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A checksum does not match the bytes it covers.
    #[error("{part} checksum mismatch: stored {stored:#018x}, computed {computed:#018x}")]
    ChecksumMismatch {
        /// The part whose checksum failed.
        part: SnapshotPart,
        /// The checksum in the header.
        stored: u64,
        /// The checksum of the bytes read.
        computed: u64,
    },
    /// Fewer bytes than the header promises.
    #[error("truncated snapshot: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes the snapshot needs.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// The checksums hold but a field or a bucket breaks a rule of the format.
    #[error("corrupt snapshot: {reason}")]
    Corrupt {
        /// Which rule is broken.
        reason: String,
    },
}

impl SnapshotError {
    pub(crate) fn corrupt(reason: impl Into<String>) -> Self {
        SnapshotError::Corrupt {
            reason: reason.into(),
        }
    }
}

/// A broken rule of the index found by
/// [`HashIndex::check_invariants`](crate::HashIndex::check_invariants).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvariantViolation {
    /// Two final entries with the same tag in one chain (rule I2).
    #[error("chain {chain} holds {count} final entries with tag {tag}")]
    DuplicateTag {
        /// The chain's bucket index.
        chain: u64,
        /// The duplicated tag.
        tag: u16,
        /// How many final entries carry it.
        count: usize,
    },
    /// An entry with the reserved bit set (rule I1).
    #[error("chain {chain} holds an entry with the reserved bit set: {raw:#018x}")]
    ReservedBit {
        /// The chain's bucket index.
        chain: u64,
        /// The entry's word.
        raw: u64,
    },
}
