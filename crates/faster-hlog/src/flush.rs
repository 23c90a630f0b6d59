//! Read-only shifts and page flushes (rules H4, H5): once every thread has seen the
//! read-only address pass a range, the range is written to the device straight from its page
//! frames, and flushed-until follows the completions.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use faster_device::{AlignedBuf, DeviceError, DeviceExt};

use crate::flush_order::{FlushOrder, FlushRange};
use crate::log::{HybridLog, LogState};
use crate::sync::{Ordering, advance, ignore_poison, lock};
use crate::{Address, LogError};

/// A callback waiting for the log to be flushed up to an address.
type FlushWaiter = Box<dyn FnOnce(Result<(), LogError>) + Send + 'static>;

/// Flush bookkeeping behind the log's flush mutex.
pub(crate) struct FlushState {
    order: FlushOrder,
    /// The first failed write or flush: the log is poisoned from then on.
    error: Option<DeviceError>,
    waiters: Vec<(u64, FlushWaiter)>,
}

impl FlushState {
    pub(crate) fn new(flushed_until: u64) -> Self {
        Self {
            order: FlushOrder::new(flushed_until),
            error: None,
            waiters: Vec::new(),
        }
    }
}

impl LogState {
    /// The first flush error, if the log is poisoned.
    pub(crate) fn poison(&self) -> Option<DeviceError> {
        lock(&self.flush).error.clone()
    }

    /// Moves the read-only address to `target` (never back) and, once every thread has
    /// refreshed past the move, flushes the pages below it (rule H4).
    pub(crate) fn shift_read_only(self: &Arc<Self>, target: u64) {
        let target = target.min(self.tail_address());
        if advance(&self.read_only, target) < target {
            let shared = Arc::clone(self);
            self.epoch.bump_with(move || shared.on_read_only(target));
        }
    }

    /// The epoch action of a read-only shift: nobody updates below `target` any more.
    fn on_read_only(self: &Arc<Self>, target: u64) {
        advance(&self.safe_read_only, target);
        self.schedule_flush(target);
    }

    /// Queues the flush of everything below `target` that is not queued yet, one range per
    /// page, and issues the writes that may start now (rule H5).
    fn schedule_flush(self: &Arc<Self>, target: u64) {
        let g = &self.geometry;
        let ready = {
            let mut state = lock(&self.flush);
            let mut from = state.order.scheduled_until();
            let mut ranges = Vec::new();
            while from < target {
                let page_end = g.page_start(g.page_of(from) + 1);
                let to = target.min(page_end);
                ranges.push(FlushRange {
                    from,
                    to,
                    device_from: g.sector_floor(from),
                    device_to: g.sector_ceil(to),
                });
                from = to;
            }
            state.order.schedule(&ranges)
        };
        for range in ready {
            self.issue_write(range);
        }
    }

    /// Writes `range` to the device. The whole sectors below `range.to` go straight from the
    /// page frame; a partial last sector goes from a copy, because the bytes after `range.to`
    /// in that sector may still be written by other threads (they are above the read-only
    /// address) and the device must not read memory that is being written.
    fn issue_write(self: &Arc<Self>, range: FlushRange) {
        tracing::trace!(from = range.from, to = range.to, "page flush issued");
        let g = &self.geometry;
        let whole_to = g.sector_floor(range.to);
        let mut parts: Vec<(u64, u64)> = Vec::with_capacity(2);
        if whole_to > range.device_from {
            parts.push((range.device_from, whole_to));
        }
        if whole_to < range.device_to {
            parts.push((whole_to, range.device_to));
        }
        let join = Arc::new(WriteJoin {
            shared: Arc::clone(self),
            range,
            remaining: AtomicUsize::new(parts.len()),
            first_error: std::sync::Mutex::new(None),
        });
        for (from, to) in parts {
            let len = (to - from) as usize;
            let part = Arc::clone(&join);
            let done = move |result| part.part_done(result);
            let submitted = if to <= range.to {
                let src = self.frames.base(g.frame_of(g.page_of(from))) as *const u8;
                let src = src.wrapping_add(g.offset_of(from) as usize);
                // SAFETY: rules H3, H4, H5, H6, D9 — the bytes `[from, to)` are below
                // `range.to`, which is at or below the safe read-only address, so nobody writes
                // them any more (H4); the frame keeps this page until the head passes it, which
                // waits for flushed-until, which waits for this completion (H3, H5, H6).
                unsafe { self.device.write_raw(from, src, len, Box::new(done)) }
            } else {
                self.write_tail_sector(from, range.to, len, done)
            };
            if let Err(e) = submitted {
                // The device dropped the completion unrun: account for the part here.
                join.part_done(Err(e));
            }
        }
    }

    /// Writes the sector `[from, from + len)` whose log bytes end at `valid_to`, from a copy
    /// padded with zeros.
    fn write_tail_sector(
        &self,
        from: u64,
        valid_to: u64,
        len: usize,
        done: impl FnOnce(Result<(), DeviceError>) + Send + 'static,
    ) -> Result<(), DeviceError> {
        let g = &self.geometry;
        let mut copy = AlignedBuf::options()
            .alignment(4096.max(g.sector_size as usize))
            .zeroed(len)?;
        let valid = (valid_to - from) as usize;
        let src = self.frames.base(g.frame_of(g.page_of(from))) as *const u8;
        let src = src.wrapping_add(g.offset_of(from) as usize);
        // SAFETY: rules H3, H4, H6 — `[from, valid_to)` is below the safe read-only address, so
        // nobody writes it (H4), and the frame holds this page until the flush completes (H3,
        // H6).
        let bytes = unsafe { std::slice::from_raw_parts(src, valid) };
        copy[..valid].copy_from_slice(bytes);
        self.device
            .write_buf(from, copy, move |result, _buf| done(result))
            .map_err(DeviceError::from)
    }

    /// A flush write finished: advance flushed-until, release held writes, wake waiters.
    fn on_write_done(self: &Arc<Self>, range: FlushRange, result: Result<(), DeviceError>) {
        let (ready, satisfied) = {
            let mut state = lock(&self.flush);
            let ready = match result {
                Ok(()) => state.order.complete(range),
                Err(e) => {
                    if state.error.is_none() {
                        tracing::error!(
                            from = range.from,
                            to = range.to,
                            error = %e,
                            "page flush failed; the log is poisoned"
                        );
                    }
                    state.error.get_or_insert(e);
                    state.order.fail(range)
                }
            };
            let flushed = state.order.flushed_until();
            advance(&self.flushed_until, flushed);
            tracing::trace!(
                from = range.from,
                to = range.to,
                flushed,
                "page flush completed"
            );
            let waiters = std::mem::take(&mut state.waiters);
            let (satisfied, waiting): (Vec<_>, Vec<_>) = waiters
                .into_iter()
                .partition(|(address, _)| *address <= flushed || state.error.is_some());
            state.waiters = waiting;
            let outcome = state.error.clone().map_or(Ok(()), Err);
            (ready, (satisfied, outcome))
        };
        self.flushed.notify_all();
        for range in ready {
            self.issue_write(range);
        }
        let (satisfied, outcome) = satisfied;
        for (_, waiter) in satisfied {
            waiter(outcome.clone().map_err(LogError::Poisoned));
        }
        // Completed flushes may let the head move, which frees frames for the tail.
        let (tail_page, _) = self.tail.load();
        self.shift_head_for_tail_page(tail_page);
    }
}

/// The parts of one flush range (whole sectors from the frame, a partial sector from a copy):
/// the range completes when its last part does, with the first error of any part.
struct WriteJoin {
    shared: Arc<LogState>,
    range: FlushRange,
    remaining: AtomicUsize,
    first_error: std::sync::Mutex<Option<DeviceError>>,
}

impl WriteJoin {
    fn part_done(&self, result: Result<(), DeviceError>) {
        let mut first_error = lock(&self.first_error);
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let outcome = first_error.take().map_or(Ok(()), Err);
            drop(first_error);
            self.shared.on_write_done(self.range, outcome);
        }
    }
}

impl HybridLog {
    /// Makes sure everything below `address` (clamped to the tail) will be written to the
    /// device: moves the read-only address there if it is behind. Returns the clamped
    /// address. The writes start once every protected thread has refreshed (rule H4); wait for
    /// them with [`HybridLog::wait_flushed`] or [`HybridLog::on_flushed`].
    pub fn flush_until(&self, address: Address) -> Address {
        let target = address.raw().min(self.shared.tail_address());
        self.shared.shift_read_only(target);
        Address::from_masked(target)
    }

    /// [`HybridLog::flush_until`] the current tail; returns the tail address it used.
    pub fn shift_read_only_to_tail(&self) -> Address {
        self.flush_until(self.tail_address())
    }

    /// Runs `callback` once everything below `address` is written to the device (at once if it
    /// already is), or with [`LogError::Poisoned`] if a flush fails first. It runs on the
    /// thread that completes the flush, so it must not block.
    pub fn on_flushed(
        &self,
        address: Address,
        callback: impl FnOnce(Result<(), LogError>) + Send + 'static,
    ) {
        let immediate = {
            let mut state = lock(&self.shared.flush);
            if let Some(error) = &state.error {
                Some(Err(LogError::Poisoned(error.clone())))
            } else if state.order.flushed_until() >= address.raw() {
                Some(Ok(()))
            } else {
                state.waiters.push((address.raw(), Box::new(callback)));
                return;
            }
        };
        if let Some(result) = immediate {
            callback(result);
        }
    }

    /// Blocks until everything below `address` is written to the device, for at most
    /// `timeout`; returns whether it is.
    ///
    /// The calling thread must not hold a guard of this log's epoch: the flush starts only
    /// after every protected thread refreshed, which a blocked thread cannot do.
    ///
    /// # Errors
    /// [`LogError::Poisoned`] when a flush failed.
    pub fn wait_flushed(&self, address: Address, timeout: Duration) -> Result<bool, LogError> {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.shared.flush);
        loop {
            if let Some(error) = &state.error {
                return Err(LogError::Poisoned(error.clone()));
            }
            if state.order.flushed_until() >= address.raw() {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            // Epoch actions that start flushes may be waiting for this thread only if it is
            // protected, which the caller promises it is not; drain them in case nobody else
            // is active to do so.
            drop(state);
            self.shared.epoch.try_drain();
            state = lock(&self.shared.flush);
            if state.order.flushed_until() >= address.raw() || state.error.is_some() {
                continue;
            }
            let wait = (deadline - now).min(Duration::from_millis(100));
            state = ignore_poison(self.shared.flushed.wait_timeout(state, wait)).0;
        }
    }

    /// Flushes the log up to the current tail, waits for the writes, then makes them durable
    /// with [`Device::flush`](faster_device::Device::flush). Returns the durable address.
    ///
    /// The calling thread must not hold a guard of this log's epoch (see
    /// [`HybridLog::wait_flushed`]).
    ///
    /// # Errors
    /// [`LogError::Poisoned`] when a write failed, or the device's flush error (which then
    /// poisons the log).
    pub fn flush_and_sync(&self) -> Result<Address, LogError> {
        let target = self.shift_read_only_to_tail();
        while !self.wait_flushed(target, Duration::from_secs(1))? {}
        if let Err(e) = self.shared.device.flush() {
            lock(&self.shared.flush).error.get_or_insert(e.clone());
            self.shared.flushed.notify_all();
            return Err(LogError::Poisoned(e));
        }
        Ok(target)
    }

    /// The error that poisoned the log, if a flush failed.
    pub fn poisoned(&self) -> Option<DeviceError> {
        self.shared.poison()
    }

    /// Number of flush writes issued or held back that have not completed.
    pub fn flushes_outstanding(&self) -> usize {
        lock(&self.shared.flush).order.outstanding()
    }
}
