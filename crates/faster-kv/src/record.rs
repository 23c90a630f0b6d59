//! The record format and the protocol for reading and updating records in memory (rules
//! R1–R6 of the `protocol` module; the byte diagram is in `docs/formats.md`).
//!
//! ```text
//! 0        8                16 (or 8 when both key and value have a fixed size)
//! | header | key_len value_len | key ... pad8 | value area
//!            u32     u32                        word values (fixed, <= 8 bytes): 8 bytes
//!                                               other values: seq u64, value ... pad8
//! ```

use std::sync::atomic::{AtomicU64, Ordering, fence};

use faster_hlog::Address;

use crate::codec::{Codec, is_word};

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

#[inline]
pub(crate) const fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

/// Where the parts of a record sit, for one pair of codecs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    key_fixed: Option<usize>,
    value_fixed: Option<usize>,
    /// Values live in one atomic word (fixed size of at most 8 bytes).
    pub(crate) value_word: bool,
}

impl Layout {
    pub(crate) const fn of<K: Codec + ?Sized, V: Codec + ?Sized>() -> Self {
        Self {
            key_fixed: K::FIXED_SIZE,
            value_fixed: V::FIXED_SIZE,
            value_word: is_word::<V>(),
        }
    }

    /// Whether records carry the lengths word.
    #[inline]
    const fn has_lengths(&self) -> bool {
        self.key_fixed.is_none() || self.value_fixed.is_none()
    }

    #[inline]
    pub(crate) const fn key_offset(&self) -> usize {
        if self.has_lengths() { 16 } else { 8 }
    }

    #[inline]
    pub(crate) const fn value_area_offset(&self, key_len: usize) -> usize {
        self.key_offset() + pad8(key_len)
    }

    /// Offset of the value bytes (after the sequence word for non-word values).
    #[inline]
    pub(crate) const fn value_offset(&self, key_len: usize) -> usize {
        self.value_area_offset(key_len) + if self.value_word { 0 } else { 8 }
    }

    /// Total bytes of a record with these lengths.
    #[inline]
    pub(crate) const fn record_size(&self, key_len: usize, value_len: usize) -> usize {
        let area = if self.value_word {
            8
        } else {
            8 + pad8(value_len)
        };
        self.value_area_offset(key_len) + area
    }

    /// The smallest prefix of a record from which its lengths can be read.
    pub(crate) const fn min_prefix(&self) -> usize {
        match (self.key_fixed, self.value_fixed) {
            (Some(k), Some(v)) => self.record_size(k, v),
            _ => 16,
        }
    }

    /// The key and value lengths stored in (or implied for) the record at `bytes`.
    /// `None` when `bytes` is shorter than [`Layout::min_prefix`].
    fn lengths(&self, bytes: &[u8]) -> Option<(usize, usize)> {
        if !self.has_lengths() {
            return Some((self.key_fixed.unwrap_or(0), self.value_fixed.unwrap_or(0)));
        }
        let word: [u8; 8] = bytes.get(8..16)?.try_into().ok()?;
        let word = u64::from_le_bytes(word);
        Some(((word & 0xffff_ffff) as usize, (word >> 32) as usize))
    }
}

/// A record parsed from bytes read back from the device.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parsed<'a> {
    pub(crate) header: Header,
    pub(crate) key: &'a [u8],
    pub(crate) value: &'a [u8],
    /// Bytes of the whole record.
    pub(crate) size: usize,
}

/// Outcome of [`parse`].
#[derive(Debug)]
pub(crate) enum Parse<'a> {
    Record(Parsed<'a>),
    /// The record is `n` bytes long; read that many.
    NeedBytes(usize),
    /// Not a record of this format.
    Corrupt(&'static str),
}

/// Parses the record at the start of `bytes` (rule R6: nothing read from the device is trusted
/// before these checks). `page_room` is how many bytes the record's page has left from its
/// start: a record never spans pages.
pub(crate) fn parse(bytes: &[u8], layout: Layout, page_room: usize) -> Parse<'_> {
    let Some(word) = bytes.get(..8) else {
        return Parse::NeedBytes(layout.min_prefix());
    };
    let header = Header(u64::from_le_bytes(word.try_into().unwrap_or([0; 8])));
    if header.0 & RESERVED != 0 {
        return Parse::Corrupt("reserved header bits are set");
    }
    let Some((key_len, value_len)) = layout.lengths(bytes) else {
        return Parse::NeedBytes(layout.min_prefix());
    };
    if let (Some(k), true) = (layout.key_fixed, layout.has_lengths())
        && k != key_len
    {
        return Parse::Corrupt("key length differs from the key type's size");
    }
    if let (Some(v), true) = (layout.value_fixed, layout.has_lengths())
        && v != value_len
    {
        return Parse::Corrupt("value length differs from the value type's size");
    }
    if key_len > page_room || value_len > page_room {
        return Parse::Corrupt("lengths run past the end of the page");
    }
    let size = layout.record_size(key_len, value_len);
    if size > page_room {
        return Parse::Corrupt("record runs past the end of the page");
    }
    if bytes.len() < size {
        return Parse::NeedBytes(size);
    }
    let key_at = layout.key_offset();
    let value_at = layout.value_offset(key_len);
    let value_len = if layout.value_word {
        layout.value_fixed.unwrap_or(8)
    } else {
        value_len
    };
    Parse::Record(Parsed {
        header,
        key: &bytes[key_at..key_at + key_len],
        value: &bytes[value_at..value_at + value_len],
        size,
    })
}

/// A record in a page frame. Every method is `unsafe`: the caller is epoch-protected and
/// checked the address is at or above the head (hybrid log rule H6), so the memory stays valid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InMemory {
    ptr: *mut u8,
    layout: Layout,
}

impl InMemory {
    /// # Safety
    /// `ptr` points at the start of a complete, published record in a page frame, 8-aligned,
    /// and stays valid while the caller uses the result (rule R1).
    #[inline]
    pub(crate) unsafe fn new(ptr: *mut u8, layout: Layout) -> Self {
        Self { ptr, layout }
    }

    #[inline]
    pub(crate) fn header_word(&self) -> &AtomicU64 {
        // SAFETY: rules R1, R3 — records are 8-aligned in frames that are valid while protected;
        // the header is only ever accessed atomically once published.
        unsafe { &*self.ptr.cast::<AtomicU64>() }
    }

    #[inline]
    pub(crate) fn header(&self) -> Header {
        Header(self.header_word().load(Ordering::Acquire))
    }

    #[inline]
    fn lengths(&self) -> (usize, usize) {
        // SAFETY: rules R1, R2 — the lengths word (if any) is written before publication and
        // never again, so a plain read cannot race.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, 16) };
        self.layout.lengths(bytes).unwrap_or((0, 0))
    }

    /// Whether the record's key is `key` (rule R2). Keys of 8 bytes or less compare as one
    /// or two words instead of through `memcmp`.
    #[inline]
    pub(crate) fn key_is(&self, key: &[u8]) -> bool {
        if let Some(fixed) = self.layout.key_fixed {
            if fixed != key.len() {
                return false;
            }
            if fixed == 8 {
                // SAFETY: rule R2 — a fixed 8-byte key sits 8-aligned at the key offset and never
                // changes after publication.
                let stored = unsafe {
                    std::ptr::read(self.ptr.add(self.layout.key_offset()).cast::<[u8; 8]>())
                };
                return stored == *key;
            }
        }
        self.key() == key
    }

    /// The key bytes (immutable after publication, rule R2).
    #[inline]
    pub(crate) fn key(&self) -> &[u8] {
        let (key_len, _) = self.lengths();
        // SAFETY: rule R2 — keys are written before publication and never again.
        unsafe { std::slice::from_raw_parts(self.ptr.add(self.layout.key_offset()), key_len) }
    }

    #[inline]
    pub(crate) fn value_len(&self) -> usize {
        if self.layout.value_word {
            self.layout.value_fixed.unwrap_or(8)
        } else {
            self.lengths().1
        }
    }

    /// The atomic word of a word value (rule R3).
    #[inline]
    pub(crate) fn value_word(&self) -> &AtomicU64 {
        debug_assert!(self.layout.value_word);
        let (key_len, _) = self.lengths();
        // SAFETY: rule R3 — the value area of a word value is one 8-aligned word, accessed
        // only atomically after publication.
        unsafe {
            &*self
                .ptr
                .add(self.layout.value_area_offset(key_len))
                .cast::<AtomicU64>()
        }
    }

    /// The sequence word and the value's words of a non-word value (rule R4).
    #[inline]
    fn seq_and_words(&self) -> (&AtomicU64, &[AtomicU64], usize) {
        debug_assert!(!self.layout.value_word);
        let (key_len, value_len) = self.lengths();
        let area = self.layout.value_area_offset(key_len);
        // SAFETY: rule R4 — the value area is 8-aligned: a sequence word then `pad8(len)`
        // bytes, all accessed only atomically after publication.
        unsafe {
            let seq = &*self.ptr.add(area).cast::<AtomicU64>();
            let words = std::slice::from_raw_parts(
                self.ptr.add(area + 8).cast::<AtomicU64>(),
                pad8(value_len) / 8,
            );
            (seq, words, value_len)
        }
    }

    /// A word value's bytes and length, read with one atomic load (rule R3); `None` for
    /// values behind a sequence lock.
    #[inline(always)]
    pub(crate) fn read_word(&self) -> Option<([u8; 8], usize)> {
        if self.layout.value_word {
            Some((
                self.value_word().load(Ordering::Acquire).to_le_bytes(),
                self.value_len(),
            ))
        } else {
            None
        }
    }

    /// Copies the value out, consistently even while other threads update it in place.
    #[inline(always)]
    pub(crate) fn read_value(&self, out: &mut Vec<u8>) {
        if self.layout.value_word {
            let word = self.value_word().load(Ordering::Acquire).to_le_bytes();
            let len = self.value_len();
            out.clear();
            out.extend_from_slice(&word[..len]);
        } else {
            self.read_locked_value(out);
        }
    }

    /// [`InMemory::read_value`] for values behind a sequence lock (rule R4).
    #[inline(never)]
    fn read_locked_value(&self, out: &mut Vec<u8>) {
        out.clear();
        let (seq, words, len) = self.seq_and_words();
        loop {
            let before = seq.load(Ordering::Acquire);
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            out.clear();
            for w in words {
                out.extend_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
            }
            fence(Ordering::Acquire);
            if seq.load(Ordering::Relaxed) == before {
                out.truncate(len);
                return;
            }
        }
    }

    /// Runs `update` on the value under the record's sequence lock (rule R4) and writes back
    /// what it returns if that has the same length. Returns `false` — nothing written — when
    /// the record is sealed or the new value has another length: the caller copies instead.
    pub(crate) fn update_locked(&self, update: impl FnOnce(&[u8]) -> Option<Vec<u8>>) -> bool {
        let (seq, words, len) = self.seq_and_words();
        let start = lock_seq(seq);
        if self.header().is_sealed() {
            seq.store(start, Ordering::Release);
            return false;
        }
        let mut current = Vec::with_capacity(words.len() * 8);
        for w in words {
            current.extend_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        current.truncate(len);
        let written = match update(&current) {
            Some(new) if new.len() == len => {
                store_words(words, &new);
                true
            }
            _ => false,
        };
        seq.store(start + 2, Ordering::Release);
        written
    }

    /// Overwrites the value with `value` of the same length under the sequence lock (rule R4).
    /// Returns `false` when the record is sealed or the lengths differ.
    pub(crate) fn overwrite_locked(&self, value: &[u8]) -> bool {
        let (seq, words, len) = self.seq_and_words();
        if len != value.len() {
            return false;
        }
        let start = lock_seq(seq);
        let open = !self.header().is_sealed();
        if open {
            store_words(words, value);
        }
        seq.store(if open { start + 2 } else { start }, Ordering::Release);
        open
    }

    /// Takes the header lock of a word-value record for an in-place update during a
    /// checkpoint (rule R7); `false` when the record is sealed or deleted (copy instead).
    pub(crate) fn lock_header(&self) -> bool {
        let word = self.header_word();
        let mut current = word.load(Ordering::Acquire);
        loop {
            if current & (SEALED | TOMBSTONE) != 0 {
                return false;
            }
            if current & LOCKED != 0 {
                std::hint::spin_loop();
                current = word.load(Ordering::Acquire);
                continue;
            }
            match word.compare_exchange_weak(
                current,
                current | LOCKED,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// Releases [`InMemory::lock_header`].
    pub(crate) fn unlock_header(&self) {
        self.header_word().fetch_and(!LOCKED, Ordering::Release);
    }

    /// Sets the tombstone bit unless the record is sealed (a copy of it exists or is being
    /// made); waits out a header lock. Returns whether it set the bit.
    pub(crate) fn try_tombstone(&self) -> bool {
        let word = self.header_word();
        let mut current = word.load(Ordering::Acquire);
        loop {
            if current & SEALED != 0 {
                return false;
            }
            if current & LOCKED != 0 {
                std::hint::spin_loop();
                current = word.load(Ordering::Acquire);
                continue;
            }
            match word.compare_exchange_weak(
                current,
                current | TOMBSTONE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// Seals the record: later in-place updates fail (rule R5). Waits for an in-place update in
    /// progress to finish, so the value is stable once this returns. Returns `false` if the
    /// record was already sealed.
    pub(crate) fn seal(&self) -> bool {
        if self.layout.value_word {
            // Rule R7: wait out a header lock, then seal.
            let word = self.header_word();
            let mut current = word.load(Ordering::Acquire);
            loop {
                if current & SEALED != 0 {
                    return false;
                }
                if current & LOCKED != 0 {
                    std::hint::spin_loop();
                    current = word.load(Ordering::Acquire);
                    continue;
                }
                match word.compare_exchange_weak(
                    current,
                    current | SEALED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return true,
                    Err(actual) => current = actual,
                }
            }
        }
        let (seq, _, _) = self.seq_and_words();
        let start = lock_seq(seq);
        let first = self.header_word().fetch_or(SEALED, Ordering::AcqRel) & SEALED == 0;
        seq.store(start, Ordering::Release);
        first
    }

    /// Sets header `bits` (tombstone, invalid).
    pub(crate) fn set_bits(&self, bits: u64) {
        self.header_word().fetch_or(bits, Ordering::AcqRel);
    }
}

/// Takes the sequence lock: waits for an even value and moves it to odd.
fn lock_seq(seq: &AtomicU64) -> u64 {
    loop {
        let current = seq.load(Ordering::Relaxed);
        if current & 1 == 0
            && seq
                .compare_exchange_weak(current, current + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            // The odd value is visible before any of the stores that follow.
            fence(Ordering::Release);
            return current;
        }
        std::hint::spin_loop();
    }
}

fn store_words(words: &[AtomicU64], bytes: &[u8]) {
    for (i, w) in words.iter().enumerate() {
        let mut chunk = [0u8; 8];
        let from = i * 8;
        let to = (from + 8).min(bytes.len());
        if from < to {
            chunk[..to - from].copy_from_slice(&bytes[from..to]);
        }
        w.store(u64::from_le_bytes(chunk), Ordering::Relaxed);
    }
}

/// Little-endian word holding a value of at most 8 bytes.
#[inline]
pub(crate) fn word_of(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = bytes.len().min(8);
    word[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(word)
}

/// Writes a complete record into freshly allocated memory (owned by the caller until it
/// publishes the record through the index, rule R1).
///
/// # Safety
/// `ptr` points at `layout.record_size(key.len(), value.len())` bytes of a fresh allocation,
/// 8-aligned, that no other thread can reach yet.
pub(crate) unsafe fn write_new(
    ptr: *mut u8,
    layout: Layout,
    header: Header,
    key: &[u8],
    value: &[u8],
) {
    // SAFETY: rules R1, H4 — the caller owns the fresh bytes; every write stays within the
    // record size.
    unsafe {
        std::ptr::write(ptr.cast::<u64>(), header.0.to_le());
        if layout.has_lengths() {
            let lengths = (key.len() as u64) | ((value.len() as u64) << 32);
            std::ptr::write(ptr.add(8).cast::<u64>(), lengths.to_le());
        }
        std::ptr::copy_nonoverlapping(key.as_ptr(), ptr.add(layout.key_offset()), key.len());
        let area = layout.value_area_offset(key.len());
        if layout.value_word {
            std::ptr::write(ptr.add(area).cast::<u64>(), word_of(value).to_le());
        } else {
            std::ptr::write(ptr.add(area).cast::<u64>(), 0); // sequence word
            std::ptr::copy_nonoverlapping(value.as_ptr(), ptr.add(area + 8), value.len());
        }
    }
}
