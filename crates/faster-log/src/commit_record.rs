//! The commit record: what a commit makes durable (begin, committed-until, generation, named
//! iterator positions), with a magic, a format version and a checksum. The same bytes are
//! stored in a metadata slot of the commit device or, for a fast commit, as the payload of a
//! commit entry in the log. `docs/formats.md` has the byte diagram; this module is the only code
//! that writes or reads it.

use faster_hlog::Address;
use twox_hash::XxHash3_64;

/// The first eight bytes of every commit record.
pub const COMMIT_MAGIC: [u8; 8] = *b"FLOGCMIT";
/// The format version this crate writes and reads.
pub const COMMIT_FORMAT_VERSION: u32 = 1;
/// Bytes of the fixed part of a commit record (before the iterators).
pub const COMMIT_HEADER_SIZE: usize = 72;
/// The longest iterator name, in bytes of UTF-8.
pub const MAX_ITERATOR_NAME_LEN: usize = 255;
/// The longest record [`CommitRecord::decode`] accepts: 16 MiB.
pub const MAX_COMMIT_RECORD_SIZE: usize = 16 << 20;

/// Flag: the record was written into the log by a fast commit.
const FLAG_FAST: u8 = 1;
/// Bytes of one iterator besides its name: name length (u16) and address (u64).
const ITERATOR_FIXED_SIZE: usize = 10;

/// The content of one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRecord {
    /// The commit number: one more than the previous commit's.
    pub sequence: u64,
    /// The generation of the entries written from `until` on (rule L6); its low 32 bits are
    /// never zero.
    pub generation: u64,
    /// The log's begin address: everything below it is truncated.
    pub begin: u64,
    /// Every entry below this address is committed.
    pub until: u64,
    /// The `until` of the commit before (a fast commit's chain link, rule L5); equal to
    /// `until` in metadata written at open.
    pub prev_until: u64,
    /// The log's page size as a power of two.
    pub page_size_bits: u8,
    /// Whether the record was written into the log (a fast commit) rather than a metadata slot.
    pub fast: bool,
    /// Named iterators and their persisted positions, sorted by name, names unique.
    pub iterators: Vec<(String, u64)>,
}

/// Why bytes are not a valid commit record. Each variant names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommitRecordError {
    /// Fewer bytes than the fixed header.
    #[error("commit record: {available} bytes, fewer than the {COMMIT_HEADER_SIZE}-byte header")]
    TooShort {
        /// Bytes given.
        available: usize,
    },
    /// The magic is not `FLOGCMIT`.
    #[error("commit record: bad magic {found:02x?}")]
    BadMagic {
        /// The first eight bytes.
        found: [u8; 8],
    },
    /// A format version this crate does not know.
    #[error("commit record: format version {found}, expected {COMMIT_FORMAT_VERSION}")]
    UnsupportedVersion {
        /// The version field.
        found: u32,
    },
    /// The length field is shorter than the header, longer than the bytes, or too large.
    #[error("commit record: length field {length} does not fit the {available} bytes given")]
    BadLength {
        /// The length field.
        length: u32,
        /// Bytes given.
        available: usize,
    },
    /// The checksum does not match.
    #[error("commit record: checksum {stored:#018x} does not match {computed:#018x}")]
    Checksum {
        /// The checksum field.
        stored: u64,
        /// The checksum of the bytes.
        computed: u64,
    },
    /// A field holds a value no writer produces.
    #[error("commit record: field `{field}` is invalid: {reason}")]
    InvalidField {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An iterator entry is malformed.
    #[error("commit record: iterator #{index} is invalid: {reason}")]
    InvalidIterator {
        /// Its position in the list.
        index: u32,
        /// What is wrong with it.
        reason: &'static str,
    },
}

fn get<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

/// The checksum of a record: xxh3-64 of bytes `24..length`, seeded with the xxh3-64 of
/// bytes `0..16` (so every byte but the checksum field itself is covered).
fn record_checksum(bytes: &[u8]) -> u64 {
    XxHash3_64::oneshot_with_seed(XxHash3_64::oneshot(&bytes[..16]), &bytes[24..])
}

impl CommitRecord {
    /// Bytes [`CommitRecord::encode`] produces.
    pub fn encoded_len(&self) -> usize {
        COMMIT_HEADER_SIZE
            + self
                .iterators
                .iter()
                .map(|(name, _)| ITERATOR_FIXED_SIZE + name.len())
                .sum::<usize>()
    }

    /// Bytes an iterator named `name` adds to a record.
    pub fn iterator_len(name: &str) -> usize {
        ITERATOR_FIXED_SIZE + name.len()
    }

    /// The record's bytes. The iterators are written in the order given; callers keep them
    /// sorted by name with unique names of 1..=255 bytes (decode checks it).
    pub fn encode(&self) -> Vec<u8> {
        let len = self.encoded_len();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&COMMIT_MAGIC);
        out.extend_from_slice(&COMMIT_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&self.sequence.to_le_bytes());
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.begin.to_le_bytes());
        out.extend_from_slice(&self.until.to_le_bytes());
        out.extend_from_slice(&self.prev_until.to_le_bytes());
        out.push(self.page_size_bits);
        out.push(if self.fast { FLAG_FAST } else { 0 });
        out.extend_from_slice(&[0; 2]);
        let count = u32::try_from(self.iterators.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_le_bytes());
        for (name, address) in &self.iterators {
            let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&name_len.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&address.to_le_bytes());
        }
        let checksum = record_checksum(&out);
        out[16..24].copy_from_slice(&checksum.to_le_bytes());
        out
    }

    /// Parses and validates a record from the start of `bytes` (bytes after its length are
    /// ignored). Never panics.
    ///
    /// # Errors
    /// See [`CommitRecordError`]: each check names the field it rejects.
    pub fn decode(bytes: &[u8]) -> Result<Self, CommitRecordError> {
        if bytes.len() < COMMIT_HEADER_SIZE {
            return Err(CommitRecordError::TooShort {
                available: bytes.len(),
            });
        }
        let magic: [u8; 8] = get(bytes, 0);
        if magic != COMMIT_MAGIC {
            return Err(CommitRecordError::BadMagic { found: magic });
        }
        let version = u32::from_le_bytes(get(bytes, 8));
        if version != COMMIT_FORMAT_VERSION {
            return Err(CommitRecordError::UnsupportedVersion { found: version });
        }
        let length = u32::from_le_bytes(get(bytes, 12));
        let len = length as usize;
        if len < COMMIT_HEADER_SIZE || len > bytes.len() || len > MAX_COMMIT_RECORD_SIZE {
            return Err(CommitRecordError::BadLength {
                length,
                available: bytes.len(),
            });
        }
        let bytes = &bytes[..len];
        let stored = u64::from_le_bytes(get(bytes, 16));
        let computed = record_checksum(bytes);
        if stored != computed {
            return Err(CommitRecordError::Checksum { stored, computed });
        }
        let u64_at = |at| u64::from_le_bytes(get(bytes, at));
        let record = Self {
            sequence: u64_at(24),
            generation: u64_at(32),
            begin: u64_at(40),
            until: u64_at(48),
            prev_until: u64_at(56),
            page_size_bits: bytes[64],
            fast: bytes[65] & FLAG_FAST != 0,
            iterators: decode_iterators(bytes)?,
        };
        if bytes[65] & !FLAG_FAST != 0 {
            return invalid("flags", "unknown flag bits are set");
        }
        if bytes[66] != 0 || bytes[67] != 0 {
            return invalid("reserved", "must be zero");
        }
        record.validate()?;
        Ok(record)
    }

    /// Checks the relations between fields that every writer keeps.
    fn validate(&self) -> Result<(), CommitRecordError> {
        if self.generation as u32 == 0 {
            return invalid("generation", "its low 32 bits are zero");
        }
        if !(12..=30).contains(&self.page_size_bits) {
            return invalid("page_size_bits", "outside 12..=30");
        }
        for (field, value) in [
            ("begin", self.begin),
            ("until", self.until),
            ("prev_until", self.prev_until),
        ] {
            if value >= Address::LIMIT {
                return invalid(field, "not below 2^48");
            }
            if !value.is_multiple_of(8) {
                return invalid(field, "not 8-byte aligned");
            }
        }
        if self.begin > self.until {
            return invalid("begin", "above `until`");
        }
        if self.prev_until > self.until {
            return invalid("prev_until", "above `until`");
        }
        Ok(())
    }
}

fn invalid<T>(field: &'static str, reason: &'static str) -> Result<T, CommitRecordError> {
    Err(CommitRecordError::InvalidField { field, reason })
}

/// Parses the iterator list that fills `bytes[72..]` exactly.
fn decode_iterators(bytes: &[u8]) -> Result<Vec<(String, u64)>, CommitRecordError> {
    let count = u32::from_le_bytes(get(bytes, 68));
    let room = (bytes.len() - COMMIT_HEADER_SIZE) / ITERATOR_FIXED_SIZE;
    if count as usize > room {
        return invalid(
            "iterator_count",
            "more iterators than the record has bytes for",
        );
    }
    let mut iterators: Vec<(String, u64)> = Vec::with_capacity(count as usize);
    let mut at = COMMIT_HEADER_SIZE;
    for index in 0..count {
        let bad = |reason| Err(CommitRecordError::InvalidIterator { index, reason });
        if at + 2 > bytes.len() {
            return bad("name length runs past the record");
        }
        let name_len = u16::from_le_bytes(get(bytes, at)) as usize;
        at += 2;
        if name_len == 0 || name_len > MAX_ITERATOR_NAME_LEN {
            return bad("name length outside 1..=255");
        }
        if at + name_len + 8 > bytes.len() {
            return bad("name or address runs past the record");
        }
        let Ok(name) = std::str::from_utf8(&bytes[at..at + name_len]) else {
            return bad("name is not UTF-8");
        };
        at += name_len;
        let address = u64::from_le_bytes(get(bytes, at));
        at += 8;
        if address >= Address::LIMIT {
            return bad("address not below 2^48");
        }
        if iterators
            .last()
            .is_some_and(|(last, _)| last.as_str() >= name)
        {
            return bad("names are not sorted and unique");
        }
        iterators.push((name.to_owned(), address));
    }
    if at != bytes.len() {
        return invalid("length", "bytes left over after the last iterator");
    }
    Ok(iterators)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CommitRecord {
        CommitRecord {
            sequence: 9,
            generation: 0x1_0000_0003,
            begin: 64,
            until: 8192,
            prev_until: 4096,
            page_size_bits: 12,
            fast: true,
            iterators: vec![("a".into(), 64), ("consumer".into(), 1024)],
        }
    }

    #[test]
    fn a_record_round_trips() {
        let record = sample();
        let bytes = record.encode();
        assert_eq!(bytes.len(), record.encoded_len());
        assert_eq!(CommitRecord::decode(&bytes), Ok(record.clone()));
        // Trailing bytes beyond the length (the rest of a slot) are ignored.
        let mut padded = bytes.clone();
        padded.extend_from_slice(&[0xAB; 100]);
        assert_eq!(CommitRecord::decode(&padded), Ok(record));
    }

    #[test]
    fn every_byte_flip_is_a_clear_error() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x40;
            let err = CommitRecord::decode(&flipped).expect_err("flip must be detected");
            let message = err.to_string();
            assert!(message.starts_with("commit record: "), "{message}");
        }
    }

    #[test]
    fn each_check_names_its_field() {
        let mut record = sample();
        record.begin = 10_000;
        assert_eq!(
            CommitRecord::decode(&record.encode()),
            Err(CommitRecordError::InvalidField {
                field: "begin",
                reason: "above `until`"
            })
        );
        let mut record = sample();
        record.iterators = vec![("b".into(), 1), ("a".into(), 2)];
        assert!(matches!(
            CommitRecord::decode(&record.encode()),
            Err(CommitRecordError::InvalidIterator { index: 1, .. })
        ));
        let mut record = sample();
        record.generation = 1 << 32;
        assert!(matches!(
            CommitRecord::decode(&record.encode()),
            Err(CommitRecordError::InvalidField {
                field: "generation",
                ..
            })
        ));
        assert!(matches!(
            CommitRecord::decode(&[0; 10]),
            Err(CommitRecordError::TooShort { available: 10 })
        ));
        let mut bytes = sample().encode();
        bytes[8] = 2;
        assert_eq!(
            CommitRecord::decode(&bytes),
            Err(CommitRecordError::UnsupportedVersion { found: 2 })
        );
    }
}
