//! A device written outside the crate — a striped device over several inner devices — plugs
//! in through the public trait and works with the blocking methods, completion queues and
//! `Arc<dyn Device>`.

#![allow(
    clippy::unwrap_used,
    reason = "shared test code outside #[test] functions unwrap too; a failure is a test failure"
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faster_device::{
    AlignedBuf, Completion, CompletionQueue, Device, DeviceError, DeviceExt, Geometry, MemDevice,
};

/// Stripes the byte space over `inner` devices in units of `unit` bytes: unit `k` lives on
/// device `k % n` at inner offset `(k / n) * unit`. Global segment `s` is segment `s` of
/// every inner device.
struct StripedDevice {
    inner: Vec<Arc<dyn Device>>,
    unit: u64,
    geometry: Geometry,
}

impl StripedDevice {
    fn new(inner: Vec<Arc<dyn Device>>, unit: u64) -> Result<Self, DeviceError> {
        let g = inner[0].geometry();
        let n = inner.len() as u64;
        let geometry = Geometry::new(g.sector_size, g.segment_size * n, None)?;
        Ok(Self {
            inner,
            unit,
            geometry,
        })
    }

    /// `(device, inner offset, buffer offset, len)` for each stripe piece of a request.
    fn pieces(&self, offset: u64, len: usize) -> Vec<(usize, u64, usize, usize)> {
        let n = self.inner.len() as u64;
        let mut out = Vec::new();
        let mut pos = offset;
        let end = offset + len as u64;
        while pos < end {
            let k = pos / self.unit;
            let within = pos % self.unit;
            let piece = (self.unit - within).min(end - pos);
            out.push((
                (k % n) as usize,
                (k / n) * self.unit + within,
                (pos - offset) as usize,
                piece as usize,
            ));
            pos += piece;
        }
        out
    }

    /// One completion per piece; `done` runs once, after the last, with the first error.
    fn join(done: Completion, pieces: usize) -> Vec<Completion> {
        let remaining = Arc::new(AtomicUsize::new(pieces));
        let state = Arc::new(Mutex::new((Ok(()), Some(done))));
        (0..pieces)
            .map(|_| {
                let (remaining, state) = (Arc::clone(&remaining), Arc::clone(&state));
                Box::new(move |r: Result<(), DeviceError>| {
                    let mut s = state.lock().unwrap();
                    if s.0.is_ok() {
                        s.0 = r;
                    }
                    if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                        let (result, done) = (s.0.clone(), s.1.take());
                        drop(s);
                        if let Some(done) = done {
                            done(result);
                        }
                    }
                }) as Completion
            })
            .collect()
    }
}

impl Device for StripedDevice {
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
        self.geometry.check(offset, len, src as usize)?;
        let begin = self.begin_offset();
        if offset < begin {
            return Err(DeviceError::Truncated { offset, begin });
        }
        let pieces = self.pieces(offset, len);
        if pieces.is_empty() {
            done(Ok(()));
            return Ok(());
        }
        for ((dev, at, buf_off, piece), c) in
            pieces.iter().copied().zip(Self::join(done, pieces.len()))
        {
            // SAFETY: rules D4, D9 — the piece lies inside the caller's buffer, which the caller
            // keeps valid until `done`, which runs after every piece's completion. After our own
            // checks an inner device refuses only under a concurrent `close` or
            // `truncate_until`, which this test does not do.
            unsafe { self.inner[dev].write_raw(at, src.add(buf_off), piece, c)? };
        }
        Ok(())
    }

    unsafe fn read_raw(
        &self,
        offset: u64,
        dst: *mut u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        self.geometry.check(offset, len, dst as usize)?;
        let begin = self.begin_offset();
        if offset < begin {
            return Err(DeviceError::Truncated { offset, begin });
        }
        let pieces = self.pieces(offset, len);
        if pieces.is_empty() {
            done(Ok(()));
            return Ok(());
        }
        for ((dev, at, buf_off, piece), c) in
            pieces.iter().copied().zip(Self::join(done, pieces.len()))
        {
            // SAFETY: rules D4, D9 — as in `write_raw`; pieces do not overlap, so each inner
            // device has its part of the buffer to itself.
            unsafe { self.inner[dev].read_raw(at, dst.add(buf_off), piece, c)? };
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.inner.iter().try_for_each(|d| d.flush())
    }

    fn truncate_until(&self, offset: u64) -> Result<(), DeviceError> {
        let segments = offset / self.geometry.segment_size;
        let inner_segment = self.inner[0].geometry().segment_size;
        self.inner
            .iter()
            .try_for_each(|d| d.truncate_until(segments * inner_segment))
    }

    fn begin_offset(&self) -> u64 {
        self.inner[0].begin_offset() * self.inner.len() as u64
    }

    fn poll(&self) -> usize {
        self.inner.iter().map(|d| d.poll()).sum()
    }

    fn close(&self) {
        self.inner.iter().for_each(|d| d.close());
    }
}

fn striped() -> (Arc<dyn Device>, Vec<Arc<dyn Device>>) {
    let inner: Vec<Arc<dyn Device>> = (0..4)
        .map(|_| {
            Arc::new(MemDevice::builder().segment_size(1 << 16).build().unwrap()) as Arc<dyn Device>
        })
        .collect();
    let device: Arc<dyn Device> = Arc::new(StripedDevice::new(inner.clone(), 4096).unwrap());
    (device, inner)
}

#[test]
fn a_device_defined_outside_the_crate_works_through_the_blocking_methods() {
    let (device, inner) = striped();
    let data: Vec<u8> = (0..5 * 4096 + 1024).map(|i| (i % 251) as u8).collect();
    device.write_blocking(512, &data).unwrap();
    let mut back = vec![0; data.len()];
    device.read_blocking(512, &mut back).unwrap();
    assert_eq!(back, data);
    // The stripes really went to different inner devices: unit 1 is on device 1 at 0.
    let mut unit1 = vec![0; 4096];
    inner[1].read_blocking(0, &mut unit1).unwrap();
    assert_eq!(unit1[..], data[4096 - 512..2 * 4096 - 512]);
}

#[test]
fn a_device_defined_outside_the_crate_works_with_queues_and_errors() {
    let (device, _inner) = striped();
    let queue = CompletionQueue::new();
    for i in 0..16u64 {
        let done = queue.completion(i);
        device
            .write_buf(
                i * 8192,
                AlignedBuf::copy_from(&[i as u8; 8192]),
                move |r, _| done(r),
            )
            .unwrap();
    }
    let mut tokens: Vec<u64> = (0..16)
        .map(|_| {
            let (t, r) = queue.pop_blocking(Duration::from_secs(10)).unwrap();
            r.unwrap();
            t
        })
        .collect();
    tokens.sort_unstable();
    assert_eq!(tokens, (0..16).collect::<Vec<_>>());
    assert!(matches!(
        device.write_blocking(100, &[0; 512]),
        Err(DeviceError::Misaligned { .. })
    ));
    // Global segments are 4 × 64 KiB.
    device.truncate_until(2 * (4 << 16) + 4096).unwrap();
    assert_eq!(device.begin_offset(), 2 * (4 << 16));
    assert!(matches!(
        device.read_blocking(0, &mut [0; 512]),
        Err(DeviceError::Truncated { .. })
    ));
}
