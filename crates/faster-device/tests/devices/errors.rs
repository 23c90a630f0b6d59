//! Bad requests come back as errors, never panics.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use faster_device::{
    AlignedBuf, Device, DeviceError, DeviceExt, FileDevice, MemDevice, MisalignedPart,
};

use crate::common::{SEGMENT, every_device};

fn counting_completion(counter: &Arc<AtomicUsize>) -> faster_device::Completion {
    let counter = Arc::clone(counter);
    Box::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    })
}

#[test]
fn misaligned_offset_length_and_buffer_are_refused_without_calling_done() {
    for subject in every_device() {
        let device = &subject.device;
        let sector = device.geometry().sector_size;
        let mut buf = AlignedBuf::zeroed(2 * sector);
        let calls = Arc::new(AtomicUsize::new(0));
        let cases = [
            (1, sector, 0, MisalignedPart::Offset),
            (0, sector - 1, 0, MisalignedPart::Length),
            (0, sector, 1, MisalignedPart::Buffer),
        ];
        for (offset, len, shift, part) in cases {
            // SAFETY: rules D1, D9 — `buf` outlives the call; a refused submission never touches
            // it.
            let r = unsafe {
                device.write_raw(
                    offset as u64,
                    buf.as_ptr().add(shift),
                    len,
                    counting_completion(&calls),
                )
            };
            assert!(
                matches!(r, Err(DeviceError::Misaligned { part: p, .. }) if p == part),
                "{}: write {part:?}: {r:?}",
                subject.name
            );
            // SAFETY: rules D1, D9 — as above.
            let r = unsafe {
                device.read_raw(
                    offset as u64,
                    buf.as_mut_ptr().add(shift),
                    len,
                    counting_completion(&calls),
                )
            };
            assert!(
                matches!(r, Err(DeviceError::Misaligned { part: p, .. }) if p == part),
                "{}: read {part:?}: {r:?}",
                subject.name
            );
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "{}: done was called",
            subject.name
        );
        assert!(matches!(
            device.write_blocking(3, &[0; 4096]),
            Err(DeviceError::Misaligned { .. })
        ));
    }
}

#[test]
fn requests_past_capacity_are_out_of_space() {
    let mem = MemDevice::builder().capacity(Some(8192)).build().unwrap();
    assert!(mem.write_blocking(4096, &[1; 4096]).is_ok());
    assert!(matches!(
        mem.write_blocking(4096, &[1; 8192]),
        Err(DeviceError::OutOfSpace {
            capacity: Some(8192),
            ..
        })
    ));
    let dir = tempfile::tempdir().unwrap();
    let file = FileDevice::builder(dir.path())
        .segment_size(SEGMENT)
        .capacity(Some(SEGMENT))
        .open()
        .unwrap();
    let mut buf = vec![0; 8192];
    assert!(matches!(
        file.read_blocking(SEGMENT - 4096, &mut buf),
        Err(DeviceError::OutOfSpace { .. })
    ));
    assert!(file.segment_indices().is_empty());
}

#[test]
fn submissions_after_close_are_refused_but_in_flight_ones_complete() {
    for subject in every_device() {
        let device = &subject.device;
        let queue = faster_device::CompletionQueue::new();
        for i in 0..8u64 {
            device
                .write_buf(i * 4096, AlignedBuf::copy_from(&[i as u8 + 1; 4096]), {
                    let done = queue.completion(i);
                    move |r, _| done(r)
                })
                .unwrap();
        }
        device.close();
        for _ in 0..8 {
            let (_, r) = queue
                .pop_blocking(std::time::Duration::from_secs(30))
                .expect("in-flight write lost at close");
            r.unwrap();
        }
        assert!(matches!(
            device.write_blocking(0, &[0; 4096]),
            Err(DeviceError::Closed)
        ));
        assert!(matches!(
            device.read_blocking(0, &mut [0; 4096]),
            Err(DeviceError::Closed)
        ));
        assert!(matches!(
            device.truncate_until(SEGMENT),
            Err(DeviceError::Closed)
        ));
        let refused = device
            .read_buf(0, AlignedBuf::zeroed(4096), |_, _| {
                panic!("done must not run")
            })
            .unwrap_err();
        assert!(matches!(refused.error, DeviceError::Closed));
        assert_eq!(refused.buf.len(), 4096, "the buffer comes back");
        device.flush().unwrap();
    }
}

#[test]
fn reads_and_writes_below_the_truncation_point_are_truncated() {
    for subject in every_device() {
        let device = &subject.device;
        for s in 0..4 {
            device
                .write_blocking(s * SEGMENT, &[s as u8 + 1; 8192])
                .unwrap();
        }
        // Not a segment boundary: only segments wholly below go (a file device also frees
        // the first 4096 bytes of segment 2, which nobody reads any more).
        device.truncate_until(2 * SEGMENT + 4096).unwrap();
        assert_eq!(device.begin_offset(), 2 * SEGMENT, "{}", subject.name);
        let mut buf = vec![0; 4096];
        assert!(matches!(
            device.read_blocking(SEGMENT, &mut buf),
            Err(DeviceError::Truncated { begin, .. }) if begin == 2 * SEGMENT
        ));
        assert!(matches!(
            device.write_blocking(0, &buf),
            Err(DeviceError::Truncated { .. })
        ));
        device.read_blocking(2 * SEGMENT + 4096, &mut buf).unwrap();
        assert_eq!(
            buf,
            vec![3; 4096],
            "{}: a kept segment lost data",
            subject.name
        );
        // Truncation never moves backwards.
        device.truncate_until(0).unwrap();
        assert_eq!(device.begin_offset(), 2 * SEGMENT);
    }
}

#[test]
fn truncate_until_removes_segment_files_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let device = FileDevice::builder(dir.path())
        .segment_size(SEGMENT)
        .open()
        .unwrap();
    for s in 0..5 {
        device.write_blocking(s * SEGMENT, &[7; 4096]).unwrap();
    }
    assert_eq!(device.segment_indices(), vec![0, 1, 2, 3, 4]);
    device.truncate_until(3 * SEGMENT).unwrap();
    device.flush().unwrap();
    assert_eq!(device.segment_indices(), vec![3, 4]);
    for s in 0..5 {
        assert_eq!(device.segment_path(s).exists(), s >= 3, "segment {s}");
    }
    let mem = MemDevice::builder().segment_size(SEGMENT).build().unwrap();
    for s in 0..5 {
        mem.write_blocking(s * SEGMENT, &[7; 4096]).unwrap();
    }
    mem.truncate_until(3 * SEGMENT).unwrap();
    assert_eq!(
        mem.allocated_segments(),
        2,
        "memory of truncated segments is freed"
    );
}

#[test]
fn bad_settings_are_config_errors() {
    assert!(matches!(
        MemDevice::builder().segment_size(1000).build(),
        Err(DeviceError::InvalidConfig { .. })
    ));
    assert!(matches!(
        MemDevice::builder().sector_size(3).build(),
        Err(DeviceError::InvalidConfig { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        FileDevice::builder(dir.path()).segment_size(512).open(),
        Err(DeviceError::InvalidConfig { .. })
    ));
    assert!(matches!(
        FileDevice::builder(dir.path()).prefix("a/b").open(),
        Err(DeviceError::InvalidConfig { .. })
    ));
}

#[test]
fn opening_a_path_that_is_a_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain-file");
    std::fs::write(&path, b"x").unwrap();
    assert!(matches!(
        FileDevice::open(&path),
        Err(DeviceError::Io {
            op: faster_device::IoOp::Open,
            ..
        })
    ));
}

#[test]
fn device_is_usable_as_a_trait_object_in_an_arc() {
    let device: Arc<dyn Device> = Arc::new(MemDevice::new());
    device.write_blocking(0, &[1; 512]).unwrap();
    let mut back = [0; 512];
    device.read_blocking(0, &mut back).unwrap();
    assert_eq!(back, [1; 512]);
}
