//! [`InMemory`]: reading and updating a record in a page frame (rules R1–R5), and writing a
//! new one.

use std::sync::atomic::{AtomicU64, Ordering, fence};

use super::header::{Header, LOCKED, SEALED, TOMBSTONE};
use super::layout::{Layout, pad8};

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
        self.set_unless(SEALED | TOMBSTONE, LOCKED, Ordering::Acquire)
    }

    /// Releases [`InMemory::lock_header`].
    pub(crate) fn unlock_header(&self) {
        self.header_word().fetch_and(!LOCKED, Ordering::Release);
    }

    /// Sets the tombstone bit unless the record is sealed (a copy of it exists or is being
    /// made); waits out a header lock. Returns whether it set the bit.
    pub(crate) fn try_tombstone(&self) -> bool {
        self.set_unless(SEALED, TOMBSTONE, Ordering::AcqRel)
    }

    /// Sets header bit `bit` unless a bit of `stop` is set, waiting out a header lock (rule
    /// R7); `success` orders the compare-and-swap that sets it. Returns whether it set the bit.
    fn set_unless(&self, stop: u64, bit: u64, success: Ordering) -> bool {
        let word = self.header_word();
        let mut current = word.load(Ordering::Acquire);
        loop {
            if current & stop != 0 {
                return false;
            }
            if current & LOCKED != 0 {
                std::hint::spin_loop();
                current = word.load(Ordering::Acquire);
                continue;
            }
            match word.compare_exchange_weak(current, current | bit, success, Ordering::Acquire) {
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
            return self.set_unless(SEALED, SEALED, Ordering::AcqRel);
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
