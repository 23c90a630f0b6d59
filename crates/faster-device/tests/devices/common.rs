//! Devices under test and data patterns shared by the test modules.

use std::sync::Arc;

use faster_device::{Device, FaultDevice, FileDevice, MemDevice};
use tempfile::TempDir;

/// Small segments, so modest requests cross segment boundaries.
pub(crate) const SEGMENT: u64 = 64 << 10;

/// One device under test; `_dir` keeps its directory alive.
pub(crate) struct Subject {
    pub(crate) name: &'static str,
    pub(crate) device: Arc<dyn Device>,
    pub(crate) _dir: Option<TempDir>,
}

pub(crate) fn mem() -> Arc<dyn Device> {
    Arc::new(MemDevice::builder().segment_size(SEGMENT).build().unwrap())
}

pub(crate) fn file(direct_io: bool) -> (Arc<dyn Device>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let device = FileDevice::builder(dir.path())
        .segment_size(SEGMENT)
        .direct_io(direct_io)
        .open()
        .unwrap();
    (Arc::new(device), dir)
}

#[cfg(feature = "io-uring")]
pub(crate) fn uring(direct_io: bool) -> (Arc<dyn Device>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let device = FileDevice::builder(dir.path())
        .segment_size(SEGMENT)
        .direct_io(direct_io)
        .open_uring()
        .unwrap();
    (Arc::new(device), dir)
}

/// Every device: memory, files (buffered and `O_DIRECT`), `io_uring` when the feature is on,
/// and a fault device (with nothing armed) over memory.
pub(crate) fn every_device() -> Vec<Subject> {
    let mut subjects = vec![Subject {
        name: "mem",
        device: mem(),
        _dir: None,
    }];
    let (device, dir) = file(false);
    subjects.push(Subject {
        name: "file",
        device,
        _dir: Some(dir),
    });
    let (device, dir) = file(true);
    subjects.push(Subject {
        name: "file-direct",
        device,
        _dir: Some(dir),
    });
    #[cfg(feature = "io-uring")]
    {
        let (device, dir) = uring(false);
        subjects.push(Subject {
            name: "uring",
            device,
            _dir: Some(dir),
        });
        let (device, dir) = uring(true);
        subjects.push(Subject {
            name: "uring-direct",
            device,
            _dir: Some(dir),
        });
    }
    subjects.push(Subject {
        name: "fault-over-mem",
        device: Arc::new(FaultDevice::new(mem())),
        _dir: None,
    });
    subjects
}

/// Bytes that differ by position and seed, so a misplaced or stale block is caught.
pub(crate) fn pattern(offset: u64, len: usize, seed: u64) -> Vec<u8> {
    (0..len as u64)
        .map(|i| {
            let x = (offset + i).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed.wrapping_mul(31);
            (x >> 56) as u8 ^ (x >> 17) as u8 ^ 0x5A
        })
        .collect()
}
