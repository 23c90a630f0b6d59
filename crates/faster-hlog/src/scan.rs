//! [`LogScan`]: iterate the records of an address range, from memory or from the device.
//!
//! The log does not know the record format, so the caller supplies a *sizer*: given the bytes
//! from a record's start to the end of what is available (at most the end of its page), it
//! returns the record's size, or `None` when no record starts there (the zero bytes at the end
//! of a page, which the tail skipped). Pages below the head are read from the device with one
//! read ahead of the page being handed out; pages in memory are handed out in place.

use std::sync::mpsc::{Receiver, sync_channel};

use faster_device::{AlignedBuf, DeviceError, DeviceExt};
use faster_epoch::Guard;

use crate::log::{HybridLog, RECORD_ALIGNMENT};
use crate::{Address, LogError};

/// One record handed out by a [`LogScan`]: valid until the next call to [`LogScan::next`].
#[derive(Debug, Clone, Copy)]
pub struct ScanRecord<'a> {
    /// The record's address.
    pub address: Address,
    /// The record's bytes (as long as the sizer said).
    pub bytes: &'a [u8],
}

/// A page (or its tail) read from the device: bytes `[from, from + len)` of the log.
struct PageBuffer {
    page: u64,
    from: u64,
    len: usize,
    buf: AlignedBuf,
}

type PendingPage = (u64, Receiver<Result<PageBuffer, DeviceError>>);

/// Records a protected scan hands out between two refreshes of its epoch (as a pinned
/// session refreshes every 64 operations).
pub const SCAN_REFRESH_INTERVAL: u32 = 64;

/// The scan's own epoch slot: protected while a record from memory may be in the caller's
/// hands, paused otherwise.
enum Protection {
    Protected(Guard<'static>),
    Paused(faster_epoch::Handle),
    /// Only while switching between the two.
    Switching,
}

/// An iterator over the records of `[from, to)`; see the module documentation.
///
/// It has its own epoch slot. Between calls to [`LogScan::next`] it stays protected, so that
/// a record handed out from memory remains valid without a copy until the next call (which
/// needs `&mut self`). It refreshes that protection every [`SCAN_REFRESH_INTERVAL`] records
/// (a refresh per record cost compaction a sixth of its time in the epoch's drain) and
/// whenever it resumes from a pause. A protected thread holds back every flush and eviction
/// of the log, so a scan that will sit idle, or whose caller spends long on each record, must
/// be paused ([`LogScan::pause`]) or dropped first — in particular before its thread blocks
/// on the log (`wait_flushed`, `flush_and_sync`). A scan pauses itself when it reaches the
/// end of its range.
pub struct LogScan<F> {
    log: HybridLog,
    protection: Protection,
    /// Calls to [`LogScan::next`] since the protection was last refreshed.
    since_refresh: u32,
    sizer: F,
    next: u64,
    end: u64,
    current: Option<PageBuffer>,
    ahead: Option<PendingPage>,
    /// The last page's buffer, read into again when the next read has its size (every whole
    /// page): a fresh zeroed buffer costs a page fault per 4 KiB.
    spare: Option<AlignedBuf>,
}

impl<F> std::fmt::Debug for LogScan<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogScan")
            .field("next", &Address::from_masked(self.next))
            .field("end", &Address::from_masked(self.end))
            .finish()
    }
}

impl HybridLog {
    /// Scans the records of `[from, to)`. Only the immutable part of the log is scanned: `to`
    /// is clamped to the safe read-only address (call [`HybridLog::flush_until`] first to
    /// include newer records), and `from` is raised to the begin address. `sizer` tells record
    /// sizes (see the module documentation); sizes are rounded up to 8 bytes.
    ///
    /// # Errors
    /// [`LogError::Epoch`] when the epoch table has no free slot for the scan's protection.
    pub fn scan<F>(&self, from: Address, to: Address, sizer: F) -> Result<LogScan<F>, LogError>
    where
        F: FnMut(&[u8]) -> Option<u64>,
    {
        let handle = self.epoch().register()?;
        let end = to.raw().min(self.safe_read_only_address().raw());
        Ok(LogScan {
            log: self.clone(),
            protection: Protection::Paused(handle),
            since_refresh: 0,
            sizer,
            next: from.raw().max(self.begin_address().raw()),
            end,
            current: None,
            ahead: None,
            spare: None,
        })
    }
}

impl<F> LogScan<F>
where
    F: FnMut(&[u8]) -> Option<u64>,
{
    /// The address the scan looks at next.
    pub fn next_address(&self) -> Address {
        Address::from_masked(self.next)
    }

    /// Moves the scan forward to `address`, skipping the records before it unread (pages with
    /// nothing wanted are not read at all). `address` must be the start of a record or of a
    /// page — an address the log handed out, such as an index entry's; an address at or
    /// before [`LogScan::next_address`] changes nothing. A wrong address makes the next record
    /// a misparse, which the sizer or the caller's parser refuses (never undefined behaviour:
    /// the bytes are only read).
    pub fn skip_to(&mut self, address: Address) {
        self.next = self.next.max(address.raw());
    }

    /// Drops the scan's protection until the next call to [`LogScan::next`]: the record last
    /// handed out may then be evicted, and the scan no longer holds back the log's flushes and
    /// evictions. Call it before the scan sits idle.
    pub fn pause(&mut self) {
        if let Protection::Protected(guard) =
            std::mem::replace(&mut self.protection, Protection::Switching)
        {
            self.protection = match guard.into_handle() {
                Some(handle) => Protection::Paused(handle),
                None => Protection::Switching,
            };
        }
    }

    /// Protects the scan again after a pause, or refreshes its epoch once every
    /// [`SCAN_REFRESH_INTERVAL`] calls while it stays protected.
    fn protect(&mut self) -> Result<(), LogError> {
        if let Protection::Protected(guard) = &mut self.protection {
            self.since_refresh += 1;
            if self.since_refresh >= SCAN_REFRESH_INTERVAL {
                self.since_refresh = 0;
                guard.refresh();
            }
            return Ok(());
        }
        self.since_refresh = 0;
        self.protection = match std::mem::replace(&mut self.protection, Protection::Switching) {
            // Handled above.
            Protection::Protected(guard) => Protection::Protected(guard),
            Protection::Paused(handle) => Protection::Protected(handle.into_guard()),
            // An owning guard always gives its handle back, so this is not reached; if it
            // were, the scan takes a new slot rather than read unprotected.
            Protection::Switching => {
                Protection::Protected(self.log.epoch().register()?.into_guard())
            }
        };
        Ok(())
    }

    /// The next record, or `None` at the end of the range.
    ///
    /// # Errors
    /// [`LogError::CorruptRecord`] when the sizer returns 0 or a size past the end of the
    /// available bytes; a device error when a page cannot be read; [`LogError::Epoch`] if the
    /// scan lost its epoch slot and cannot get another.
    #[expect(
        clippy::should_implement_trait,
        reason = "a lending iterator: the record borrows the scan"
    )]
    pub fn next(&mut self) -> Result<Option<ScanRecord<'_>>, LogError> {
        loop {
            self.protect()?;
            self.next = self.next.max(self.log.begin_address().raw());
            if self.next >= self.end {
                self.pause();
                return Ok(None);
            }
            let page = self.log.page_of(Address::from_masked(self.next));
            let page_end = self.log.page_start(page + 1).raw();
            let address = self.next;
            // Rule H6: checked under our guard, so a frame at or above the head keeps its page
            // until our next refresh.
            let in_memory = address >= self.log.head_address().raw();
            let (ptr, available) = if in_memory {
                // Only bytes below `end` (at or below the safe read-only address) are handed to
                // the sizer: above it, other threads may still be writing.
                let limit = page_end.min(self.end);
                (
                    self.log.frame_ptr(Address::from_masked(address)) as *const u8,
                    limit - address,
                )
            } else {
                let buffer = self.page_buffer(page)?;
                let skip = (address - buffer.from) as usize;
                if skip >= buffer.len {
                    // Nothing of this page is on the device past here (flushed-until).
                    self.next = page_end;
                    continue;
                }
                (
                    buffer.buf.as_ptr().wrapping_add(skip),
                    (buffer.len - skip) as u64,
                )
            };
            // SAFETY: rules H4, H6, D10 — `ptr..ptr + available` lies in a page frame (kept by
            // our protection, H6, and immutable below the safe read-only address that bounds
            // `end`, H4) or in our own page buffer, which is not touched until the next call.
            let bytes = unsafe { std::slice::from_raw_parts(ptr, available as usize) };
            match (self.sizer)(bytes) {
                None => self.next = page_end,
                Some(size) => {
                    let size = size.div_ceil(RECORD_ALIGNMENT) * RECORD_ALIGNMENT;
                    if size == 0 || size > available {
                        return Err(LogError::CorruptRecord {
                            address: Address::from_masked(address),
                            reason: "record size is zero or runs past the end of its page",
                        });
                    }
                    self.next = address + size;
                    return Ok(Some(ScanRecord {
                        address: Address::from_masked(address),
                        bytes: &bytes[..size as usize],
                    }));
                }
            }
        }
    }

    /// The device copy of `page` from the scan position on, reading it (and starting the read
    /// of the next page) if needed.
    fn page_buffer(&mut self, page: u64) -> Result<&PageBuffer, LogError> {
        if self.current.as_ref().is_none_or(|b| b.page != page) {
            let buffer = match self.ahead.take() {
                Some((ahead_page, receiver)) if ahead_page == page => wait(&self.log, &receiver)?,
                _ => {
                    let receiver = self.start_read(page, self.next)?;
                    wait(&self.log, &receiver)?
                }
            };
            if let Some(old) = self.current.replace(buffer) {
                self.spare = Some(old.buf);
            }
            // Keep one read in flight: the next page, if it is also on the device.
            let next_start = self.log.page_start(page + 1).raw();
            if next_start < self.end && next_start < self.log.head_address().raw() {
                self.ahead = Some((page + 1, self.start_read(page + 1, next_start)?));
            }
        }
        self.current
            .as_ref()
            .ok_or(LogError::Device(DeviceError::Closed))
    }

    /// Starts reading `page` from `from` to the end of the page (or of the flushed bytes).
    fn start_read(
        &mut self,
        page: u64,
        from: u64,
    ) -> Result<Receiver<Result<PageBuffer, DeviceError>>, LogError> {
        let g = &self.log.shared.geometry;
        let page_end = g.page_start(page + 1);
        let valid_to = page_end.min(self.log.flushed_until_address().raw());
        let device_from = g.sector_floor(from);
        let device_to = g.sector_ceil(valid_to.max(device_from));
        let size = (device_to - device_from) as usize;
        let buf = match self.spare.take() {
            // Rule D3: a read that succeeds writes every byte of the buffer (zeros where
            // nothing was written), so a used buffer reads the same as a zeroed one.
            Some(spare) if spare.len() == size => spare,
            _ => AlignedBuf::options()
                .alignment(4096.max(g.sector_size as usize))
                .zeroed(size)?,
        };
        let len = (valid_to.max(device_from) - device_from) as usize;
        let (sender, receiver) = sync_channel(1);
        if device_to == device_from {
            let _ = sender.send(Ok(PageBuffer {
                page,
                from: device_from,
                len: 0,
                buf,
            }));
            return Ok(receiver);
        }
        self.log
            .shared
            .device
            .read_buf(device_from, buf, move |result, buf| {
                // The receiver lives in the scan; if the scan is gone nobody needs the page.
                let _ = sender.send(result.map(|()| PageBuffer {
                    page,
                    from: device_from,
                    len,
                    buf,
                }));
            })
            .map_err(|rejected| LogError::Device(rejected.error))?;
        Ok(receiver)
    }
}

fn wait(
    log: &HybridLog,
    receiver: &Receiver<Result<PageBuffer, DeviceError>>,
) -> Result<PageBuffer, LogError> {
    loop {
        match receiver.recv_timeout(std::time::Duration::from_millis(10)) {
            Ok(result) => return result.map_err(LogError::from),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                log.device().poll();
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(LogError::Device(DeviceError::Closed));
            }
        }
    }
}
