//! The ring of page frames: `memory_pages` aligned buffers, page `p` living in frame
//! `p mod memory_pages` (rule H3 says when a frame may change pages).

use faster_device::AlignedBuf;

use crate::LogError;
use crate::config::Geometry;

/// A frame's base address, shared between threads.
#[derive(Debug, Clone, Copy)]
struct FramePtr(*mut u8);

// SAFETY: rule H9 — a `FramePtr` is only an address. Every access through it is one that H9
// allows (writes by the owner of a reservation or by the eviction action; reads by protected
// threads and by device writes that keep the frame alive), never one granted by the pointer.
unsafe impl Send for FramePtr {}
// SAFETY: rule H9 — as above: sharing the address shares no access rights.
unsafe impl Sync for FramePtr {}

/// The page frames of a log.
#[derive(Debug)]
pub(crate) struct Frames {
    /// Owns the memory; never borrowed after construction (all access goes through `ptrs`).
    _buffers: Box<[AlignedBuf]>,
    ptrs: Box<[FramePtr]>,
    page_size: usize,
}

impl Frames {
    /// Allocates `geometry.pages` zeroed frames, asking for huge pages when `huge_pages`.
    pub(crate) fn new(geometry: &Geometry, huge_pages: bool) -> Result<Self, LogError> {
        let page_size = usize::try_from(geometry.page_size)
            .map_err(|_| LogError::config("page size does not fit in memory".into()))?;
        let mut buffers = Vec::new();
        for _ in 0..geometry.pages {
            let buf = AlignedBuf::options()
                .alignment(4096.max(geometry.sector_size as usize))
                .huge_pages(huge_pages)
                .zeroed(page_size)?;
            buffers.push(buf);
        }
        let ptrs = buffers
            .iter_mut()
            .map(|b| FramePtr(b.as_mut_ptr()))
            .collect();
        Ok(Self {
            _buffers: buffers.into_boxed_slice(),
            ptrs,
            page_size,
        })
    }

    /// The base address of frame `frame`.
    #[inline]
    pub(crate) fn base(&self, frame: usize) -> *mut u8 {
        self.ptrs[frame].0
    }

    /// Zeroes frame `frame`.
    ///
    /// # Safety
    /// Nobody may access the frame meanwhile: its page is below the head and every thread has
    /// refreshed since the head passed it, and its flush completed (rule H6).
    pub(crate) unsafe fn zero(&self, frame: usize) {
        // SAFETY: rules H6, H9 — the frame is `page_size` bytes of our own allocation, and the
        // caller guarantees exclusive access.
        unsafe { std::ptr::write_bytes(self.base(frame), 0, self.page_size) };
    }

    /// Copies `data` into frame `frame` at `offset` (recovery only).
    ///
    /// # Safety
    /// As for [`Frames::zero`]: nobody else accesses the frame; `offset + data.len()` is
    /// within the page.
    pub(crate) unsafe fn fill(&self, frame: usize, offset: usize, data: &[u8]) {
        debug_assert!(offset + data.len() <= self.page_size);
        // SAFETY: rule H9 — in bounds per the caller; `data` is a separate allocation.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.base(frame).add(offset), data.len())
        };
    }
}
