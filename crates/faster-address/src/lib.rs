//! [`Address`]: a position in the 48-bit logical address space of faster-rs's hybrid log.
//!
//! The log hands addresses out and turns them into bytes; the hash index stores them in its
//! entries; the store follows chains of them from one to the other. This crate holds only the
//! type they share, so that each of them names the same type without naming the others: it
//! knows nothing of pages, records or entries, and depends on no other crate.
//!
//! ```
//! use faster_address::Address;
//!
//! let a = Address::new(4096).unwrap();
//! assert!(a >= Address::FIRST_VALID);
//! assert_eq!(a.checked_add(64), Address::new(4160));
//! assert_eq!(Address::new(Address::LIMIT), None);
//! assert_eq!(Address::from_masked(u64::MAX), Address::MAX);
//! ```

use std::fmt;

/// A logical address in the hybrid log: `page << page_size_bits | offset`, below 2^48.
///
/// The log's page size is chosen when it is opened, so an address alone does not know its
/// page; the log does. Address 0 is never a record ([`Address::INVALID`]); the log starts at
/// [`Address::FIRST_VALID`]. Every value of the type is below [`Address::LIMIT`]: the
/// constructors check ([`Address::new`]) or cut ([`Address::from_masked`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct Address(u64);

impl Address {
    /// Number of bits of an address.
    pub const BITS: u32 = 48;
    /// The largest address plus one.
    pub const LIMIT: u64 = 1 << Self::BITS;
    /// The largest address.
    pub const MAX: Self = Self(Self::LIMIT - 1);
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

#[cfg(test)]
mod tests {
    use super::Address;

    #[test]
    fn constructors_keep_every_value_below_the_limit() {
        assert_eq!(Address::new(Address::LIMIT - 1), Some(Address::MAX));
        assert_eq!(Address::new(Address::LIMIT), None);
        assert_eq!(Address::new(u64::MAX), None);
        assert_eq!(Address::from_masked(Address::LIMIT | 72).raw(), 72);
        assert_eq!(Address::MAX.checked_add(1), None);
        assert_eq!(Address::INVALID.checked_add(u64::MAX), None);
        assert_eq!(
            Address::FIRST_VALID.checked_add(8).map(Address::raw),
            Some(72)
        );
    }

    #[test]
    fn order_and_printing_follow_the_number() {
        assert!(Address::INVALID < Address::FIRST_VALID);
        assert!(Address::FIRST_VALID < Address::MAX);
        assert!(Address::INVALID.is_invalid() && !Address::FIRST_VALID.is_invalid());
        assert_eq!(Address::default(), Address::INVALID);
        assert_eq!(Address::FIRST_VALID.to_string(), "0x40");
        assert_eq!(format!("{:?}", Address::FIRST_VALID), "Address(0x40)");
    }
}
