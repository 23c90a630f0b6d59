//! Written bytes read back exactly, at many offsets and sizes, across segment boundaries.

use faster_device::{DeviceExt, FileDevice};

use crate::common::{SEGMENT, every_device, pattern};

const K4: u64 = 4096;

/// Non-overlapping `(offset, len)` requests: inside one segment, ending at a boundary,
/// straddling one, spanning several.
fn requests() -> Vec<(u64, usize)> {
    vec![
        (0, 4096),
        (K4, 8192),
        (SEGMENT - K4, 8192),
        (2 * SEGMENT, 4096),
        (2 * SEGMENT + 3 * K4, (SEGMENT - 3 * K4) as usize),
        (4 * SEGMENT - 2 * K4, (2 * SEGMENT + 4 * K4) as usize),
        (7 * SEGMENT + 5 * K4, 12 * 4096),
    ]
}

#[test]
fn round_trips_at_many_offsets_and_sizes_on_every_device() {
    for subject in every_device() {
        let device = &subject.device;
        for (i, &(offset, len)) in requests().iter().enumerate() {
            device
                .write_blocking(offset, &pattern(offset, len, i as u64))
                .unwrap_or_else(|e| panic!("{}: write at {offset}: {e}", subject.name));
        }
        for (i, &(offset, len)) in requests().iter().enumerate() {
            let mut back = vec![0xEE; len];
            device.read_blocking(offset, &mut back).unwrap();
            assert!(
                back == pattern(offset, len, i as u64),
                "{}: bytes at {offset}+{len} differ",
                subject.name
            );
        }
        // Overwrite part of a multi-segment write and read the whole range again.
        let (offset, len) = requests()[5];
        let patch_at = offset + SEGMENT;
        device
            .write_blocking(patch_at, &pattern(patch_at, 8192, 99))
            .unwrap();
        let mut expected = pattern(offset, len, 5);
        let at = (patch_at - offset) as usize;
        expected[at..at + 8192].copy_from_slice(&pattern(patch_at, 8192, 99));
        let mut back = vec![0; len];
        device.read_blocking(offset, &mut back).unwrap();
        assert!(back == expected, "{}: overwrite not seen", subject.name);
    }
}

#[test]
fn unwritten_ranges_read_as_zeros_on_every_device() {
    for subject in every_device() {
        let device = &subject.device;
        device
            .write_blocking(SEGMENT + K4, &pattern(0, 4096, 1))
            .unwrap();
        // Before the write in the same segment, after it, a never-touched segment, and a
        // range that crosses from written into unwritten space.
        for (offset, len) in [
            (SEGMENT, 4096usize),
            (SEGMENT + 2 * K4, 8192),
            (5 * SEGMENT, 8192),
            (SEGMENT + K4, 4 * 4096),
        ] {
            let mut back = vec![0xAB; len];
            device.read_blocking(offset, &mut back).unwrap();
            let written = if offset == SEGMENT + K4 { 4096 } else { 0 };
            assert!(
                back[written..].iter().all(|&b| b == 0),
                "{}: unwritten bytes at {offset} are not zero",
                subject.name
            );
        }
    }
}

#[test]
fn unaligned_memory_goes_through_a_bounce_buffer() {
    for subject in every_device() {
        let device = &subject.device;
        let data = pattern(0, 8192 + 1, 3);
        device.write_blocking(K4, &data[1..]).unwrap();
        let mut back = vec![0u8; 8192 + 1];
        device.read_blocking(K4, &mut back[1..]).unwrap();
        assert!(back[1..] == data[1..], "{}", subject.name);
    }
}

fn reopen_reads_back(open: impl Fn(&std::path::Path) -> std::sync::Arc<dyn faster_device::Device>) {
    let dir = tempfile::tempdir().unwrap();
    let data = pattern(3 * SEGMENT - K4, 3 * 4096, 7);
    {
        let device = open(dir.path());
        device.write_blocking(3 * SEGMENT - K4, &data).unwrap();
        device.flush().unwrap();
        device.truncate_until(2 * SEGMENT).unwrap();
        assert_eq!(device.begin_offset(), 2 * SEGMENT);
    }
    let device = open(dir.path());
    assert_eq!(
        device.begin_offset(),
        2 * SEGMENT,
        "begin found from the lowest file"
    );
    let mut back = vec![0; data.len()];
    device.read_blocking(3 * SEGMENT - K4, &mut back).unwrap();
    assert!(back == data);
}

#[test]
fn reopened_file_device_finds_its_segments_and_data() {
    reopen_reads_back(|dir| {
        std::sync::Arc::new(
            FileDevice::builder(dir)
                .segment_size(SEGMENT)
                .preallocate(true)
                .open()
                .unwrap(),
        )
    });
    reopen_reads_back(|dir| {
        FileDevice::builder(dir)
            .segment_size(SEGMENT)
            .direct_io(true)
            .open_auto()
            .unwrap()
            .0
    });
}

#[test]
fn file_segments_are_named_by_prefix_and_eight_digit_index() {
    let dir = tempfile::tempdir().unwrap();
    let device = FileDevice::builder(dir.path())
        .segment_size(SEGMENT)
        .prefix("hlog")
        .open()
        .unwrap();
    device.write_blocking(SEGMENT * 12, &[1; 4096]).unwrap();
    assert_eq!(device.segment_indices(), vec![12]);
    assert!(dir.path().join("hlog.00000012").is_file());
    assert_eq!(device.segment_path(12), dir.path().join("hlog.00000012"));
}

/// The devices on buffered segment files, both engines: they read on the calling thread at
/// any alignment, and from the page cache alone.
const BUFFERED_FILES: [&str; 2] = ["file", "uring"];

#[test]
fn reads_on_the_calling_thread_match_submitted_reads() {
    let mut answered = Vec::new();
    for subject in every_device() {
        let device = &subject.device;
        for (i, &(offset, len)) in requests().iter().enumerate() {
            device
                .write_blocking(offset, &pattern(offset, len, i as u64))
                .unwrap();
        }
        // Written ranges, a range crossing into unwritten space, a never-written segment.
        let mut reads = requests();
        reads.push((2 * SEGMENT, 6 * 4096));
        reads.push((30 * SEGMENT, 2 * 4096));
        for (offset, len) in reads {
            let mut now = faster_device::AlignedBuf::zeroed(len);
            now.fill(0xEE);
            // Just written, buffered files' bytes are in the page cache: `read_cached` answers
            // too (`O_DIRECT` files and the others say they cannot).
            let mut cached = faster_device::AlignedBuf::zeroed(len);
            let cached = device
                .read_cached(offset, &mut cached)
                .map(|r| r.map(|()| cached));
            let Some(result) = device.read_now(offset, &mut now) else {
                assert!(cached.is_none(), "{}", subject.name);
                continue;
            };
            result.unwrap_or_else(|e| panic!("{}: read_now at {offset}: {e}", subject.name));
            let mut submitted = vec![0; len];
            device.read_blocking(offset, &mut submitted).unwrap();
            assert!(
                now[..] == submitted[..],
                "{}: bytes at {offset}+{len} differ",
                subject.name
            );
            match cached {
                Some(cached) => {
                    assert!(BUFFERED_FILES.contains(&subject.name), "{}", subject.name);
                    assert!(cached.unwrap()[..] == submitted[..], "{}", subject.name);
                }
                None => assert!(!BUFFERED_FILES.contains(&subject.name)),
            }
            answered.push(subject.name);
        }
        // The same refusals as a submitted read: misaligned (unless the device reads at any
        // alignment on the calling thread: buffered files only, and then the bytes are right,
        // across a segment boundary too), and below the begin offset.
        let mut odd = faster_device::AlignedBuf::zeroed(4096);
        if let Some(result) = device.read_now(100, &mut odd) {
            if device.reads_unaligned() {
                assert!(BUFFERED_FILES.contains(&subject.name), "{}", subject.name);
                result.unwrap();
                for (offset, len) in [(100, 37), (SEGMENT - 13, 29), (4096 * 3 + 1, 1)] {
                    let mut exact = vec![0xEE; len];
                    device.read_now(offset, &mut exact).unwrap().unwrap();
                    let from = offset / 4096 * 4096;
                    let to = (offset + len as u64).div_ceil(4096) * 4096;
                    let mut aligned = vec![0; (to - from) as usize];
                    device.read_blocking(from, &mut aligned).unwrap();
                    let skip = (offset - from) as usize;
                    assert!(exact[..] == aligned[skip..skip + len], "at {offset}+{len}");
                    let mut cached = vec![0xEE; len];
                    if let Some(r) = device.read_cached(offset, &mut cached) {
                        r.unwrap();
                        assert!(cached == exact, "cached at {offset}+{len}");
                    }
                }
            } else {
                assert!(
                    matches!(result, Err(faster_device::DeviceError::Misaligned { .. })),
                    "{}: {result:?}",
                    subject.name
                );
            }
        }
        device.truncate_until(SEGMENT).unwrap();
        if let Some(result) = device.read_now(0, &mut odd) {
            assert!(
                matches!(result, Err(faster_device::DeviceError::Truncated { .. })),
                "{}: {result:?}",
                subject.name
            );
        }
    }
    assert!(answered.contains(&"file") && answered.contains(&"file-direct"));
    if cfg!(feature = "io-uring") {
        assert!(answered.contains(&"uring") && answered.contains(&"uring-direct"));
    }
    assert!(
        !answered.contains(&"fault-over-mem"),
        "faults must see every read"
    );
}
