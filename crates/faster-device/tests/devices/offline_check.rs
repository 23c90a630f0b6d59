//! Checking segment files without opening a device (`FileDeviceBuilder::check_segment_file`,
//! `FileDeviceBuilder::check_present`): the same verdicts as an open, and nothing written.

use std::path::{Path, PathBuf};

use faster_device::{
    Device, DeviceError, DeviceExt, FileDevice, FileDeviceBuilder, SEGMENT_HEADER_BYTES,
};

use crate::common::{SEGMENT, pattern};

const HEADER: u64 = SEGMENT_HEADER_BYTES;

fn builder(dir: &Path) -> FileDeviceBuilder {
    FileDevice::builder(dir)
        .segment_size(SEGMENT)
        .io_threads(1)
        .identity(7)
}

fn segment(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("segment.{index:08}"))
}

/// Every file of `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn offline_checks_find_missing_short_foreign_and_damaged_files_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let end = 3 * SEGMENT;
    {
        let device = builder(dir.path()).open().unwrap();
        device
            .write_blocking(0, &pattern(0, end as usize, 3))
            .unwrap();
        device.flush().unwrap();
    }
    let b = builder(dir.path());
    b.check_present(0, end).unwrap();
    let header = b.check_segment_file(1, &segment(dir.path(), 1)).unwrap();
    assert_eq!(header.map(|h| (h.identity, h.index)), Some((7, 1)));

    // Another log's identity.
    let other = FileDevice::builder(dir.path())
        .segment_size(SEGMENT)
        .identity(8);
    assert!(matches!(
        other.check_present(0, end),
        Err(DeviceError::ForeignSegment {
            found: 7,
            expected: 8,
            ..
        })
    ));

    // A file cut short: what it holds is rounded down to the sector size.
    let kept = 8192;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(segment(dir.path(), 2))
        .unwrap();
    file.set_len(HEADER + kept + 10).unwrap();
    b.check_present(0, 2 * SEGMENT + kept + 100).unwrap();
    match b.check_present(SEGMENT, end) {
        Err(DeviceError::MissingData { path, offset }) => {
            assert_eq!(path, segment(dir.path(), 2));
            assert_eq!(offset, 2 * SEGMENT + kept + 10);
        }
        other => panic!("expected MissingData, got {other:?}"),
    }

    // A damaged header: named as an open would name it.
    let path = segment(dir.path(), 1);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[30] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let before = snapshot(dir.path());
    match b.check_present(0, SEGMENT + 1) {
        Err(DeviceError::BadSegment { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected BadSegment, got {other:?}"),
    }
    assert!(matches!(
        b.check_segment_file(1, &path),
        Err(DeviceError::BadSegment { .. })
    ));
    // Segment 0 alone is still whole.
    b.check_present(0, SEGMENT).unwrap();
    assert_eq!(snapshot(dir.path()), before);

    // A creation cut short is reported, not repaired.
    let cut = segment(dir.path(), 5);
    std::fs::write(&cut, [0u8; 100]).unwrap();
    let before_cut = snapshot(dir.path());
    assert_eq!(b.check_segment_file(5, &cut).unwrap(), None);
    assert!(matches!(
        b.check_present(5 * SEGMENT, 5 * SEGMENT + 4096),
        Err(DeviceError::MissingData { .. })
    ));
    assert_eq!(snapshot(dir.path()), before_cut);

    // A deleted file.
    std::fs::remove_file(segment(dir.path(), 0)).unwrap();
    match b.check_present(100, SEGMENT) {
        Err(DeviceError::MissingData { path, offset }) => {
            assert_eq!(path, segment(dir.path(), 0));
            assert_eq!(offset, 100);
        }
        other => panic!("expected MissingData, got {other:?}"),
    }
}
