//! Errors of the hybrid log.

use faster_device::DeviceError;
use faster_epoch::EpochError;

use crate::Address;

/// Errors of opening, allocating in, flushing and reading the hybrid log.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A setting is out of range; the message names it.
    #[error("invalid log configuration: {0}")]
    InvalidConfig(String),
    /// A record larger than a page cannot be allocated.
    #[error("a record of {size} bytes does not fit in a page of {page_size} bytes")]
    RecordTooLarge {
        /// Bytes asked for.
        size: u64,
        /// Bytes per page.
        page_size: u64,
    },
    /// The 48-bit address space is used up.
    #[error("the log's address space is exhausted")]
    AddressSpaceExhausted,
    /// A flush failed: the log refuses to go on until it is reopened.
    #[error("the log is poisoned by a failed flush: {0}")]
    Poisoned(DeviceError),
    /// The device failed a read or refused a request.
    #[error("device error: {0}")]
    Device(#[from] DeviceError),
    /// The address lies below the log's begin address: its record was truncated away.
    #[error("address {address} is below the log's begin address {begin}")]
    Truncated {
        /// The address asked for.
        address: Address,
        /// The begin address.
        begin: Address,
    },
    /// An address range that the operation cannot take (for example above the tail).
    #[error("invalid range {from}..{to}: {reason}")]
    InvalidRange {
        /// Start of the range.
        from: Address,
        /// End of the range.
        to: Address,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A scan found bytes that are not a record of a plausible size.
    #[error("corrupt record at {address}: {reason}")]
    CorruptRecord {
        /// Where the bad record starts.
        address: Address,
        /// What is wrong.
        reason: &'static str,
    },
    /// The epoch table had no room for the thread that needed protection.
    #[error("epoch: {0}")]
    Epoch(#[from] EpochError),
}

impl LogError {
    pub(crate) fn config(message: String) -> Self {
        Self::InvalidConfig(message)
    }
}
