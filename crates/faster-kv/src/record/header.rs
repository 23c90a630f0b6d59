//! The record header word: the previous address of the key's chain and the flag bits.

use faster_hlog::Address;

/// Header bit: the record deletes its key.
pub(crate) const TOMBSTONE: u64 = 1 << 48;
/// Header bit: the record is garbage (a lost insert race, or undone by recovery).
pub(crate) const INVALID: u64 = 1 << 49;
/// Header bit: written by an operation of the version after the checkpoint in progress.
pub(crate) const IN_NEW_VERSION: u64 = 1 << 50;
/// Header bit: a newer copy is being made; no more in-place updates (rule R5).
pub(crate) const SEALED: u64 = 1 << 51;
/// Header bit: an in-place update of a word value holds the record (checkpoint phases only,
/// rule R7). Never set on a record that reaches the device: pages are flushed only below the
/// safe read-only address, where nobody updates in place.
pub(crate) const LOCKED: u64 = 1 << 52;
/// Bits that must be zero in a record of this format version.
pub(crate) const RESERVED: u64 =
    !((Address::LIMIT - 1) | TOMBSTONE | INVALID | IN_NEW_VERSION | SEALED | LOCKED);

/// A record header word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header(pub(crate) u64);

impl Header {
    pub(crate) fn new(previous: Address, flags: u64) -> Self {
        Self(previous.raw() | flags)
    }
    pub(crate) fn previous(self) -> Address {
        Address::from_masked(self.0)
    }
    pub(crate) fn is_tombstone(self) -> bool {
        self.0 & TOMBSTONE != 0
    }
    pub(crate) fn is_invalid(self) -> bool {
        self.0 & INVALID != 0
    }
    pub(crate) fn is_sealed(self) -> bool {
        self.0 & SEALED != 0
    }
    pub(crate) fn in_new_version(self) -> bool {
        self.0 & IN_NEW_VERSION != 0
    }
}
