//! [`Address`]: a position in the log's 48-bit logical address space.

use std::fmt;

/// A logical address in the hybrid log: `page << page_size_bits | offset`, below 2^48.
///
/// The log's page size is chosen when it is opened, so an address alone does not know its
/// page; ask the log ([`crate::HybridLog::page_of`]). Address 0 is never a record
/// ([`Address::INVALID`]); the log starts at [`Address::FIRST_VALID`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct Address(u64);

impl Address {
    /// Number of bits of an address.
    pub const BITS: u32 = 48;
    /// The largest address plus one.
    pub const LIMIT: u64 = 1 << Self::BITS;
    /// No record: the end of every hash chain.
    pub const INVALID: Self = Self(0);
    /// The first address a record can have. The bytes below it are never allocated, so that
    /// 0 and other small values stay free for sentinels (the hash index uses 0 and 1).
    pub const FIRST_VALID: Self = Self(64);

    /// The address `raw`, or `None` when it does not fit in 48 bits.
    #[inline]
    pub const fn new(raw: u64) -> Option<Self> {
        if raw < Self::LIMIT {
            Some(Self(raw))
        } else {
            None
        }
    }

    /// The address `raw` with its bits above 48 cleared: for values read from places that
    /// keep other bits beside an address (index entries, record headers).
    #[inline]
    pub const fn from_masked(raw: u64) -> Self {
        Self(raw & (Self::LIMIT - 1))
    }

    /// The address as a number.
    #[inline]
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// Whether this is [`Address::INVALID`].
    #[inline]
    pub const fn is_invalid(self) -> bool {
        self.0 == 0
    }

    /// This address plus `bytes`, or `None` past the address space.
    #[inline]
    pub const fn checked_add(self, bytes: u64) -> Option<Self> {
        match self.0.checked_add(bytes) {
            Some(raw) => Self::new(raw),
            None => None,
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({:#x})", self.0)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
