//! [`Geometry`]: the shape of a device's byte space, and the checks every device applies to a
//! request before it starts (rules D1, D4 and D7).

use crate::error::{DeviceError, MisalignedPart};

/// The shape of a device's logical byte space `[0, capacity)`.
///
/// The space is cut into segments of `segment_size` bytes; segment `s` holds
/// `[s * segment_size, (s + 1) * segment_size)`. Segments are the unit of
/// [`truncate_until`](crate::Device::truncate_until) and, for file devices, one file each.
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

/// One piece of a request that lies inside a single segment (rule D4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Segment index.
    pub(crate) segment: u64,
    /// Offset inside the segment.
    pub(crate) segment_offset: u64,
    /// Offset of this piece inside the caller's buffer.
    pub(crate) buf_offset: usize,
    /// Length of this piece.
    pub(crate) len: usize,
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

    /// Cuts `[offset, offset + len)` at segment boundaries (rule D4). `offset + len` must not
    /// overflow (checked by [`Geometry::check`]).
    pub(crate) fn chunks(&self, offset: u64, len: usize) -> impl Iterator<Item = Chunk> + use<> {
        let segment_size = self.segment_size;
        let mut pos = offset;
        let end = offset + len as u64;
        std::iter::from_fn(move || {
            if pos >= end {
                return None;
            }
            let segment = pos / segment_size;
            let segment_offset = pos % segment_size;
            let piece = (segment_size - segment_offset).min(end - pos);
            let chunk = Chunk {
                segment,
                segment_offset,
                buf_offset: (pos - offset) as usize,
                len: piece as usize,
            };
            pos += piece;
            Some(chunk)
        })
    }

    /// How many pieces [`Geometry::chunks`] yields for this request.
    pub(crate) fn chunk_count(&self, offset: u64, len: usize) -> usize {
        if len == 0 {
            return 0;
        }
        let first = offset / self.segment_size;
        let last = (offset + len as u64 - 1) / self.segment_size;
        (last - first + 1) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cut_a_request_at_every_segment_boundary() {
        let g = Geometry::new(512, 4096, None).unwrap();
        let chunks: Vec<_> = g.chunks(3584, 8192).collect();
        assert_eq!(chunks.len(), 3);
        assert_eq!(g.chunk_count(3584, 8192), 3);
        assert_eq!(
            chunks[0],
            Chunk {
                segment: 0,
                segment_offset: 3584,
                buf_offset: 0,
                len: 512
            }
        );
        assert_eq!(
            chunks[1],
            Chunk {
                segment: 1,
                segment_offset: 0,
                buf_offset: 512,
                len: 4096
            }
        );
        assert_eq!(
            chunks[2],
            Chunk {
                segment: 2,
                segment_offset: 0,
                buf_offset: 4608,
                len: 3584
            }
        );
        assert_eq!(g.chunks(0, 0).count(), 0);
        assert_eq!(g.chunk_count(0, 0), 0);
    }

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
