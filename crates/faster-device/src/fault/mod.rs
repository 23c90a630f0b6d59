//! [`FaultDevice`]: wraps any device to inject I/O errors, torn writes, latency, and crashes
//! that lose unflushed writes — the basis of crash tests.
//!
//! # What it models
//!
//! A disk with a volatile write cache. A write that completed is visible to reads at once but
//! durable only once a later flush completed. Until then it lives in an *overlay* (submission
//! order); `flush` applies the overlay to the inner device in order and flushes the inner
//! device. [`FaultDevice::crash`] is a power cut followed by a restart: the overlay is lost
//! entirely ([`CrashMode::DropUnflushed`]) or a seeded-random subset of it reaches the inner
//! device, each survivor possibly torn to a prefix of whole sectors
//! ([`CrashMode::Random`]); afterwards the device carries on as the restarted machine's view
//! (armed faults are disarmed, the closed state is cleared).
//!
//! # What it does not model
//!
//! - Reordering or tearing of a write covered by a completed flush: flushed data is exact.
//! - Tearing other than a sector-granular prefix: a real disk may persist sector 3 of a
//!   write without sector 2, or tear inside a sector; sectors here are atomic and a torn
//!   write keeps a prefix.
//! - Corruption: bit rot, misdirected or phantom writes, reads that return wrong data.
//! - Durability of metadata (segment files created or removed): truncation is immediate and
//!   durable.
//! - A crash during a flush: a flush either completed before `crash` or was not called.
//!   Call `crash` with no request in flight; completions still queued on the delay timer run
//!   afterwards and report what they reported before.

mod crash;
mod overlay;
mod timer;

pub use crash::{CrashMode, CrashReport, SurvivingWrite};

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::aligned_buf::AlignedBuf;
use crate::device::{Completion, Device};
use crate::error::{DeviceError, IoOp};
use crate::ext::DeviceExt;
use crate::file::sys::SendPtr;
use crate::geometry::Geometry;
use crate::sync::lock;
use overlay::Overlay;
use timer::{Timer, TimerHandle};

/// A countdown to the op that fails: 0 is disarmed, `n` fires on the `n`-th op from now.
#[derive(Default)]
struct Countdown(AtomicU64);

impl Countdown {
    fn arm(&self, n: u64) {
        self.0.store(n, Ordering::Release);
    }

    /// Counts one op; true if it is the one that fails.
    fn tick(&self) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| c.checked_sub(1))
            .is_ok_and(|previous| previous == 1)
    }
}

/// A [`Device`] wrapper that injects faults and simulated crashes; see the module docs for
/// what it models. Share it as `Arc<FaultDevice>` to keep the controls while layers above use
/// it as `Arc<dyn Device>`.
///
/// Ops are counted from the moment a fault is armed, from 1: `fail_nth_write(1)` fails the
/// next write. Injected errors are [`DeviceError::Io`] carrying `EIO`, delivered through the
/// completion like real I/O errors.
pub struct FaultDevice {
    inner: Arc<dyn Device>,
    geometry: Geometry,
    overlay: Overlay,
    flush_lock: Mutex<()>,
    fail_read: Countdown,
    fail_write: Countdown,
    fail_flush: Countdown,
    tear_write: Countdown,
    tear_keep_bytes: AtomicUsize,
    delay_nanos: AtomicU64,
    timer: OnceLock<Timer>,
    closed: AtomicBool,
}

impl FaultDevice {
    /// Wraps `inner`. Its geometry becomes this device's geometry.
    pub fn new(inner: Arc<dyn Device>) -> Self {
        Self {
            geometry: inner.geometry(),
            inner,
            overlay: Overlay::default(),
            flush_lock: Mutex::new(()),
            fail_read: Countdown::default(),
            fail_write: Countdown::default(),
            fail_flush: Countdown::default(),
            tear_write: Countdown::default(),
            tear_keep_bytes: AtomicUsize::new(0),
            delay_nanos: AtomicU64::new(0),
            timer: OnceLock::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// The wrapped device.
    pub fn inner(&self) -> &Arc<dyn Device> {
        &self.inner
    }

    /// Fails the `n`-th read from now with `EIO` (its buffer is left untouched); 0 disarms.
    pub fn fail_nth_read(&self, n: u64) {
        self.fail_read.arm(n);
    }

    /// Fails the `n`-th write from now with `EIO` (nothing lands); 0 disarms.
    pub fn fail_nth_write(&self, n: u64) {
        self.fail_write.arm(n);
    }

    /// Fails the `n`-th flush (`flush` or `flush_async`) from now with `EIO`; the writes it
    /// would have covered stay unflushed. 0 disarms.
    pub fn fail_nth_flush(&self, n: u64) {
        self.fail_flush.arm(n);
    }

    /// Tears the `n`-th write from now: only its first `keep_bytes`, rounded down to whole
    /// sectors, land, and it reports `EIO`. 0 disarms.
    pub fn tear_nth_write(&self, n: u64, keep_bytes: usize) {
        self.tear_keep_bytes.store(keep_bytes, Ordering::Release);
        self.tear_write.arm(n);
    }

    /// Delays every completion (reads, writes, `flush_async`) by `delay`, delivered from a
    /// timer thread; [`Duration::ZERO`] completes inline again. Blocking `flush` is not
    /// delayed.
    ///
    /// # Errors
    /// [`DeviceError::Io`] if the timer thread cannot be started.
    pub fn set_delay(&self, delay: Duration) -> Result<(), DeviceError> {
        if !delay.is_zero() && self.timer.get().is_none() {
            let timer = Timer::start().map_err(|e| DeviceError::Io {
                op: IoOp::Setup,
                offset: 0,
                source: Arc::new(e),
            })?;
            // A racing caller may have set one first; the spare is dropped (and joined).
            let _ = self.timer.set(timer);
        }
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.delay_nanos.store(nanos, Ordering::Release);
        Ok(())
    }

    /// Disarms every armed fault (the delay stays).
    pub fn disarm(&self) {
        for countdown in [
            &self.fail_read,
            &self.fail_write,
            &self.fail_flush,
            &self.tear_write,
        ] {
            countdown.arm(0);
        }
    }

    /// Writes completed but not yet covered by a completed flush.
    pub fn unflushed_writes(&self) -> usize {
        self.overlay.len()
    }

    /// Simulates a power cut and restart: unflushed writes are lost or partly kept per
    /// `mode`, what survives is applied to the inner device and flushed, armed faults are
    /// disarmed and the device is open again. Call it with no request in flight.
    ///
    /// # Errors
    /// An error of the inner device while applying survivors or flushing.
    pub fn crash(&self, mode: CrashMode) -> Result<CrashReport, DeviceError> {
        let _flushing = lock(&self.flush_lock);
        let writes = self.overlay.take_all();
        let survivors = crash::choose_survivors(mode, &writes, self.geometry.sector_size);
        for survivor in &survivors {
            if survivor.kept_len > 0 {
                let data = &writes[survivor.index].data[..survivor.kept_len];
                self.inner.write_blocking(survivor.offset, data)?;
            }
        }
        self.inner.flush()?;
        self.disarm();
        self.closed.store(false, Ordering::Release);
        Ok(CrashReport {
            unflushed: writes.len(),
            survivors,
        })
    }

    /// The timer and delay to deliver completions with, if a delay is set.
    fn current_delay(&self) -> Option<(TimerHandle, Duration)> {
        let nanos = self.delay_nanos.load(Ordering::Acquire);
        let timer = self.timer.get()?;
        (nanos > 0).then(|| (timer.handle(), Duration::from_nanos(nanos)))
    }

    /// Runs `done(result)` now, or on the timer thread after the configured delay.
    fn deliver(&self, done: Completion, result: Result<(), DeviceError>) {
        deliver_with(self.current_delay(), done, result);
    }

    fn admit(&self, offset: u64, len: usize, addr: usize) -> Result<(), DeviceError> {
        self.geometry.check(offset, len, addr)?;
        if self.closed.load(Ordering::Acquire) {
            return Err(DeviceError::Closed);
        }
        let begin = self.inner.begin_offset();
        if offset < begin {
            return Err(DeviceError::Truncated { offset, begin });
        }
        Ok(())
    }

    /// Applies the overlay to the inner device and flushes it. Holds the flush lock, so
    /// overlay entries reach the inner device in order.
    fn flush_overlay(&self) -> Result<(), DeviceError> {
        let _flushing = lock(&self.flush_lock);
        let writes = self.overlay.snapshot();
        for write in &writes {
            self.inner.write_blocking(write.offset, &write.data)?;
        }
        self.inner.flush()?;
        if let Some(last) = writes.last() {
            self.overlay.remove_through(last.seq);
        }
        Ok(())
    }
}

fn deliver_with(
    delay: Option<(TimerHandle, Duration)>,
    done: Completion,
    result: Result<(), DeviceError>,
) {
    match delay {
        Some((timer, delay)) => timer.schedule(Instant::now() + delay, done, result),
        None => done(result),
    }
}

impl Device for FaultDevice {
    fn geometry(&self) -> Geometry {
        self.geometry
    }

    unsafe fn write_raw(
        &self,
        offset: u64,
        src: *const u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        self.admit(offset, len, src as usize)?;
        let fail = self.fail_write.tick();
        let tear = self.tear_write.tick();
        if fail {
            self.deliver(done, Err(DeviceError::injected(IoOp::Write, offset)));
            return Ok(());
        }
        let kept = if tear {
            let keep = self.tear_keep_bytes.load(Ordering::Acquire).min(len);
            keep - keep % self.geometry.sector_size
        } else {
            len
        };
        if kept > 0 {
            // SAFETY: rule D9 — the caller keeps `src..src + len` readable and unmodified until
            // `done` runs, which is after this copy; `kept <= len`.
            let data = unsafe { std::slice::from_raw_parts(src, kept) };
            let mut copy = AlignedBuf::options()
                .alignment(self.geometry.sector_size)
                .zeroed(kept)?;
            copy.copy_from_slice(data);
            self.overlay.push(offset, copy);
        }
        let result = if tear {
            Err(DeviceError::injected(IoOp::Write, offset + kept as u64))
        } else {
            Ok(())
        };
        self.deliver(done, result);
        Ok(())
    }

    unsafe fn read_raw(
        &self,
        offset: u64,
        dst: *mut u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        self.admit(offset, len, dst as usize)?;
        if self.fail_read.tick() {
            self.deliver(done, Err(DeviceError::injected(IoOp::Read, offset)));
            return Ok(());
        }
        // Taken at submission: writes that completed before this read was submitted.
        let pending = self.overlay.overlapping(offset, len);
        let dst_ptr = SendPtr::new(dst);
        // The inner completion may run on another thread, even after `self` is gone, so it
        // owns what it needs: the overlay snapshot and the timer handle.
        let delay = self.current_delay();
        let on_inner: Completion = Box::new(move |result: Result<(), DeviceError>| {
            if result.is_ok() && !pending.is_empty() {
                // SAFETY: rule D9 — the caller gives us `dst..dst + len` exclusively until
                // `done` runs, and the inner device has finished with it (its completion is
                // running).
                let dst = unsafe { std::slice::from_raw_parts_mut(dst_ptr.get(), len) };
                overlay::apply(&pending, offset, dst);
            }
            deliver_with(delay, done, result);
        });
        // SAFETY: rule D9 — forwarded contract: `dst..dst + len` stays valid and exclusively the
        // device's until `done` runs, which is after `on_inner` runs.
        unsafe { self.inner.read_raw(offset, dst, len, on_inner) }
    }

    fn flush(&self) -> Result<(), DeviceError> {
        if self.fail_flush.tick() {
            return Err(DeviceError::injected(IoOp::Flush, 0));
        }
        self.flush_overlay()
    }

    fn flush_async(&self, done: Completion) -> Result<(), DeviceError> {
        let result = if self.fail_flush.tick() {
            Err(DeviceError::injected(IoOp::Flush, 0))
        } else {
            self.flush_overlay()
        };
        self.deliver(done, result);
        Ok(())
    }

    fn truncate_until(&self, offset: u64) -> Result<(), DeviceError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(DeviceError::Closed);
        }
        let result = self.inner.truncate_until(offset);
        // Unflushed writes below `offset` are dropped, even when the inner device failed, so
        // that no later flush writes them back below the truncation point (where a file
        // device has freed the blocks). Cut at a sector, so what is kept stays aligned.
        let sector = self.geometry.sector_size as u64;
        let cut = (offset - offset % sector).max(self.inner.begin_offset());
        self.overlay.trim_below(cut);
        result
    }

    fn begin_offset(&self) -> u64 {
        self.inner.begin_offset()
    }

    fn identity(&self) -> Option<u128> {
        self.inner.identity()
    }

    /// The inner device's answer: writes still in the overlay (unflushed) are not counted.
    fn check_present(&self, from: u64, to: u64) -> Result<(), DeviceError> {
        self.inner.check_present(from, to)
    }

    fn poll(&self) -> usize {
        self.inner.poll()
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}
