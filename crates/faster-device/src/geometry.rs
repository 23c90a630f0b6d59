//! [`Geometry`]: the shape of a device's byte space, and the checks every device applies to a
//! request before it starts (rules D1 and D7); `split.rs` cuts it at segment
//! boundaries (rule D4).

use crate::error::{DeviceError, MisalignedPart};

/// The shape of a device's logical byte space `[0, capacity)`.
///
/// The space is cut into segments of `segment_size` bytes; segment `s` holds
/// `[s * segment_size, (s + 1) * segment_size)`. Segments are the unit of
/// [`truncate_until`](crate::Device::truncate_until) (which a file device refines by freeing
/// the blocks below the offset inside its segment) and, for file devices, one file each.
///
/// Build it with [`Geometry::new`], which checks the invariants stated on the fields; the
/// methods assume them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Alignment, in bytes, of every offset, length and buffer address (a power of two).
    pub sector_size: usize,
    /// Bytes per segment (a power of two, a multiple of `sector_size`).
    pub segment_size: u64,
    /// Bytes the device may hold, or `None` when only the file system limits it.
    pub capacity: Option<u64>,
}

impl Geometry {
    /// Checks and builds a geometry.
    ///
    /// # Errors
    /// [`DeviceError::InvalidConfig`] when `sector_size` or `segment_size` is not a power of
    /// two, `segment_size < sector_size`, or `capacity` is not a multiple of `sector_size`.
    pub fn new(
        sector_size: usize,
        segment_size: u64,
        capacity: Option<u64>,
    ) -> Result<Self, DeviceError> {
        if !sector_size.is_power_of_two() {
            return Err(DeviceError::config(format!(
                "sector size {sector_size} is not a power of two"
            )));
        }
        if !segment_size.is_power_of_two() || segment_size < sector_size as u64 {
            return Err(DeviceError::config(format!(
                "segment size {segment_size} is not a power of two of at least the sector size {sector_size}"
            )));
        }
        if let Some(cap) = capacity
            && cap % sector_size as u64 != 0
        {
            return Err(DeviceError::config(format!(
                "capacity {cap} is not a multiple of the sector size {sector_size}"
            )));
        }
        Ok(Self {
            sector_size,
            segment_size,
            capacity,
        })
    }

    /// The segment that holds `offset`.
    #[inline]
    pub fn segment_of(&self, offset: u64) -> u64 {
        offset / self.segment_size
    }

    /// The first offset of segment `segment` (saturating at `u64::MAX`).
    #[inline]
    pub fn segment_start(&self, segment: u64) -> u64 {
        segment.saturating_mul(self.segment_size)
    }

    /// Whether `value` is a multiple of the sector size.
    #[inline]
    pub fn is_aligned(&self, value: u64) -> bool {
        value & (self.sector_size as u64 - 1) == 0
    }

    /// Checks rule D1 (alignment of offset, length and buffer address) and rule D7 (capacity).
    ///
    /// # Errors
    /// [`DeviceError::Misaligned`] or [`DeviceError::OutOfSpace`].
    pub fn check(&self, offset: u64, len: usize, addr: usize) -> Result<(), DeviceError> {
        let misaligned = |part, value| DeviceError::Misaligned {
            part,
            value,
            required: self.sector_size,
        };
        if !self.is_aligned(offset) {
            return Err(misaligned(MisalignedPart::Offset, offset));
        }
        if !self.is_aligned(len as u64) {
            return Err(misaligned(MisalignedPart::Length, len as u64));
        }
        if !self.is_aligned(addr as u64) {
            return Err(misaligned(MisalignedPart::Buffer, addr as u64));
        }
        let end = offset.checked_add(len as u64);
        match (end, self.capacity) {
            (Some(end), Some(cap)) if end <= cap => Ok(()),
            (Some(_), None) => Ok(()),
            _ => Err(DeviceError::OutOfSpace {
                offset,
                len: len as u64,
                capacity: self.capacity,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_rejects_misalignment_and_overflowing_capacity() {
        let g = Geometry::new(512, 4096, Some(8192)).unwrap();
        assert!(g.check(0, 8192, 0).is_ok());
        assert!(matches!(
            g.check(1, 512, 0),
            Err(DeviceError::Misaligned {
                part: MisalignedPart::Offset,
                ..
            })
        ));
        assert!(matches!(
            g.check(0, 100, 0),
            Err(DeviceError::Misaligned {
                part: MisalignedPart::Length,
                ..
            })
        ));
        assert!(matches!(
            g.check(0, 512, 8),
            Err(DeviceError::Misaligned {
                part: MisalignedPart::Buffer,
                ..
            })
        ));
        assert!(matches!(
            g.check(7680, 1024, 0),
            Err(DeviceError::OutOfSpace {
                capacity: Some(8192),
                ..
            })
        ));
        assert!(matches!(
            Geometry::new(512, 512, None)
                .unwrap()
                .check(u64::MAX - 511, 1024, 0),
            Err(DeviceError::OutOfSpace { .. })
        ));
        assert!(Geometry::new(500, 4096, None).is_err());
        assert!(Geometry::new(512, 256, None).is_err());
        assert!(Geometry::new(512, 4096, Some(100)).is_err());
    }
}
