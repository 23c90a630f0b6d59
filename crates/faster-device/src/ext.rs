//! Safe methods on top of [`Device`]: blocking reads and writes of borrowed slices, and
//! submissions that own their [`AlignedBuf`] until the completion hands it back.
//!
//! Blocking methods call [`Device::poll`] while they wait, so they also work for devices
//! whose completions need the caller's thread.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::aligned_buf::AlignedBuf;
use crate::device::Device;
use crate::error::DeviceError;
use crate::sync::{ignore_poison, lock};

/// A submission refused synchronously, with the buffer it would have used.
pub struct Rejected {
    /// Why the submission was refused.
    pub error: DeviceError,
    /// The caller's buffer, untouched.
    pub buf: AlignedBuf,
}

impl fmt::Debug for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("error", &self.error)
            .field("buf", &self.buf)
            .finish()
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "submission refused: {}", self.error)
    }
}

impl std::error::Error for Rejected {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<Rejected> for DeviceError {
    fn from(r: Rejected) -> Self {
        r.error
    }
}

/// Safe methods for every [`Device`], `dyn Device` included (blanket implementation).
pub trait DeviceExt: Device {
    /// Writes `data` at `offset` and waits for the completion.
    ///
    /// `offset` and `data.len()` must be multiples of the sector size; `data` may live at any
    /// address (it is copied through an [`AlignedBuf`] when its address is not aligned).
    ///
    /// # Errors
    /// Any synchronous or asynchronous error of [`Device::write_raw`].
    fn write_blocking(&self, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        let geometry = self.geometry();
        geometry.check(offset, data.len(), 0)?;
        if geometry.is_aligned(data.as_ptr() as u64) {
            let signal = Signal::new();
            let done = signal.completion();
            // SAFETY: rules D1, D9 — `data` is borrowed for this whole call, and `wait_for` does
            // not return (not even by unwinding) before `done` has run or the submission was
            // refused.
            let submitted = unsafe { self.write_raw(offset, data.as_ptr(), data.len(), done) };
            wait_for(self, &signal, submitted)
        } else {
            let mut bounce = bounce_buffer(geometry.sector_size, data.len())?;
            bounce.copy_from_slice(data);
            self.write_blocking(offset, &bounce)
        }
    }

    /// Reads `buf.len()` bytes at `offset` into `buf` and waits for the completion.
    ///
    /// `offset` and `buf.len()` must be multiples of the sector size; `buf` may live at any
    /// address (a bounce [`AlignedBuf`] is used when its address is not aligned).
    ///
    /// # Errors
    /// Any synchronous or asynchronous error of [`Device::read_raw`].
    fn read_blocking(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let geometry = self.geometry();
        geometry.check(offset, buf.len(), 0)?;
        if geometry.is_aligned(buf.as_ptr() as u64) {
            let signal = Signal::new();
            let done = signal.completion();
            // SAFETY: rules D1, D9 — `buf` is mutably borrowed for this whole call (nobody else
            // can access it), and `wait_for` does not return before `done` has run or the
            // submission was refused.
            let submitted = unsafe { self.read_raw(offset, buf.as_mut_ptr(), buf.len(), done) };
            wait_for(self, &signal, submitted)
        } else {
            let mut bounce = bounce_buffer(geometry.sector_size, buf.len())?;
            self.read_blocking(offset, &mut bounce)?;
            buf.copy_from_slice(&bounce);
            Ok(())
        }
    }

    /// Writes the whole of `buf` at `offset`; `done` receives the result and the buffer.
    ///
    /// # Errors
    /// A synchronous refusal returns the buffer inside [`Rejected`]; `done` is not called.
    fn write_buf<F>(&self, offset: u64, buf: AlignedBuf, done: F) -> Result<(), Rejected>
    where
        F: FnOnce(Result<(), DeviceError>, AlignedBuf) + Send + 'static,
    {
        let (ptr, len) = (buf.as_ptr(), buf.len());
        let slot = Arc::new(Mutex::new(Some(buf)));
        let completion = owned_completion(&slot, done);
        // SAFETY: rules D1, D9 — the buffer's memory is owned by `slot`, which nobody touches
        // until the completion takes it out, after the device is done with it; on a refusal the
        // completion is dropped first and only then is the buffer taken back.
        let submitted = unsafe { self.write_raw(offset, ptr, len, completion) };
        submitted.map_err(|error| reclaim(&slot, error))
    }

    /// Reads `buf.len()` bytes at `offset` into `buf`; `done` receives the result and the
    /// buffer.
    ///
    /// # Errors
    /// A synchronous refusal returns the buffer inside [`Rejected`]; `done` is not called.
    fn read_buf<F>(&self, offset: u64, buf: AlignedBuf, done: F) -> Result<(), Rejected>
    where
        F: FnOnce(Result<(), DeviceError>, AlignedBuf) + Send + 'static,
    {
        read_owned(self, offset, buf, done, false)
    }

    /// [`DeviceExt::read_buf`] as one read of a batch ([`Device::read_raw_batched`], rule
    /// D12): it may wait unsent until [`Device::submit_batch`].
    ///
    /// # Errors
    /// As [`DeviceExt::read_buf`].
    fn read_buf_batched<F>(&self, offset: u64, buf: AlignedBuf, done: F) -> Result<(), Rejected>
    where
        F: FnOnce(Result<(), DeviceError>, AlignedBuf) + Send + 'static,
    {
        read_owned(self, offset, buf, done, true)
    }
}

impl<D: Device + ?Sized> DeviceExt for D {}

/// Reads into an owned buffer that `done` gets back, as one read of a batch or not.
fn read_owned<D, F>(
    device: &D,
    offset: u64,
    mut buf: AlignedBuf,
    done: F,
    batched: bool,
) -> Result<(), Rejected>
where
    D: Device + ?Sized,
    F: FnOnce(Result<(), DeviceError>, AlignedBuf) + Send + 'static,
{
    let (ptr, len) = (buf.as_mut_ptr(), buf.len());
    let slot = Arc::new(Mutex::new(Some(buf)));
    let completion = owned_completion(&slot, done);
    // SAFETY: rules D1, D9 — as in `write_buf`; the buffer is reachable only through `slot`,
    // which is not accessed until the completion runs, so the device is its only accessor.
    let submitted = unsafe {
        if batched {
            device.read_raw_batched(offset, ptr, len, completion)
        } else {
            device.read_raw(offset, ptr, len, completion)
        }
    };
    submitted.map_err(|error| reclaim(&slot, error))
}

type BufSlot = Arc<Mutex<Option<AlignedBuf>>>;

fn owned_completion<F>(slot: &BufSlot, done: F) -> crate::Completion
where
    F: FnOnce(Result<(), DeviceError>, AlignedBuf) + Send + 'static,
{
    let slot = Arc::clone(slot);
    Box::new(move |result| {
        let buf = lock(&slot).take();
        if let Some(buf) = buf {
            done(result, buf);
        }
    })
}

fn reclaim(slot: &BufSlot, error: DeviceError) -> Rejected {
    let buf = lock(slot)
        .take()
        .expect("invariant: a refused submission dropped its completion without taking the buffer");
    Rejected { error, buf }
}

fn bounce_buffer(sector_size: usize, len: usize) -> Result<AlignedBuf, DeviceError> {
    AlignedBuf::options()
        .alignment(sector_size.max(crate::aligned_buf::DEFAULT_ALIGNMENT))
        .zeroed(len)
}

/// A one-shot slot a completion fills and a blocked thread waits on.
pub(crate) struct Signal {
    inner: Arc<SignalInner>,
}

struct SignalInner {
    result: Mutex<Option<Result<(), DeviceError>>>,
    cond: Condvar,
}

impl Signal {
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(SignalInner {
                result: Mutex::new(None),
                cond: Condvar::new(),
            }),
        }
    }

    /// The completion that fills this signal.
    pub(crate) fn completion(&self) -> crate::Completion {
        let inner = Arc::clone(&self.inner);
        Box::new(move |result| {
            *lock(&inner.result) = Some(result);
            inner.cond.notify_all();
        })
    }

    fn try_take(&self) -> Option<Result<(), DeviceError>> {
        lock(&self.inner.result).take()
    }

    /// Waits up to `timeout`; returns the result if it arrived.
    fn wait_timeout(&self, timeout: Duration) -> Option<Result<(), DeviceError>> {
        let guard = lock(&self.inner.result);
        let (mut guard, _) = ignore_poison(self.inner.cond.wait_timeout_while(
            guard,
            timeout,
            |r| r.is_none(),
        ));
        guard.take()
    }

    /// Waits without polling any device (no timeout).
    pub(crate) fn wait(&self) -> Result<(), DeviceError> {
        let guard = lock(&self.inner.result);
        let mut guard = ignore_poison(self.inner.cond.wait_while(guard, |r| r.is_none()));
        guard
            .take()
            .expect("invariant: wait_while returns only once a result is stored")
    }
}

/// Waits until `signal` is filled, calling `device.poll()` in between.
///
/// If `submitted` is an error the completion was dropped and the error is returned at once.
/// Otherwise this returns only after the completion ran: should `poll` panic, the unwinding
/// waits for the completion first (without polling), so borrowed buffers outlive the I/O.
pub(crate) fn wait_for<D: Device + ?Sized>(
    device: &D,
    signal: &Signal,
    submitted: Result<(), DeviceError>,
) -> Result<(), DeviceError> {
    submitted?;
    struct WaitOnUnwind<'a>(&'a Signal, bool);
    impl Drop for WaitOnUnwind<'_> {
        fn drop(&mut self) {
            if !self.1 {
                let _ = self.0.wait();
            }
        }
    }
    let mut guard = WaitOnUnwind(signal, false);
    // Devices that complete by themselves notify the condition variable at once; the growing
    // timeout only bounds how late a device that needs reaping is polled again.
    let mut timeout = Duration::from_micros(20);
    let result = loop {
        if let Some(result) = signal.try_take() {
            break result;
        }
        if device.poll() > 0 {
            continue;
        }
        if let Some(result) = signal.wait_timeout(timeout) {
            break result;
        }
        timeout = (timeout * 2).min(Duration::from_millis(5));
    };
    guard.1 = true;
    result
}
