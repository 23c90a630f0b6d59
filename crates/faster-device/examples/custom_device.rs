//! A device defined outside `faster-device`: a wrapper that counts requests and bytes, used
//! through `Arc<dyn Device>` and the blocking methods of `DeviceExt`.
//!
//! Run with `cargo run -p faster-device --example custom_device`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use faster_device::{Completion, Device, DeviceError, DeviceExt, Geometry, MemDevice};

/// Forwards every request to `inner`, counting reads, writes and bytes.
struct CountingDevice {
    inner: Arc<dyn Device>,
    reads: AtomicU64,
    writes: AtomicU64,
    bytes: AtomicU64,
}

impl CountingDevice {
    fn new(inner: Arc<dyn Device>) -> Self {
        Self {
            inner,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }
}

impl Device for CountingDevice {
    fn geometry(&self) -> Geometry {
        self.inner.geometry()
    }

    unsafe fn write_raw(
        &self,
        offset: u64,
        src: *const u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        // SAFETY: rule D9 — the caller's promise about `src` is passed on unchanged.
        unsafe { self.inner.write_raw(offset, src, len, done) }?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len as u64, Ordering::Relaxed);
        Ok(())
    }

    unsafe fn read_raw(
        &self,
        offset: u64,
        dst: *mut u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        // SAFETY: rule D9 — the caller's promise about `dst` is passed on unchanged.
        unsafe { self.inner.read_raw(offset, dst, len, done) }?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len as u64, Ordering::Relaxed);
        Ok(())
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.inner.flush()
    }

    fn truncate_until(&self, offset: u64) -> Result<(), DeviceError> {
        self.inner.truncate_until(offset)
    }

    fn begin_offset(&self) -> u64 {
        self.inner.begin_offset()
    }

    fn poll(&self) -> usize {
        self.inner.poll()
    }

    fn close(&self) {
        self.inner.close();
    }
}

fn main() -> Result<(), DeviceError> {
    let counting = Arc::new(CountingDevice::new(Arc::new(MemDevice::new())));
    // The layers above see only `Arc<dyn Device>`.
    let device: Arc<dyn Device> = counting.clone();

    let page = vec![0xAB_u8; 4096];
    for i in 0..8 {
        device.write_blocking(i * 4096, &page)?;
    }
    device.flush()?;
    let mut back = vec![0_u8; 4096];
    device.read_blocking(3 * 4096, &mut back)?;
    assert_eq!(back, page);

    println!(
        "writes: {}, reads: {}, bytes: {}",
        counting.writes.load(Ordering::Relaxed),
        counting.reads.load(Ordering::Relaxed),
        counting.bytes.load(Ordering::Relaxed),
    );
    Ok(())
}
