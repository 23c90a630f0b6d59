//! [`HybridLog`]: opening, the region addresses, and allocation at the tail (rules H1–H3).

use std::sync::{Arc, Condvar, Mutex};

use crossbeam_utils::CachePadded;
use faster_device::{Device, DeviceExt};
use faster_epoch::{Epoch, Guard};

use crate::config::{Geometry, LogConfig};
use crate::flush::FlushState;
use crate::frames::Frames;
use crate::sync::{AtomicU64, Ordering, advance};
use crate::tail::{PAGE_LIMIT, Reserve, Tail, Turn};
use crate::{Address, LogError};

/// Every record and every allocation is a multiple of this many bytes.
pub const RECORD_ALIGNMENT: u64 = 8;

/// The region addresses of a log at one moment (each read separately, so only each one's
/// own invariants hold exactly; see rule H1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regions {
    /// Below it, records are gone (truncated).
    pub begin: Address,
    /// Frames below it have been zeroed for reuse; every thread has seen the head pass them.
    pub safe_head: Address,
    /// Below it, records live only on the device.
    pub head: Address,
    /// Everything below it has been written to the device (not necessarily made durable).
    pub flushed_until: Address,
    /// Every thread has seen the read-only address pass this: nobody updates below it.
    pub safe_read_only: Address,
    /// At and above it, records may be updated in place.
    pub read_only: Address,
    /// The next address to be allocated.
    pub tail: Address,
}

/// Where a recovered log resumes: its begin and tail addresses (from checkpoint or commit
/// metadata). Everything in `[begin, tail)` must already be on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryPoint {
    /// The first address still held.
    pub begin: Address,
    /// The address the next allocation starts at.
    pub tail: Address,
}

/// Everything one hybrid log is — its geometry, device, page frames, region addresses and flush
/// bookkeeping — shared by the log's handles, epoch actions and I/O completions.
pub(crate) struct LogState {
    pub(crate) geometry: Geometry,
    pub(crate) config: LogConfig,
    pub(crate) epoch: Arc<Epoch>,
    pub(crate) device: Arc<dyn Device>,
    pub(crate) frames: Frames,
    pub(crate) tail: CachePadded<Tail>,
    pub(crate) begin: CachePadded<AtomicU64>,
    pub(crate) head: CachePadded<AtomicU64>,
    pub(crate) safe_head: CachePadded<AtomicU64>,
    pub(crate) read_only: CachePadded<AtomicU64>,
    pub(crate) safe_read_only: CachePadded<AtomicU64>,
    pub(crate) flushed_until: CachePadded<AtomicU64>,
    /// Flush bookkeeping, the first flush error, and waiters for flushed addresses.
    pub(crate) flush: Mutex<FlushState>,
    /// Signalled whenever `flushed_until` moves or the log is poisoned.
    pub(crate) flushed: Condvar,
    /// Frames below this page-aligned address have been zeroed (rule H6).
    pub(crate) closed_until: Mutex<u64>,
}

impl std::fmt::Debug for LogState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HybridLog")
            .field("config", &self.config)
            .field("regions", &self.regions())
            .finish()
    }
}

/// The hybrid log: a 48-bit logical address space whose tail pages are in memory (the newest
/// of them mutable) and whose older pages live on a [`Device`].
///
/// Cloning is cheap and shares the log. See the crate documentation for the regions and the
/// rules H1–H9 that every access follows.
#[derive(Debug, Clone)]
pub struct HybridLog {
    pub(crate) shared: Arc<LogState>,
}

impl HybridLog {
    /// Opens an empty log on `device`, starting at [`Address::FIRST_VALID`]. Whatever the
    /// device holds is ignored and will be overwritten.
    ///
    /// # Errors
    /// [`LogError::InvalidConfig`] for out-of-range settings, or a device error while
    /// allocating the page frames.
    pub fn open(
        config: LogConfig,
        device: Arc<dyn Device>,
        epoch: Arc<Epoch>,
    ) -> Result<Self, LogError> {
        let start = Address::FIRST_VALID.raw();
        Self::build(config, device, epoch, start, start, start)
    }

    /// Reopens a log whose bytes `[point.begin, point.tail)` are on `device`, so that
    /// allocation continues at `point.tail`. The page holding the tail is read back into
    /// memory; everything below it is served from the device.
    ///
    /// # Errors
    /// As [`HybridLog::open`], [`LogError::InvalidRange`] when `begin > tail`, or the device's
    /// error while reading the tail page.
    pub fn recover(
        config: LogConfig,
        device: Arc<dyn Device>,
        epoch: Arc<Epoch>,
        point: RecoveryPoint,
    ) -> Result<Self, LogError> {
        let (begin, tail) = (point.begin.raw(), point.tail.raw());
        if begin > tail || tail < Address::FIRST_VALID.raw() {
            return Err(LogError::InvalidRange {
                from: point.begin,
                to: point.tail,
                reason: "a recovered log needs FIRST_VALID <= begin <= tail",
            });
        }
        let sector = device.geometry().sector_size;
        let geometry = config.validate(sector)?;
        let page_start = geometry.page_start(geometry.page_of(tail));
        let log = Self::build(config, device, epoch, begin, page_start, tail)?;
        let shared = &log.shared;
        // Bring back the written part of the tail page. Bytes past the tail stay zero even if
        // the device holds older data there.
        let read_from = geometry.sector_floor(page_start.max(begin));
        let read_to = geometry.sector_ceil(tail);
        if read_to > read_from {
            let len = usize::try_from(read_to - read_from)
                .map_err(|_| LogError::config("tail page too large".into()))?;
            let mut buf = vec![0; len];
            shared.device.read_blocking(read_from, &mut buf)?;
            let keep = usize::try_from(tail - read_from).unwrap_or(len).min(len);
            let frame = geometry.frame_of(geometry.page_of(tail));
            let offset = usize::try_from(geometry.offset_of(read_from)).unwrap_or(0);
            // SAFETY: rule H9 — the log is not shared yet, so no other thread can access the
            // frame; the copy ends at the tail, inside the page.
            unsafe { shared.frames.fill(frame, offset, &buf[..keep]) };
        }
        Ok(log)
    }

    /// Builds a log with `begin`, head = `head` (page-aligned) and read-only = flushed = tail
    /// = `tail`.
    fn build(
        config: LogConfig,
        device: Arc<dyn Device>,
        epoch: Arc<Epoch>,
        begin: u64,
        head: u64,
        tail: u64,
    ) -> Result<Self, LogError> {
        let geometry = config.validate(device.geometry().sector_size)?;
        if tail >= Address::LIMIT || geometry.page_of(tail) >= PAGE_LIMIT {
            return Err(LogError::AddressSpaceExhausted);
        }
        let frames = Frames::new(&geometry, config.huge_pages)?;
        let tail_word = Tail::new(
            geometry.page_of(tail),
            geometry.offset_of(tail),
            geometry.page_size,
        );
        let shared = LogState {
            geometry,
            config,
            epoch,
            device,
            frames,
            tail: CachePadded::new(tail_word),
            begin: CachePadded::new(AtomicU64::new(begin)),
            head: CachePadded::new(AtomicU64::new(head)),
            safe_head: CachePadded::new(AtomicU64::new(head)),
            read_only: CachePadded::new(AtomicU64::new(tail)),
            safe_read_only: CachePadded::new(AtomicU64::new(tail)),
            flushed_until: CachePadded::new(AtomicU64::new(tail)),
            flush: Mutex::new(FlushState::new(tail)),
            flushed: Condvar::new(),
            closed_until: Mutex::new(head),
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// The epoch that protects this log.
    pub fn epoch(&self) -> &Arc<Epoch> {
        &self.shared.epoch
    }

    /// The device behind the log.
    pub fn device(&self) -> &Arc<dyn Device> {
        &self.shared.device
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &LogConfig {
        &self.shared.config
    }

    /// Bytes per page.
    #[inline]
    pub fn page_size(&self) -> u64 {
        self.shared.geometry.page_size
    }

    /// The page that holds `address`.
    #[inline]
    pub fn page_of(&self, address: Address) -> u64 {
        self.shared.geometry.page_of(address.raw())
    }

    /// The first address of `page`.
    #[inline]
    pub fn page_start(&self, page: u64) -> Address {
        Address::from_masked(self.shared.geometry.page_start(page))
    }

    /// All region addresses (rule H1).
    pub fn regions(&self) -> Regions {
        self.shared.regions()
    }

    /// The begin address: records below it are gone.
    #[inline]
    pub fn begin_address(&self) -> Address {
        Address::from_masked(self.shared.begin.load(Ordering::Acquire))
    }

    /// The head address: records below it are on the device only.
    #[inline]
    pub fn head_address(&self) -> Address {
        Address::from_masked(self.shared.head.load(Ordering::Acquire))
    }

    /// The read-only address: records at or above it may be updated in place.
    #[inline]
    pub fn read_only_address(&self) -> Address {
        Address::from_masked(self.shared.read_only.load(Ordering::Acquire))
    }

    /// The safe read-only address: no thread updates records below it any more.
    #[inline]
    pub fn safe_read_only_address(&self) -> Address {
        Address::from_masked(self.shared.safe_read_only.load(Ordering::Acquire))
    }

    /// Everything below this address has been written to the device.
    #[inline]
    pub fn flushed_until_address(&self) -> Address {
        Address::from_masked(self.shared.flushed_until.load(Ordering::Acquire))
    }

    /// The next address to be allocated.
    #[inline]
    pub fn tail_address(&self) -> Address {
        Address::from_masked(self.shared.tail_address())
    }

    /// Reserves `size` bytes (rounded up to [`RECORD_ALIGNMENT`]) at the tail, for the caller
    /// to fill. `Ok(None)` means the next page's frame is not free yet: refresh `guard` (so the
    /// epoch actions that flush and evict can run) and call again. The log never waits and
    /// never overwrites a page that is not flushed and evicted (rules H2, H3).
    ///
    /// The reserved bytes are zero. The caller owns them until it next refreshes or drops
    /// `guard`, and must finish writing them before it does (rule H4 relies on it).
    ///
    /// # Errors
    /// [`LogError::RecordTooLarge`] when `size` exceeds a page, [`LogError::Poisoned`] when a
    /// flush failed and the log cannot make room, [`LogError::AddressSpaceExhausted`].
    #[inline]
    pub fn try_allocate(&self, size: u64, guard: &Guard<'_>) -> Result<Option<Address>, LogError> {
        let _ = guard;
        self.shared.try_allocate(size)
    }

    /// [`HybridLog::try_allocate`], refreshing `guard` and retrying until there is room. Spins
    /// (yielding the thread) while flushes complete; returns an error instead of spinning
    /// forever when the log is poisoned.
    ///
    /// # Errors
    /// As [`HybridLog::try_allocate`].
    pub fn allocate(&self, size: u64, guard: &mut Guard<'_>) -> Result<Address, LogError> {
        loop {
            if let Some(address) = self.shared.try_allocate(size)? {
                return Ok(address);
            }
            guard.refresh();
            std::thread::yield_now();
        }
    }

    /// The memory of the byte at `address`, in its page frame.
    ///
    /// The pointer is meaningful only while the caller is protected and has checked, under
    /// that protection, that `address >= head_address()` (rule H6): the frame then keeps this
    /// page until the caller refreshes. Writing through it is allowed only to the owner of a
    /// fresh allocation, or for in-place updates at or above the read-only address (rule H4).
    #[inline]
    pub fn frame_ptr(&self, address: Address) -> *mut u8 {
        let g = &self.shared.geometry;
        let raw = address.raw();
        let base = self.shared.frames.base(g.frame_of(g.page_of(raw)));
        // `offset_of` is below the page size, so this stays inside the frame.
        base.wrapping_add(g.offset_of(raw) as usize)
    }

    /// The memory of `address` if it is in memory (`head <= address < tail`), checked under
    /// `guard`: valid until `guard` refreshes or drops (rule H6).
    pub fn get(&self, address: Address, guard: &Guard<'_>) -> Option<std::ptr::NonNull<u8>> {
        let _ = guard;
        let raw = address.raw();
        if raw < self.shared.head.load(Ordering::Acquire) || raw >= self.shared.tail_address() {
            return None;
        }
        std::ptr::NonNull::new(self.frame_ptr(address))
    }
}

impl LogState {
    pub(crate) fn regions(&self) -> Regions {
        let load = |a: &AtomicU64| Address::from_masked(a.load(Ordering::Acquire));
        Regions {
            begin: load(&self.begin),
            safe_head: load(&self.safe_head),
            head: load(&self.head),
            flushed_until: load(&self.flushed_until),
            safe_read_only: load(&self.safe_read_only),
            read_only: load(&self.read_only),
            tail: Address::from_masked(self.tail_address()),
        }
    }

    /// The tail as an address; a full page reads as the start of the next.
    #[inline]
    pub(crate) fn tail_address(&self) -> u64 {
        let (page, offset) = self.tail.load();
        self.geometry.page_start(page) + offset
    }

    pub(crate) fn try_allocate(self: &Arc<Self>, size: u64) -> Result<Option<Address>, LogError> {
        let g = &self.geometry;
        let size = size.max(1).div_ceil(RECORD_ALIGNMENT) * RECORD_ALIGNMENT;
        if size > g.page_size {
            return Err(LogError::RecordTooLarge {
                size,
                page_size: g.page_size,
            });
        }
        loop {
            match self.tail.reserve(size) {
                Reserve::Reserved { page, offset } => {
                    return Ok(Some(Address::from_masked(g.page_start(page) + offset)));
                }
                Reserve::PageFull { page } => {
                    if page + 1 >= PAGE_LIMIT || g.page_start(page + 2) > Address::LIMIT {
                        return Err(LogError::AddressSpaceExhausted);
                    }
                    match self.tail.turn_page(page, |next| self.frame_ready(next)) {
                        Turn::Turned => self.on_page_turned(page + 1),
                        Turn::AlreadyTurned => {}
                        Turn::NotReady => {
                            if let Some(error) = self.poison() {
                                return Err(LogError::Poisoned(error));
                            }
                            // Make sure the head follows the flushes that did complete.
                            self.shift_head_for_tail_page(page);
                            // The frame waits for a write to the device: let the threads
                            // doing it (and any other) run before the caller retries,
                            // instead of spinning against them for a core.
                            std::thread::yield_now();
                            return Ok(None);
                        }
                    }
                }
            }
        }
    }

    /// Whether the frame of page `next` is free: the page it held before is below the safe
    /// head, so its flush completed, every thread has seen it leave, and it is zeroed (H3).
    fn frame_ready(&self, next: u64) -> bool {
        let pages = self.geometry.pages;
        next < pages
            || self.safe_head.load(Ordering::Acquire) >= self.geometry.page_start(next + 1 - pages)
    }

    /// The thread that turned the tail onto `page` moves read-only and head to follow it.
    fn on_page_turned(self: &Arc<Self>, page: u64) {
        let g = &self.geometry;
        if page >= g.mutable_pages {
            self.shift_read_only(g.page_start(page - g.mutable_pages));
        }
        self.shift_head_for_tail_page(page);
    }

    /// Moves the begin address forward (rule H8).
    pub(crate) fn advance_begin(&self, target: u64) -> u64 {
        advance(&self.begin, target)
    }
}
