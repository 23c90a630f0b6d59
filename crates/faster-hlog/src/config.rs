//! [`LogConfig`]: the page size, the memory budget and the mutable fraction, validated once.

use crate::error::LogError;

/// Settings of a [`HybridLog`](crate::HybridLog). Every setter states its default; the log
/// checks them all when it opens.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub(crate) page_size_bits: u32,
    pub(crate) memory_pages: u64,
    pub(crate) mutable_fraction: f64,
    pub(crate) huge_pages: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            page_size_bits: 22,
            memory_pages: 64,
            mutable_fraction: 0.9,
            huge_pages: true,
        }
    }
}

/// Smallest page: one 4 KiB sector.
pub const MIN_PAGE_SIZE_BITS: u32 = 12;
/// Largest page: 1 GiB.
pub const MAX_PAGE_SIZE_BITS: u32 = 30;
/// Fewest page frames in memory: one being filled, one being flushed, one free for the next
/// page turn, and one more so that flushing overlaps with filling.
pub const MIN_MEMORY_PAGES: u64 = 4;

impl LogConfig {
    /// Starts from the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Page size as a power of two: `1 << bits` bytes. A record never spans pages, so this
    /// also bounds the largest record. Default: 22 (4 MiB). Valid: 12..=30.
    pub fn page_size_bits(mut self, bits: u32) -> Self {
        self.page_size_bits = bits;
        self
    }

    /// The memory budget in pages: the number of page frames kept in memory. A power of two,
    /// at least 4. Default: 64 (256 MiB with the default page size).
    pub fn memory_pages(mut self, pages: u64) -> Self {
        self.memory_pages = pages;
        self
    }

    /// The fraction of the in-memory pages that stay mutable (updated in place); the rest are
    /// read-only, being flushed or waiting for eviction. At most `memory_pages - 2` pages are
    /// mutable whatever the fraction. Default: 0.9. Valid: 0.0..=1.0.
    pub fn mutable_fraction(mut self, fraction: f64) -> Self {
        self.mutable_fraction = fraction;
        self
    }

    /// Ask the kernel for transparent huge pages for page frames of 2 MiB or more
    /// (`madvise`). A random access to a frame then costs one TLB walk less. Default: true.
    pub fn huge_pages(mut self, on: bool) -> Self {
        self.huge_pages = on;
        self
    }

    /// Bytes per page.
    pub fn page_size(&self) -> u64 {
        1 << self.page_size_bits
    }

    /// Bytes of page frames the log keeps in memory.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_pages.saturating_mul(self.page_size())
    }

    pub(crate) fn validate(&self, sector_size: usize) -> Result<Geometry, LogError> {
        let bits = self.page_size_bits;
        if !(MIN_PAGE_SIZE_BITS..=MAX_PAGE_SIZE_BITS).contains(&bits) {
            return Err(LogError::config(format!(
                "page_size_bits {bits} is outside {MIN_PAGE_SIZE_BITS}..={MAX_PAGE_SIZE_BITS}"
            )));
        }
        let pages = self.memory_pages;
        if pages < MIN_MEMORY_PAGES || !pages.is_power_of_two() {
            return Err(LogError::config(format!(
                "memory_pages {pages} must be a power of two of at least {MIN_MEMORY_PAGES}"
            )));
        }
        if usize::try_from(self.memory_bytes()).is_err() || self.memory_bytes() > (1 << 46) {
            return Err(LogError::config(format!(
                "{pages} pages of {} bytes do not fit in memory",
                self.page_size()
            )));
        }
        if !(0.0..=1.0).contains(&self.mutable_fraction) {
            return Err(LogError::config(format!(
                "mutable_fraction {} is outside 0.0..=1.0",
                self.mutable_fraction
            )));
        }
        if sector_size as u64 > self.page_size() {
            return Err(LogError::config(format!(
                "the device's sector ({sector_size} bytes) is larger than a page ({} bytes)",
                self.page_size()
            )));
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "the fraction is in 0..=1 and the page count below 2^46"
        )]
        let mutable_pages = ((pages as f64 * self.mutable_fraction) as u64).min(pages - 2);
        Ok(Geometry {
            page_bits: bits,
            page_size: 1 << bits,
            pages,
            mutable_pages,
            sector_size: sector_size as u64,
        })
    }
}

/// The validated shape of a log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    pub(crate) page_bits: u32,
    pub(crate) page_size: u64,
    /// Number of page frames (a power of two).
    pub(crate) pages: u64,
    /// Pages behind the tail page that stay mutable.
    pub(crate) mutable_pages: u64,
    pub(crate) sector_size: u64,
}

impl Geometry {
    #[inline]
    pub(crate) fn page_of(&self, address: u64) -> u64 {
        address >> self.page_bits
    }

    #[inline]
    pub(crate) fn offset_of(&self, address: u64) -> u64 {
        address & (self.page_size - 1)
    }

    #[inline]
    pub(crate) fn page_start(&self, page: u64) -> u64 {
        page << self.page_bits
    }

    #[inline]
    pub(crate) fn frame_of(&self, page: u64) -> usize {
        // `pages` is a power of two below 2^46 and fits in usize (checked in `validate`).
        (page & (self.pages - 1)) as usize
    }

    #[inline]
    pub(crate) fn sector_floor(&self, offset: u64) -> u64 {
        offset & !(self.sector_size - 1)
    }

    #[inline]
    pub(crate) fn sector_ceil(&self, offset: u64) -> u64 {
        (offset + self.sector_size - 1) & !(self.sector_size - 1)
    }
}
