//! [`KeyHash`] and [`Entry`]: the 64-bit hash a caller computes for a key, and the 64-bit word a
//! bucket slot holds (layout in rule I1 of the crate docs).

use std::fmt;

use faster_address::Address;

/// The address of an entry that was created but whose record is not installed yet (rule I1).
///
/// It keeps a live entry non-zero even when its tag is 0. A log never hands out this address:
/// its first valid address is [`Address::FIRST_VALID`].
pub const UNSET_ADDRESS: Address = Address::from_masked(1);

/// Number of tag bits of an entry (bits 48–61), taken from the same bits of the key hash.
pub const TAG_BITS: u32 = 14;

/// Position of the tag in both the key hash and the entry: right above the address.
const TAG_SHIFT: u32 = Address::BITS;
// Rule I1: address, tag, reserved bit and tentative bit fill the word exactly. The layout is
// on disk (index snapshots), so it must not move with the address width.
const _: () = assert!(Address::BITS == 48 && Address::BITS + TAG_BITS + 2 == 64);
/// Tag bits, in place.
const TAG_MASK: u64 = ((1 << TAG_BITS) - 1) << TAG_SHIFT;
/// Bit 62: reserved, always 0 in a valid entry.
pub(crate) const RESERVED_BIT: u64 = 1 << 62;
/// Bit 63: the entry is a tentative claim of a slot (rule I3).
pub(crate) const TENTATIVE_BIT: u64 = 1 << 63;

/// The 64-bit hash of a key, computed by the caller (the index never sees keys).
///
/// The low bits choose the bucket (`hash & (buckets - 1)`), bits 48–61 are the tag stored in
/// the entry. A good hash has independent low and high bits: xxh3 for byte keys, or one
/// multiply-xorshift for a 64-bit key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KeyHash(pub u64);

impl KeyHash {
    /// The tag of this hash: bits 48–61.
    #[inline]
    pub const fn tag(self) -> u16 {
        ((self.0 & TAG_MASK) >> TAG_SHIFT) as u16
    }

    /// The bucket this hash falls in, in a table of `mask + 1` buckets.
    #[inline]
    pub(crate) const fn bucket(self, mask: u64) -> usize {
        (self.0 & mask) as usize
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({:#018x})", self.0)
    }
}

/// The word held by one slot of a bucket: an address, a tag and the tentative bit (rule I1).
///
/// `Entry::EMPTY` (the word 0) is a free slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Entry(u64);

impl Entry {
    /// The free slot.
    pub const EMPTY: Entry = Entry(0);

    /// A final (non-tentative) entry for `address` and `tag`; `tag` is cut to 14 bits.
    #[inline]
    pub const fn new(address: Address, tag: u16) -> Self {
        Self(address.raw() | (((tag as u64) << TAG_SHIFT) & TAG_MASK))
    }

    /// A tentative entry: the claim of a slot by an insertion that has not checked for a
    /// competing insertion of the same tag yet (rule I3).
    #[inline]
    pub(crate) const fn tentative(tag: u16) -> Self {
        Self(Self::new(UNSET_ADDRESS, tag).0 | TENTATIVE_BIT)
    }

    /// The entry with its raw 64-bit value, as stored in a bucket or a snapshot.
    #[inline]
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw 64-bit value.
    #[inline]
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// Whether this is the free slot.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The address: bits 0–47.
    #[inline]
    pub const fn address(self) -> Address {
        Address::from_masked(self.0)
    }

    /// The tag: bits 48–61.
    #[inline]
    pub const fn tag(self) -> u16 {
        ((self.0 & TAG_MASK) >> TAG_SHIFT) as u16
    }

    /// Whether the tentative bit (63) is set.
    #[inline]
    pub const fn is_tentative(self) -> bool {
        self.0 & TENTATIVE_BIT != 0
    }

    /// Whether the reserved bit (62) is set: never true of an entry this crate wrote.
    #[inline]
    pub(crate) const fn has_reserved_bit(self) -> bool {
        self.0 & RESERVED_BIT != 0
    }

    /// Whether this is a live, final entry for `tag`: what a lookup returns (rule I2).
    #[inline]
    pub(crate) const fn is_final_with_tag(self, tag: u16) -> bool {
        // Comparing the tag and tentative bits at once: a final entry for `tag` has exactly
        // `tag` there and bit 63 clear. The free slot has the same bits for tag 0, so it is
        // excluded separately.
        self.0 & (TAG_MASK | TENTATIVE_BIT) == (tag as u64) << TAG_SHIFT && self.0 != 0
    }

    /// The same entry with `address` in place of its own, tag kept, tentative bit cleared.
    #[inline]
    pub(crate) const fn with_address(self, address: Address) -> Self {
        Self::new(address, self.tag())
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("Entry(empty)");
        }
        f.debug_struct("Entry")
            .field("address", &self.address())
            .field("tag", &self.tag())
            .field("tentative", &self.is_tentative())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_fields_round_trip_and_stay_in_their_bits() {
        let e = Entry::new(Address::MAX, (1 << TAG_BITS) - 1);
        assert_eq!(e.address(), Address::MAX);
        assert_eq!(e.raw(), (1 << 62) - 1);
        assert_eq!(e.tag(), (1 << TAG_BITS) - 1);
        assert!(!e.is_tentative());
        assert!(!e.has_reserved_bit());
        let t = Entry::tentative(5);
        assert!(t.is_tentative());
        assert_eq!(t.address(), UNSET_ADDRESS);
        assert_eq!(t.tag(), 5);
        assert!(!t.is_final_with_tag(5));
        assert!(Entry::new(UNSET_ADDRESS, 0).is_final_with_tag(0));
        assert!(!Entry::EMPTY.is_final_with_tag(0));
        let at = |raw| Address::new(raw).unwrap();
        assert_eq!(
            Entry::new(at(77), 3).with_address(at(99)),
            Entry::new(at(99), 3)
        );
        assert_eq!(Entry::new(at(0x1234), 5).raw(), 5 << 48 | 0x1234);
        assert_eq!(Entry::tentative(5).raw(), 1 << 63 | 5 << 48 | 1);
    }

    #[test]
    fn key_hash_tag_is_bits_48_to_61() {
        let h = KeyHash(0xC123_4567_89AB_CDEF);
        assert_eq!(h.tag(), ((0xC123_4567_89AB_CDEF_u64 >> 48) & 0x3FFF) as u16);
        assert_eq!(h.bucket(0xFF), 0xEF);
    }
}
