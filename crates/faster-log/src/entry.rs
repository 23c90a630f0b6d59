//! The entry format: a 16-byte header (length and kind, generation, checksum) followed by the
//! payload, padded to 8 bytes. `docs/formats.md` has the byte diagram; this module is the only code
//! that writes or reads it.
//!
//! The checksum covers the payload, the length word, the generation and the entry's own
//! address, so an entry copied to the wrong place, left over from an earlier life of the log
//! (rule L6), torn, or flipped in any bit fails [`parse_entry`].

use twox_hash::XxHash3_64;

/// Bytes of an entry header.
pub const ENTRY_HEADER_SIZE: usize = 16;
/// Every entry starts and ends on a multiple of this many bytes.
pub const ENTRY_ALIGNMENT: usize = 8;
/// The largest payload the format can describe (the page size bounds it further).
pub const MAX_PAYLOAD_FORMAT: usize = (1 << 30) - 1;

/// Bits of the length word that hold the payload length.
const LENGTH_MASK: u32 = (1 << 30) - 1;
/// Reserved bit of the length word: always zero.
const RESERVED_BIT: u32 = 1 << 30;
/// Kind bit of the length word: set for a commit record kept in the log.
const COMMIT_BIT: u32 = 1 << 31;

/// What an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A payload enqueued by a user.
    Data,
    /// A commit record written into the log by a fast commit (rule L5); iterators skip it.
    Commit,
}

/// A valid entry found by [`parse_entry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Data or commit record.
    pub kind: EntryKind,
    /// The generation of the log's life that wrote it (never 0).
    pub generation: u32,
    /// The payload bytes.
    pub payload: &'a [u8],
    /// Bytes the entry occupies in the log: header plus payload, rounded up to 8.
    pub size: usize,
}

/// Why bytes are not a valid entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The header or the payload runs past the end of the bytes given (the end of the page).
    #[error("entry at {address}: {needed} bytes needed but only {available} remain in the page")]
    Truncated {
        /// The entry's address.
        address: u64,
        /// Bytes the header says the entry occupies.
        needed: usize,
        /// Bytes available up to the end of the page.
        available: usize,
    },
    /// The reserved bit of the length word is set.
    #[error("entry at {address}: reserved bit set in length word {word:#010x}")]
    ReservedBits {
        /// The entry's address.
        address: u64,
        /// The length word as read.
        word: u32,
    },
    /// The generation field is zero in a header that is not all zeros.
    #[error("entry at {address}: generation is zero")]
    ZeroGeneration {
        /// The entry's address.
        address: u64,
    },
    /// The checksum does not match the bytes.
    #[error("entry at {address}: checksum {stored:#018x} does not match {computed:#018x}")]
    Checksum {
        /// The entry's address.
        address: u64,
        /// The checksum in the header.
        stored: u64,
        /// The checksum of the bytes read.
        computed: u64,
    },
    /// The address is not a multiple of 8.
    #[error("entry address {address} is not 8-byte aligned")]
    Misaligned {
        /// The address given.
        address: u64,
    },
}

/// Bytes an entry with `payload_len` payload bytes occupies in the log.
#[inline]
pub const fn entry_size(payload_len: usize) -> usize {
    (ENTRY_HEADER_SIZE + payload_len).next_multiple_of(ENTRY_ALIGNMENT)
}

/// The hash of a payload that goes into its checksum (computed before the entry has an
/// address, so that no epoch protection is held while hashing).
#[inline]
pub fn payload_hash(payload: &[u8]) -> u64 {
    XxHash3_64::oneshot(payload)
}

/// The 64-bit finaliser of MurmurHash3: a bijection that spreads every input bit.
#[inline]
const fn fmix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The checksum of an entry at `address` with length word `word`, generation `generation`
/// and payload hash `hash` (see `docs/formats.md`).
#[inline]
pub fn checksum(address: u64, word: u32, generation: u32, hash: u64) -> u64 {
    let meta = (u64::from(word) << 32) | u64::from(generation);
    fmix(hash ^ fmix(address ^ meta.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
}

/// The length word of an entry of `kind` with `payload_len` bytes.
///
/// # Panics
/// In debug builds, if `payload_len` exceeds [`MAX_PAYLOAD_FORMAT`] (callers check first).
#[inline]
pub(crate) fn length_word(kind: EntryKind, payload_len: usize) -> u32 {
    debug_assert!(payload_len <= MAX_PAYLOAD_FORMAT);
    let len = (payload_len as u32) & LENGTH_MASK;
    match kind {
        EntryKind::Data => len,
        EntryKind::Commit => len | COMMIT_BIT,
    }
}

/// The header of an entry at `address`.
#[inline]
pub(crate) fn header(
    address: u64,
    kind: EntryKind,
    generation: u32,
    payload_len: usize,
    hash: u64,
) -> [u8; ENTRY_HEADER_SIZE] {
    let word = length_word(kind, payload_len);
    let mut bytes = [0; ENTRY_HEADER_SIZE];
    bytes[0..4].copy_from_slice(&word.to_le_bytes());
    bytes[4..8].copy_from_slice(&generation.to_le_bytes());
    bytes[8..16].copy_from_slice(&checksum(address, word, generation, hash).to_le_bytes());
    bytes
}

/// Writes a whole entry (header, payload, zero padding) into `dst`, which must hold
/// [`entry_size`]`(payload.len())` bytes. For tests and tools: the log writes its entries
/// straight into its pages.
///
/// # Panics
/// If `dst` is too short or `payload` longer than [`MAX_PAYLOAD_FORMAT`].
pub fn encode_entry(
    dst: &mut [u8],
    address: u64,
    kind: EntryKind,
    generation: u32,
    payload: &[u8],
) {
    assert!(payload.len() <= MAX_PAYLOAD_FORMAT, "payload too long");
    let size = entry_size(payload.len());
    let dst = &mut dst[..size];
    let hash = payload_hash(payload);
    dst[..ENTRY_HEADER_SIZE].copy_from_slice(&header(
        address,
        kind,
        generation,
        payload.len(),
        hash,
    ));
    dst[ENTRY_HEADER_SIZE..ENTRY_HEADER_SIZE + payload.len()].copy_from_slice(payload);
    dst[ENTRY_HEADER_SIZE + payload.len()..].fill(0);
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Parses the entry at `address` whose bytes start at `bytes[0]`; `bytes` runs to the end
/// of the entry's page (or further: nothing past the entry is read).
///
/// Returns `Ok(None)` when no entry starts here: the header is all zeros, or fewer than
/// [`ENTRY_HEADER_SIZE`] bytes remain and all of them are zero. That is the padding the log
/// leaves at the end of a page, or the end of the written log. Any other bytes that are not
/// a whole entry with a matching checksum are an [`EntryError`]. Never panics.
///
/// # Errors
/// See [`EntryError`].
pub fn parse_entry(address: u64, bytes: &[u8]) -> Result<Option<EntryRef<'_>>, EntryError> {
    if !address.is_multiple_of(ENTRY_ALIGNMENT as u64) {
        return Err(EntryError::Misaligned { address });
    }
    if bytes.len() < ENTRY_HEADER_SIZE {
        if bytes.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        return Err(EntryError::Truncated {
            address,
            needed: ENTRY_HEADER_SIZE,
            available: bytes.len(),
        });
    }
    let word = read_u32(bytes, 0);
    let generation = read_u32(bytes, 4);
    let stored = read_u64(bytes, 8);
    if word == 0 && generation == 0 && stored == 0 {
        return Ok(None);
    }
    if word & RESERVED_BIT != 0 {
        return Err(EntryError::ReservedBits { address, word });
    }
    if generation == 0 {
        return Err(EntryError::ZeroGeneration { address });
    }
    let len = (word & LENGTH_MASK) as usize;
    let size = entry_size(len);
    if size > bytes.len() {
        return Err(EntryError::Truncated {
            address,
            needed: size,
            available: bytes.len(),
        });
    }
    let payload = &bytes[ENTRY_HEADER_SIZE..ENTRY_HEADER_SIZE + len];
    let computed = checksum(address, word, generation, payload_hash(payload));
    if computed != stored {
        return Err(EntryError::Checksum {
            address,
            stored,
            computed,
        });
    }
    let kind = if word & COMMIT_BIT != 0 {
        EntryKind::Commit
    } else {
        EntryKind::Data
    };
    Ok(Some(EntryRef {
        kind,
        generation,
        payload,
        size,
    }))
}

/// The payload length and total size an entry header at the start of `bytes` claims, without
/// checking anything else; `None` for an all-zero header or fewer than 16 bytes. Used to know
/// how many bytes to copy before [`parse_entry`] checks them.
pub(crate) fn claimed_size(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < ENTRY_HEADER_SIZE || bytes[..ENTRY_HEADER_SIZE].iter().all(|&b| b == 0) {
        return None;
    }
    Some(entry_size((read_u32(bytes, 0) & LENGTH_MASK) as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(address: u64, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0; entry_size(payload.len()) + 8];
        encode_entry(&mut bytes, address, EntryKind::Data, 7, payload);
        bytes
    }

    #[test]
    fn an_entry_round_trips_with_its_kind_and_generation() {
        let bytes = entry(4096, b"hello");
        let parsed = parse_entry(4096, &bytes).unwrap().unwrap();
        assert_eq!(parsed.payload, b"hello");
        assert_eq!(parsed.kind, EntryKind::Data);
        assert_eq!(parsed.generation, 7);
        assert_eq!(parsed.size, 24);
        let mut commit = vec![0; 32];
        encode_entry(&mut commit, 64, EntryKind::Commit, 1, b"");
        assert_eq!(
            parse_entry(64, &commit).unwrap().unwrap().kind,
            EntryKind::Commit
        );
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = entry(4096, b"some payload bytes");
        let size = entry_size(18);
        for bit in 0..size * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            match parse_entry(4096, &flipped) {
                Ok(Some(e)) if bit / 8 >= 16 + 18 => {
                    // Padding bytes are not covered; the payload still reads back exactly.
                    assert_eq!(e.payload, b"some payload bytes");
                }
                Ok(other) => panic!("bit {bit}: flip not detected: {other:?}"),
                Err(_) => {}
            }
        }
    }

    #[test]
    fn an_entry_at_another_address_or_of_another_generation_is_rejected() {
        let bytes = entry(4096, b"x");
        assert!(matches!(
            parse_entry(4104, &bytes),
            Err(EntryError::Checksum { .. })
        ));
        let mut other_gen = bytes.clone();
        other_gen[4] = 8;
        assert!(matches!(
            parse_entry(4096, &other_gen),
            Err(EntryError::Checksum { .. })
        ));
    }

    #[test]
    fn zeros_are_padding_and_short_garbage_is_an_error() {
        assert_eq!(parse_entry(64, &[0; 16]), Ok(None));
        assert_eq!(parse_entry(64, &[0; 8]), Ok(None));
        assert_eq!(parse_entry(64, &[]), Ok(None));
        assert!(matches!(
            parse_entry(64, &[1, 0, 0, 0, 0, 0, 0, 0]),
            Err(EntryError::Truncated { .. })
        ));
        let bytes = entry(64, &[5; 40]);
        assert!(matches!(
            parse_entry(64, &bytes[..40]),
            Err(EntryError::Truncated { needed: 56, .. })
        ));
        assert!(matches!(
            parse_entry(65, &bytes),
            Err(EntryError::Misaligned { .. })
        ));
    }
}
