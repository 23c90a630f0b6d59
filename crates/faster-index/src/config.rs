//! [`IndexConfig`]: the size of a new table and how its memory is backed.

use crate::error::IndexError;

/// The largest table: 2^32 buckets (256 GiB). Tables never need more, and the bound keeps the
/// bucket index clear of the tag bits (48–61) of the hash.
pub const MAX_TABLE_SIZE_BITS: u32 = 32;

/// Buckets of a table built with [`IndexConfig::default`]: 2^16 (4 MiB).
pub const DEFAULT_TABLE_SIZE_BITS: u32 = 16;

/// Settings for [`HashIndex::new`](crate::HashIndex::new), checked once there.
///
/// ```
/// use faster_index::IndexConfig;
/// // About two entries per bucket for 10 million keys, on huge pages (the default).
/// let config = IndexConfig::for_entries(10_000_000);
/// assert_eq!(config.bucket_count(), 1 << 23);
/// let small = IndexConfig::default().buckets(1024).huge_pages(false);
/// assert_eq!(small.bucket_count(), 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexConfig {
    buckets: u64,
    huge_pages: bool,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            buckets: 1 << DEFAULT_TABLE_SIZE_BITS,
            huge_pages: true,
        }
    }
}

impl IndexConfig {
    /// The default configuration: 2^16 buckets, huge pages on.
    pub fn new() -> Self {
        Self::default()
    }

    /// A table of about two entries per bucket for `entries` keys: `entries / 2` buckets
    /// rounded up to a power of two (at least 1, at most 2^[`MAX_TABLE_SIZE_BITS`]). Seven
    /// slots per bucket leave room for the unlucky buckets, so few chains need an overflow
    /// bucket. Huge pages on.
    pub fn for_entries(entries: u64) -> Self {
        let buckets = entries
            .div_ceil(2)
            .max(1)
            .checked_next_power_of_two()
            .unwrap_or(1 << MAX_TABLE_SIZE_BITS)
            .min(1 << MAX_TABLE_SIZE_BITS);
        Self::default().buckets(buckets)
    }

    /// Number of buckets of the table: a power of two from 1 to 2^[`MAX_TABLE_SIZE_BITS`].
    /// Each bucket is 64 bytes and holds up to seven entries before it needs an overflow
    /// bucket. Default: 65,536 (2^16).
    #[must_use]
    pub fn buckets(mut self, buckets: u64) -> Self {
        self.buckets = buckets;
        self
    }

    /// Number of buckets as a power of two: `buckets(2^bits)`. Default: 16.
    #[must_use]
    pub fn table_size_bits(mut self, bits: u32) -> Self {
        // An out-of-range value keeps a non-power-of-two marker so that `HashIndex::new`
        // reports it.
        self.buckets = 1u64.checked_shl(bits).unwrap_or(0);
        self
    }

    /// Back the table and large overflow pages with transparent huge pages (`madvise`), for
    /// arrays of at least 2 MiB; smaller arrays ignore it. A refused `madvise` is not an
    /// error. Saves a quarter to a third of each DRAM miss on large tables. Default: `true`.
    #[must_use]
    pub fn huge_pages(mut self, on: bool) -> Self {
        self.huge_pages = on;
        self
    }

    /// The configured number of buckets.
    pub fn bucket_count(&self) -> u64 {
        self.buckets
    }

    /// Whether huge pages are asked for.
    pub fn uses_huge_pages(&self) -> bool {
        self.huge_pages
    }

    /// Checks the configuration; returns `log2(buckets)`.
    pub(crate) fn validate(&self) -> Result<u32, IndexError> {
        if !self.buckets.is_power_of_two() {
            return Err(IndexError::NotPowerOfTwo {
                buckets: self.buckets,
            });
        }
        let size_bits = self.buckets.trailing_zeros();
        if size_bits > MAX_TABLE_SIZE_BITS {
            return Err(IndexError::TooLarge {
                size_bits,
                max_bits: MAX_TABLE_SIZE_BITS,
            });
        }
        Ok(size_bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_rejects_zero_non_powers_of_two_and_absurd_sizes() {
        assert!(matches!(
            IndexConfig::default().buckets(0).validate(),
            Err(IndexError::NotPowerOfTwo { buckets: 0 })
        ));
        assert!(matches!(
            IndexConfig::default().buckets(1000).validate(),
            Err(IndexError::NotPowerOfTwo { buckets: 1000 })
        ));
        assert!(matches!(
            IndexConfig::default().table_size_bits(40).validate(),
            Err(IndexError::TooLarge { size_bits: 40, .. })
        ));
        assert!(matches!(
            IndexConfig::default().table_size_bits(64).validate(),
            Err(IndexError::NotPowerOfTwo { .. })
        ));
        assert_eq!(IndexConfig::default().buckets(1).validate().unwrap(), 0);
        assert_eq!(IndexConfig::default().validate().unwrap(), 16);
        assert_eq!(IndexConfig::for_entries(0).bucket_count(), 1);
        assert_eq!(IndexConfig::for_entries(u64::MAX).bucket_count(), 1 << 32);
    }
}
