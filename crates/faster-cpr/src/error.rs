//! Errors of checkpoint metadata and checkpoint directories.

use std::path::PathBuf;

use crate::ids::CheckpointToken;

/// What is wrong with a blob of checkpoint bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The bytes do not start with the expected magic.
    #[error("bad magic")]
    BadMagic,
    /// Written by a format version this build does not read.
    #[error("format version {found} is not supported (this build reads {supported})")]
    UnsupportedVersion {
        /// The version in the bytes.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// Fewer bytes than the header says.
    #[error("truncated: {got} bytes where {needed} are needed")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The checksum does not match the bytes.
    #[error("checksum mismatch")]
    ChecksumMismatch,
    /// The payload passed its checksum but does not decode (a bug or a foreign writer).
    #[error("payload does not decode: {0}")]
    Decode(String),
    /// The metadata decodes but says something impossible.
    #[error("inconsistent metadata: {0}")]
    Inconsistent(&'static str),
}

impl From<faster_device::envelope::EnvelopeError> for FormatError {
    fn from(e: faster_device::envelope::EnvelopeError) -> Self {
        use faster_device::envelope::EnvelopeError as E;
        match e {
            E::Truncated { needed, got } => Self::Truncated { needed, got },
            E::BadMagic => Self::BadMagic,
            E::UnsupportedVersion { found, supported } => {
                Self::UnsupportedVersion { found, supported }
            }
            E::ChecksumMismatch => Self::ChecksumMismatch,
            other => Self::Decode(other.to_string()),
        }
    }
}

/// Errors of reading and writing checkpoints on disk; each names the file involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointFileError {
    /// A file could not be read, written, synced, renamed or removed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file's bytes are not valid.
    #[error("{}: {source}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: FormatError,
    },
    /// No checkpoint with this token exists (or it never completed).
    #[error("no complete checkpoint {token} in {}", dir.display())]
    NotFound {
        /// The token asked for.
        token: CheckpointToken,
        /// The checkpoint directory.
        dir: PathBuf,
    },
}

impl From<faster_device::DurableError> for CheckpointFileError {
    fn from(e: faster_device::DurableError) -> Self {
        match e {
            faster_device::DurableError::Io { path, source } => Self::Io { path, source },
            other => Self::Io {
                path: other.path().to_path_buf(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}
