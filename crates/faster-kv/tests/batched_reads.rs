//! The pending API issues its device reads as batches (faster-device's rule D12) and always
//! sends a batch before anything waits for it: on a device that sends batched reads only when
//! told to, pending reads, `complete_pending` and async reads all still finish, with the
//! right values, and a batch of starts reaches the device as one.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faster_device::{Completion, Device, DeviceError, Geometry, MemDevice};
use faster_kv::{Completed, FasterKv, Outcome};

const KEYS: u64 = 5_000;

/// A batched read held back until `submit_batch`.
struct Held {
    offset: u64,
    dst: usize,
    len: usize,
    done: Completion,
}

/// A memory device that never sends a batched read by itself: only `submit_batch` does.
struct HoldingDevice {
    inner: MemDevice,
    held: Mutex<Vec<Held>>,
    batched: AtomicUsize,
    batches: AtomicUsize,
}

impl HoldingDevice {
    fn new() -> Self {
        Self {
            inner: MemDevice::new(),
            held: Mutex::new(Vec::new()),
            batched: AtomicUsize::new(0),
            batches: AtomicUsize::new(0),
        }
    }

    fn held(&self) -> usize {
        self.held.lock().unwrap().len()
    }
}

impl Device for HoldingDevice {
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
        // SAFETY: rule D9 — the caller keeps `write_raw`'s contract, passed on unchanged.
        unsafe { self.inner.write_raw(offset, src, len, done) }
    }

    unsafe fn read_raw(
        &self,
        offset: u64,
        dst: *mut u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        // SAFETY: rule D9 — the caller keeps `read_raw`'s contract, passed on unchanged.
        unsafe { self.inner.read_raw(offset, dst, len, done) }
    }

    unsafe fn read_raw_batched(
        &self,
        offset: u64,
        dst: *mut u8,
        len: usize,
        done: Completion,
    ) -> Result<(), DeviceError> {
        self.batched.fetch_add(1, Ordering::Relaxed);
        self.held.lock().unwrap().push(Held {
            offset,
            dst: dst as usize,
            len,
            done,
        });
        Ok(())
    }

    fn submit_batch(&self) {
        let held = std::mem::take(&mut *self.held.lock().unwrap());
        if held.is_empty() {
            return;
        }
        self.batches.fetch_add(1, Ordering::Relaxed);
        for Held {
            offset,
            dst,
            len,
            done,
        } in held
        {
            // SAFETY: rule D9 — the caller of `read_raw_batched` keeps the buffer valid and
            // unshared until `done` runs, which has not happened yet; it is passed on whole.
            let refused = unsafe { self.inner.read_raw(offset, dst as *mut u8, len, done) };
            // A refusal dropped `done` without calling it; nothing in these tests is refused.
            refused.unwrap();
        }
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.inner.flush()
    }

    fn truncate_until(&self, offset: u64) -> Result<(), DeviceError> {
        self.inner.truncate_until(offset)
    }

    fn identity(&self) -> Option<u128> {
        self.inner.identity()
    }

    fn close(&self) {
        self.inner.close();
    }
}

fn value_of(key: u64) -> u64 {
    key * 7 + 3
}

fn cold_store() -> (FasterKv<u64, u64>, Arc<HoldingDevice>) {
    let device = Arc::new(HoldingDevice::new());
    let store: FasterKv<u64, u64> = common::small()
        .device(device.clone() as Arc<dyn Device>)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    for key in 0..KEYS {
        s.upsert(&key, &value_of(key)).unwrap();
    }
    drop(s);
    (store, device)
}

#[test]
fn reads_started_together_reach_the_device_as_one_batch() {
    let (store, device) = cold_store();
    let mut session = store.session().unwrap();
    let mut pinned = session.pin();
    let mut expected = std::collections::HashMap::new();
    for key in 0..20 {
        match pinned.start_read(&key).unwrap() {
            Outcome::Ready(v) => assert_eq!(v, Some(value_of(key))),
            Outcome::Pending(serial) => {
                expected.insert(serial, value_of(key));
            }
        }
    }
    assert_eq!(expected.len(), 20, "the oldest keys are on the device");
    assert_eq!(device.held(), 20, "every read waits in the batch");
    let batches = device.batches.load(Ordering::Relaxed);
    let done = pinned.complete_pending(true);
    assert_eq!(device.batches.load(Ordering::Relaxed), batches + 1);
    assert_eq!(done.len(), 20);
    for c in done {
        let want = expected.remove(&c.serial).unwrap();
        assert_eq!(c.result.unwrap(), Completed::Read(Some(want)));
    }
    assert_eq!(device.held(), 0);
}

#[test]
fn a_session_call_sends_its_reads_before_it_returns() {
    let (store, device) = cold_store();
    let mut session = store.session().unwrap();
    let mut expected = Vec::new();
    for key in 0..50 {
        if let Outcome::Pending(serial) = session.start_read(&key).unwrap() {
            expected.push((serial, key));
            assert_eq!(
                device.held(),
                0,
                "a call's own Pinned sends its batch as it ends"
            );
        }
    }
    assert!(!expected.is_empty());
    let mut done = session.complete_pending(true);
    done.sort_by_key(|c| c.serial);
    assert_eq!(done.len(), expected.len());
    for (c, (serial, key)) in done.into_iter().zip(expected) {
        assert_eq!(c.serial, serial);
        assert_eq!(c.result.unwrap(), Completed::Read(Some(value_of(key))));
    }
    // A pinned session dropped with reads unsent sends them too.
    let mut pinned = session.pin();
    let pending = (100..110)
        .filter(|key| matches!(pinned.start_read(key), Ok(Outcome::Pending(_))))
        .count();
    assert!(pending > 0);
    drop(pinned);
    assert_eq!(device.held(), 0);
    assert_eq!(session.complete_pending(true).len(), pending);
}

#[test]
fn async_reads_finish_on_a_device_that_sends_only_batches() {
    let (store, device) = cold_store();
    let session = store.session().unwrap().into_async();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut tasks = Vec::new();
        for key in (0..KEYS).step_by(5) {
            let s = session.clone();
            tasks.push(tokio::spawn(async move { (key, s.read(&key).await) }));
        }
        for task in tasks {
            let (key, result) = tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .expect("an async read waited for a batch nobody sent")
                .unwrap();
            assert_eq!(result.unwrap(), Some(value_of(key)), "key {key}");
        }
    });
    assert!(
        device.batched.load(Ordering::Relaxed) > 0,
        "reads went to the device"
    );
    assert_eq!(device.held(), 0);
}
