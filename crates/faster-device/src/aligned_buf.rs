//! [`AlignedBuf`]: an owned, zero-initialised heap buffer whose address is aligned, as devices
//! require of caller memory (rule D1), with optional transparent huge pages for large frames.
//!
//! Buffers under 2 MiB come from `std::alloc` (`alloc_zeroed` with the requested layout).
//! Larger ones are anonymous private mappings: the kernel supplies zeroed pages on first
//! touch, so a large page frame or index table is not zeroed twice, costs no memory until
//! used, and can be backed by huge pages from its first fault.

use std::alloc::{self, Layout};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use crate::error::DeviceError;

/// Alignment of [`AlignedBuf::zeroed`]: the largest sector size of this crate's devices.
pub const DEFAULT_ALIGNMENT: usize = 4096;

/// Size of a transparent huge page on x86-64 and aarch64 with 4 KiB base pages.
pub const HUGE_PAGE_SIZE: usize = 2 << 20;

/// An owned, zero-initialised heap buffer of `len` bytes whose address is a multiple of its
/// alignment.
///
/// It dereferences to `[u8]`. The memory never moves while the buffer lives, so its address
/// can be handed to [`Device::write_raw`](crate::Device::write_raw) and
/// [`Device::read_raw`](crate::Device::read_raw), or owned by a request through
/// [`DeviceExt::write_buf`](crate::DeviceExt::write_buf).
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    /// Where the memory came from, to give it back.
    backing: Backing,
    /// log2 of the alignment (a byte, so that the buffer — and a [`Rejected`] carrying one
    /// beside a [`DeviceError`] — stays small).
    ///
    /// [`Rejected`]: crate::Rejected
    align_log2: u8,
    huge_pages: bool,
}

// SAFETY: rule D10 — `AlignedBuf` owns its allocation exclusively (like `Box<[u8]>`); the raw
// pointer is never shared with another owner, so moving it to another thread is sound.
unsafe impl Send for AlignedBuf {}
// SAFETY: rule D10 — shared access only hands out `&[u8]`; mutation needs `&mut self`, as for
// `Box<[u8]>`.
unsafe impl Sync for AlignedBuf {}

/// How an [`AlignedBuf`]'s memory was obtained.
#[derive(Debug, Clone, Copy)]
enum Backing {
    /// Zero length: a dangling, aligned pointer; nothing to free.
    Empty,
    /// `std::alloc` with this layout.
    Heap(Layout),
    /// An anonymous mapping starting at `base`, `len` bytes long (large buffers).
    Mapped { base: usize, len: usize },
}

/// Buffers of at least this size are anonymous mappings: the kernel hands out zeroed pages
/// on first touch, so a large buffer costs nothing until used and is never zeroed twice.
pub(crate) const MAP_THRESHOLD: usize = 2 << 20;

/// Settings for allocating an [`AlignedBuf`]; start from [`AlignedBuf::options`].
#[derive(Debug, Clone, Copy)]
pub struct AlignedBufOptions {
    alignment: usize,
    huge_pages: bool,
    populate: bool,
}

impl Default for AlignedBufOptions {
    fn default() -> Self {
        Self {
            alignment: DEFAULT_ALIGNMENT,
            huge_pages: false,
            populate: false,
        }
    }
}

impl AlignedBufOptions {
    /// Alignment of the buffer's address, a power of two.
    /// Default: 4096 ([`DEFAULT_ALIGNMENT`]).
    #[must_use]
    pub fn alignment(mut self, alignment: usize) -> Self {
        self.alignment = alignment;
        self
    }

    /// Back the buffer with transparent huge pages: for buffers of at least
    /// [`HUGE_PAGE_SIZE`] bytes, align the allocation to 2 MiB, round its size up to a multiple
    /// of 2 MiB and `madvise(MADV_HUGEPAGE)` it before it is first touched. Smaller buffers
    /// ignore the setting. A refused `madvise` is not an error (the buffer just keeps 4 KiB
    /// pages); [`AlignedBuf::huge_pages`] tells which happened. Random access to a large
    /// table costs 25–35% less per DRAM miss with huge pages. The price: with the kernel's
    /// THP `defrag` set to `madvise`, a first touch may stall while the kernel compacts
    /// memory to find a free huge page, so advise long-lived tables, not short-lived buffers.
    /// Default: `false`.
    #[must_use]
    pub fn huge_pages(mut self, on: bool) -> Self {
        self.huge_pages = on;
        self
    }

    /// Fault in every page of the buffer when it is allocated (`MADV_POPULATE_WRITE`, or a
    /// write to each page where the kernel lacks it), so that the kernel zeroes the memory
    /// now rather than on each page's first touch later. Worth it for a large table that is
    /// then touched at random: its first pass would otherwise spend most of its time in page
    /// faults. Default: `false`.
    #[must_use]
    pub fn populate(mut self, on: bool) -> Self {
        self.populate = on;
        self
    }

    /// Allocates a zeroed buffer of `len` bytes.
    ///
    /// # Errors
    /// [`DeviceError::InvalidConfig`] if the alignment is not a power of two or the size
    /// overflows; [`DeviceError::OutOfMemory`] if the allocator refuses.
    pub fn zeroed(self, len: usize) -> Result<AlignedBuf, DeviceError> {
        if !self.alignment.is_power_of_two() {
            return Err(DeviceError::config(format!(
                "buffer alignment {} is not a power of two",
                self.alignment
            )));
        }
        let huge = self.huge_pages && len >= HUGE_PAGE_SIZE;
        if len == 0 {
            return Ok(AlignedBuf {
                // A dangling pointer that is aligned, as `NonNull::dangling` is for types.
                ptr: NonNull::without_provenance(
                    std::num::NonZeroUsize::new(self.alignment)
                        .expect("invariant: a power of two is non-zero"),
                ),
                len: 0,
                backing: Backing::Empty,
                align_log2: self.alignment.trailing_zeros() as u8,
                huge_pages: false,
            });
        }
        if len >= MAP_THRESHOLD {
            let mut buf = map_zeroed(len, self.alignment, huge)?;
            if self.populate {
                populate(&mut buf);
            }
            return Ok(buf);
        }
        let layout = Layout::from_size_align(len, self.alignment)
            .map_err(|_| DeviceError::config(format!("buffer size {len} overflows")))?;
        // SAFETY: rule D10 — `layout` has a non-zero size (len > 0).
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or(DeviceError::OutOfMemory { len })?;
        Ok(AlignedBuf {
            ptr,
            len,
            backing: Backing::Heap(layout),
            align_log2: self.alignment.trailing_zeros() as u8,
            huge_pages: false,
        })
    }
}

/// Faults in every page of a mapped buffer.
fn populate(buf: &mut AlignedBuf) {
    let size = buf.len.next_multiple_of(rustix::param::page_size());
    // SAFETY: rules D10, D11 — `ptr..ptr + size` lies inside the buffer's mapping (mapped sizes
    // are rounded up to whole pages) and is page aligned (mapped buffers are); populating
    // changes no contents.
    let advised = unsafe {
        rustix::mm::madvise(
            buf.ptr.as_ptr().cast(),
            size,
            rustix::mm::Advice::LinuxPopulateWrite,
        )
    };
    if advised.is_err() {
        let page = rustix::param::page_size();
        for offset in (0..buf.len).step_by(page) {
            // SAFETY: rule D10 — `offset < len`, so the byte is inside the buffer, which this
            // function borrows mutably; writing the zero it holds changes nothing.
            unsafe { buf.ptr.as_ptr().add(offset).write_volatile(0) };
        }
    }
}

/// A zeroed buffer from an anonymous private mapping, over-mapped so that an aligned start
/// exists; with `huge`, 2 MiB aligned, rounded to 2 MiB, and advised to use huge pages
/// before any page is touched (so the first touch faults in a zeroed huge page).
fn map_zeroed(len: usize, alignment: usize, huge: bool) -> Result<AlignedBuf, DeviceError> {
    use rustix::mm::{Advice, MapFlags, ProtFlags};
    let page = rustix::param::page_size();
    let align = if huge {
        alignment.max(HUGE_PAGE_SIZE)
    } else {
        alignment.max(page)
    };
    let overflow = || DeviceError::config(format!("buffer size {len} overflows"));
    let size = len
        .checked_next_multiple_of(if huge { HUGE_PAGE_SIZE } else { page })
        .ok_or_else(overflow)?;
    let map_len = size.checked_add(align - page).ok_or_else(overflow)?;
    // SAFETY: rule D10 — a fresh anonymous private mapping at an address the kernel picks
    // aliases no existing memory.
    let base = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            map_len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    }
    .map_err(|_| DeviceError::OutOfMemory { len: map_len })?;
    let base = base.cast::<u8>();
    let start = base.wrapping_add(base.align_offset(align));
    let mut advised = false;
    if huge {
        // SAFETY: rules D10, D11 — `start..start + size` lies inside the mapping (the
        // over-mapping leaves `align - page` bytes for the shift) and is page aligned; advice
        // changes no contents.
        advised = unsafe { rustix::mm::madvise(start.cast(), size, Advice::LinuxHugepage) }.is_ok();
    }
    let ptr = NonNull::new(start).ok_or(DeviceError::OutOfMemory { len: map_len })?;
    Ok(AlignedBuf {
        ptr,
        len,
        backing: Backing::Mapped {
            base: base as usize,
            len: map_len,
        },
        align_log2: align.trailing_zeros() as u8,
        huge_pages: advised,
    })
}

impl AlignedBuf {
    /// Settings for a new buffer: alignment and huge pages.
    pub fn options() -> AlignedBufOptions {
        AlignedBufOptions::default()
    }

    /// A zeroed buffer of `len` bytes aligned to [`DEFAULT_ALIGNMENT`].
    ///
    /// # Panics
    /// If `len` rounded up to the alignment overflows `isize`, or memory is exhausted. Use
    /// [`AlignedBuf::options`] to get these as errors.
    pub fn zeroed(len: usize) -> Self {
        match Self::options().zeroed(len) {
            Ok(buf) => buf,
            Err(e) => panic!("AlignedBuf::zeroed({len}): {e}"),
        }
    }

    /// A buffer aligned to [`DEFAULT_ALIGNMENT`] holding a copy of `data`.
    ///
    /// # Panics
    /// As [`AlignedBuf::zeroed`].
    pub fn copy_from(data: &[u8]) -> Self {
        let mut buf = Self::zeroed(data.len());
        buf.copy_from_slice(data);
        buf
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the length is zero.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The alignment the address is guaranteed to have.
    pub fn alignment(&self) -> usize {
        1 << self.align_log2
    }

    /// Whether `madvise(MADV_HUGEPAGE)` was applied to the buffer.
    pub fn huge_pages(&self) -> bool {
        self.huge_pages
    }

    /// Address of the first byte.
    #[inline]
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// Address of the first byte, for writing.
    #[inline]
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: rule D10 — `ptr` is valid for `len` initialised (zeroed at allocation) bytes
        // for as long as `self` lives, and `&self` excludes writers through `&mut self`. A zero
        // length uses an aligned dangling pointer, which is valid for empty slices.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: rule D10 — as in `deref`, and `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        match self.backing {
            Backing::Empty => {}
            Backing::Heap(layout) => {
                // SAFETY: rule D10 — `ptr` was returned by `alloc_zeroed` with exactly `layout`,
                // and is freed only here, once.
                unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) };
            }
            Backing::Mapped { base, len } => {
                // SAFETY: rule D10 — `base..base + len` is the mapping made in `map_zeroed`,
                // owned by this buffer alone and unmapped only here, once.
                if let Err(e) = unsafe { rustix::mm::munmap(base as *mut std::ffi::c_void, len) } {
                    tracing::error!("munmap of a {len}-byte buffer failed: {e}");
                }
            }
        }
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("alignment", &self.alignment())
            .field("huge_pages", &self.huge_pages)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_zeroed_and_aligned() {
        for (len, align) in [(0, 4096), (1, 512), (4096, 4096), (10_000, 65536)] {
            let buf = AlignedBuf::options().alignment(align).zeroed(len).unwrap();
            assert_eq!(buf.len(), len);
            assert_eq!(buf.as_ptr() as usize % align, 0);
            assert!(buf.iter().all(|&b| b == 0));
        }
        assert!(AlignedBuf::options().alignment(3).zeroed(8).is_err());
    }

    /// Resident bytes of this process (Linux `/proc/self/statm`).
    fn resident_bytes() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * rustix::param::page_size() as u64
    }

    #[test]
    fn populated_buffers_are_resident_at_once_and_zeroed() {
        let len = 64 << 20;
        for huge in [false, true] {
            let before = resident_bytes();
            let mut buf = AlignedBuf::options()
                .huge_pages(huge)
                .populate(true)
                .zeroed(len)
                .unwrap();
            let grown = resident_bytes().saturating_sub(before);
            assert!(
                grown >= len as u64 * 15 / 16,
                "huge {huge}: {grown} bytes resident"
            );
            assert!(buf.iter().all(|&b| b == 0));
            buf[len - 1] = 1;
            assert_eq!(buf[len - 1], 1);
        }
    }

    #[test]
    fn huge_page_buffers_are_two_mib_aligned_and_writable() {
        let mut buf = AlignedBuf::options()
            .huge_pages(true)
            .zeroed(HUGE_PAGE_SIZE + 4096)
            .unwrap();
        assert_eq!(buf.as_ptr() as usize % HUGE_PAGE_SIZE, 0);
        assert!(buf.iter().all(|&b| b == 0));
        buf[HUGE_PAGE_SIZE] = 7;
        assert_eq!(buf[HUGE_PAGE_SIZE], 7);
        let small = AlignedBuf::options().huge_pages(true).zeroed(4096).unwrap();
        assert!(!small.huge_pages());
    }

    #[test]
    fn large_buffers_are_mapped_zeroed_and_aligned_as_asked() {
        for align in [4096, 1 << 20, 4 << 20] {
            let mut buf = AlignedBuf::options()
                .alignment(align)
                .zeroed(3 * MAP_THRESHOLD + 512)
                .unwrap();
            assert_eq!(buf.len(), 3 * MAP_THRESHOLD + 512);
            assert_eq!(buf.as_ptr() as usize % align, 0);
            assert!(buf.iter().all(|&b| b == 0));
            let last = buf.len() - 1;
            buf[0] = 1;
            buf[last] = 2;
            assert_eq!((buf[0], buf[last]), (1, 2));
        }
    }
}
