//! Where a record's parts lie ([`Layout`], fixed per store by its codecs), and parsing a
//! record read back from the device (rule R6).

use super::header::{Header, RESERVED};
use crate::codec::{Codec, is_word};

#[inline]
pub(crate) const fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

/// Where the parts of a record sit, for one pair of codecs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub(super) key_fixed: Option<usize>,
    pub(super) value_fixed: Option<usize>,
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
    pub(super) const fn has_lengths(&self) -> bool {
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
    pub(super) fn lengths(&self, bytes: &[u8]) -> Option<(usize, usize)> {
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

/// The size of the record at the start of `bytes`, for the log's scan: `None` at the end of
/// a page's records (a zero header).
pub(crate) fn sizer(layout: Layout) -> impl Fn(&[u8]) -> Option<u64> {
    move |bytes: &[u8]| -> Option<u64> {
        if bytes.get(..8).is_none_or(|h| h == [0u8; 8]) {
            return None;
        }
        match parse(bytes, layout, bytes.len()) {
            Parse::Record(p) => Some(p.size as u64),
            // Let the scan report it: a size past the page is corruption.
            Parse::NeedBytes(n) => Some(n as u64),
            Parse::Corrupt(_) => Some(u64::MAX),
        }
    }
}
