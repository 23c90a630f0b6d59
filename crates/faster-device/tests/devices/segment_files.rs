//! Segment files on disk (rule D8): the header block and its checks on open, identity,
//! the repair of a creation cut short, and `check_present`, on both file engines.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use faster_device::{
    Device, DeviceError, DeviceExt, FaultDevice, FileDevice, FileDeviceBuilder, MemDevice,
    SEGMENT_HEADER_BYTES, read_segment_header,
};

use crate::common::{SEGMENT, pattern};

const HEADER: u64 = SEGMENT_HEADER_BYTES;

#[derive(Debug, Clone, Copy)]
enum Engine {
    Pool,
    #[cfg(feature = "io-uring")]
    Uring,
}

fn engines() -> Vec<Engine> {
    vec![
        Engine::Pool,
        #[cfg(feature = "io-uring")]
        Engine::Uring,
    ]
}

fn builder(dir: &Path) -> FileDeviceBuilder {
    FileDevice::builder(dir).segment_size(SEGMENT).io_threads(1)
}

fn open(builder: &FileDeviceBuilder, engine: Engine) -> Result<Arc<dyn Device>, DeviceError> {
    Ok(match engine {
        Engine::Pool => Arc::new(builder.open()?),
        #[cfg(feature = "io-uring")]
        Engine::Uring => Arc::new(builder.open_uring()?),
    })
}

fn segment(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("segment.{index:08}"))
}

/// Writes `len` pattern bytes at `offset` and drops the device.
fn write_and_close(builder: &FileDeviceBuilder, engine: Engine, offset: u64, len: usize) {
    let device = open(builder, engine).unwrap();
    device
        .write_blocking(offset, &pattern(offset, len, 1))
        .unwrap();
    device.flush().unwrap();
}

fn bad_segment_path(result: Result<Arc<dyn Device>, DeviceError>) -> PathBuf {
    match result {
        Err(DeviceError::BadSegment { path, .. }) => path,
        Err(other) => panic!("expected BadSegment, got {other}"),
        Ok(_) => panic!("expected BadSegment, the device opened"),
    }
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn data_and_identity_survive_a_reopen_with_either_engine() {
    for first in engines() {
        for second in engines() {
            for direct in [false, true] {
                let dir = tempfile::tempdir().unwrap();
                let b = builder(dir.path()).direct_io(direct);
                let (offset, len) = (SEGMENT - 8192, 3 * 4096);
                let identity = {
                    let device = open(&b, first).unwrap();
                    device
                        .write_blocking(offset, &pattern(offset, len, 3))
                        .unwrap();
                    device.flush().unwrap();
                    device.identity().unwrap()
                };
                let device = open(&b, second).unwrap();
                let name = format!("{first:?} then {second:?}, direct {direct}");
                assert_eq!(device.identity(), Some(identity), "{name}");
                let mut back = vec![0; len];
                device.read_blocking(offset, &mut back).unwrap();
                assert!(back == pattern(offset, len, 3), "{name}: bytes differ");

                // On disk: a header, then the data at file offset header + segment offset.
                let raw = std::fs::read(segment(dir.path(), 0)).unwrap();
                assert_eq!(raw.len() as u64, HEADER + SEGMENT, "{name}");
                assert!(
                    raw[HEADER as usize..][(SEGMENT - 8192) as usize..]
                        == pattern(offset, 8192, 3)[..]
                );
                for index in [0, 1] {
                    let header = read_segment_header(&segment(dir.path(), index)).unwrap();
                    assert_eq!(
                        (header.identity, header.index, header.segment_size),
                        (identity, index, SEGMENT),
                        "{name}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_identity_is_the_builders_else_the_files_else_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = open(&builder(dir.path()), Engine::Pool).unwrap().identity();
    let other_dir = tempfile::tempdir().unwrap();
    let other = open(&builder(other_dir.path()), Engine::Pool)
        .unwrap()
        .identity();
    assert!(fresh.is_some() && fresh != other, "fresh identities differ");

    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        let b = builder(dir.path()).identity(7);
        write_and_close(&b, engine, 0, 4096);
        assert_eq!(
            read_segment_header(&segment(dir.path(), 0))
                .unwrap()
                .identity,
            7
        );
        // Without a builder identity, the files' one.
        let device = open(&builder(dir.path()), engine).unwrap();
        assert_eq!(device.identity(), Some(7));
        drop(device);
        match open(&builder(dir.path()).identity(8), engine) {
            Err(DeviceError::ForeignSegment {
                path,
                found,
                expected,
            }) => {
                assert_eq!(path, segment(dir.path(), 0));
                assert_eq!((found, expected), (7, 8));
            }
            other => panic!("{engine:?}: expected ForeignSegment, got {:?}", other.err()),
        }
        let message = open(&builder(dir.path()).identity(8), engine)
            .err()
            .unwrap()
            .to_string();
        assert!(message.contains("segment.00000000"), "{message}");
    }
}

#[test]
fn every_flipped_header_byte_is_refused() {
    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        write_and_close(&builder(dir.path()), engine, 0, 8192);
        let path = segment(dir.path(), 0);
        let original = std::fs::read(&path).unwrap();
        // Both engines share the checks on open: every byte through one, a sample through
        // the other.
        let positions: Vec<usize> = match engine {
            Engine::Pool => (0..HEADER as usize).collect(),
            #[cfg(feature = "io-uring")]
            Engine::Uring => (0..64).chain((64..HEADER as usize).step_by(97)).collect(),
        };
        for at in positions {
            flip(&path, at);
            let refused = bad_segment_path(open(&builder(dir.path()), engine));
            assert_eq!(refused, path, "{engine:?}: flip at {at}");
            std::fs::write(&path, &original).unwrap();
        }
        // A header zeroed whole, in a file that holds data, is damage, not a creation cut short.
        let mut zeroed = original.clone();
        zeroed[..HEADER as usize].fill(0);
        std::fs::write(&path, &zeroed).unwrap();
        assert_eq!(bad_segment_path(open(&builder(dir.path()), engine)), path);
        std::fs::write(&path, &original).unwrap();
        open(&builder(dir.path()), engine).unwrap();
    }
}

#[test]
fn a_renamed_file_or_another_segment_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_and_close(&builder(dir.path()), Engine::Pool, 0, 2 * SEGMENT as usize);
    let moved = segment(dir.path(), 5);
    std::fs::rename(segment(dir.path(), 1), &moved).unwrap();
    for engine in engines() {
        let reason = match open(&builder(dir.path()), engine) {
            Err(DeviceError::BadSegment { path, reason }) => {
                assert_eq!(path, moved);
                reason
            }
            other => panic!("expected BadSegment, got {:?}", other.err()),
        };
        assert!(
            reason.contains("segment 1") && reason.contains("segment 5"),
            "{reason}"
        );
    }
    std::fs::rename(&moved, segment(dir.path(), 1)).unwrap();
    let doubled = FileDevice::builder(dir.path()).segment_size(2 * SEGMENT);
    match doubled.open() {
        Err(DeviceError::BadSegment { path, reason }) => {
            assert_eq!(path, segment(dir.path(), 0));
            assert!(reason.contains("segment size"), "{reason}");
        }
        other => panic!("expected BadSegment, got {other:?}"),
    }
}

#[test]
fn segments_of_two_logs_in_one_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stranger = tempfile::tempdir().unwrap();
    write_and_close(&builder(dir.path()), Engine::Pool, 0, 4096);
    write_and_close(&builder(stranger.path()), Engine::Pool, SEGMENT, 4096);
    std::fs::copy(segment(stranger.path(), 1), segment(dir.path(), 1)).unwrap();
    let refused = bad_segment_path(open(&builder(dir.path()), Engine::Pool));
    assert_eq!(refused, segment(dir.path(), 1));
    // With the first log's identity named, the stranger is foreign.
    let own = read_segment_header(&segment(dir.path(), 0))
        .unwrap()
        .identity;
    match builder(dir.path()).identity(own).open() {
        Err(DeviceError::ForeignSegment { path, expected, .. }) => {
            assert_eq!(path, segment(dir.path(), 1));
            assert_eq!(expected, own);
        }
        other => panic!("expected ForeignSegment, got {other:?}"),
    }
}

#[test]
fn a_file_written_without_a_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // What a build without segment headers left: data from the first byte of the file.
    std::fs::write(segment(dir.path(), 0), pattern(0, 2 * 4096, 9)).unwrap();
    for engine in engines() {
        match open(&builder(dir.path()), engine) {
            Err(DeviceError::BadSegment { path, reason }) => {
                assert_eq!(path, segment(dir.path(), 0));
                assert!(reason.contains("magic"), "{reason}");
            }
            other => panic!("expected BadSegment, got {:?}", other.err()),
        }
    }
}

#[test]
fn a_creation_cut_short_is_initialised_again() {
    for (engine, direct) in engines().into_iter().flat_map(|e| [(e, false), (e, true)]) {
        // Zero length, a torn prefix of a header, a whole header block of zeros.
        for (case, content) in [
            ("empty", Vec::new()),
            ("torn", b"FRSSEGM\n\x01".to_vec()),
            ("zeroed", vec![0; HEADER as usize]),
        ] {
            let case = format!("{case}, direct {direct}");
            let dir = tempfile::tempdir().unwrap();
            let builder = |dir: &Path| builder(dir).direct_io(direct);
            write_and_close(&builder(dir.path()), engine, 0, 4096);
            let identity = read_segment_header(&segment(dir.path(), 0))
                .unwrap()
                .identity;
            std::fs::write(segment(dir.path(), 1), &content).unwrap();

            let device = open(&builder(dir.path()), engine).unwrap();
            assert_eq!(device.identity(), Some(identity), "{engine:?} {case}");
            let header = read_segment_header(&segment(dir.path(), 1)).unwrap();
            assert_eq!(
                (header.identity, header.index, header.segment_size),
                (identity, 1, SEGMENT),
                "{engine:?} {case}"
            );
            let mut back = vec![0xEE; 4096];
            device.read_blocking(SEGMENT, &mut back).unwrap();
            assert!(back.iter().all(|&b| b == 0), "{engine:?} {case}");
            device
                .write_blocking(SEGMENT, &pattern(SEGMENT, 4096, 4))
                .unwrap();
            device.flush().unwrap();
            drop(device);
            let device = open(&builder(dir.path()), engine).unwrap();
            device.read_blocking(SEGMENT, &mut back).unwrap();
            assert!(back == pattern(SEGMENT, 4096, 4), "{engine:?} {case}");
        }
    }
    // A lone file cut short takes the builder's identity, or a fresh one.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(segment(dir.path(), 3), b"").unwrap();
    let device = builder(dir.path()).identity(42).open().unwrap();
    assert_eq!(device.identity(), Some(42));
    assert_eq!(device.begin_offset(), 3 * SEGMENT);
    assert_eq!(
        read_segment_header(&segment(dir.path(), 3))
            .unwrap()
            .identity,
        42
    );
}

#[test]
fn a_whole_header_block_of_garbage_is_not_taken_for_a_creation_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(segment(dir.path(), 0), vec![0x33; HEADER as usize]).unwrap();
    assert_eq!(
        bad_segment_path(open(&builder(dir.path()), Engine::Pool)),
        segment(dir.path(), 0)
    );
    assert!(matches!(
        read_segment_header(&segment(dir.path(), 0)),
        Err(DeviceError::BadSegment { .. })
    ));
}

#[test]
fn preallocation_reserves_the_header_and_the_segment() {
    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        let b = builder(dir.path()).preallocate(true);
        write_and_close(&b, engine, 0, 4096);
        let len = std::fs::metadata(segment(dir.path(), 0)).unwrap().len();
        assert_eq!(len, HEADER + SEGMENT, "{engine:?}");
        let device = open(&b, engine).unwrap();
        let mut back = vec![0; 4096];
        device.read_blocking(0, &mut back).unwrap();
        assert!(back == pattern(0, 4096, 1), "{engine:?}");
    }
}

#[test]
fn check_present_names_a_deleted_or_truncated_segment_file() {
    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        let device = open(&builder(dir.path()), engine).unwrap();
        let end = 3 * SEGMENT;
        device
            .write_blocking(0, &pattern(0, end as usize, 2))
            .unwrap();
        device.flush().unwrap();
        device.check_present(0, end).unwrap();
        device.check_present(end, end).unwrap();

        // Part of segment 2 gone: what is left is held, rounded down to the sector size.
        let kept = 8192;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(segment(dir.path(), 2))
            .unwrap();
        file.set_len(HEADER + kept).unwrap();
        device
            .check_present(2 * SEGMENT, 2 * SEGMENT + kept + 100)
            .unwrap();
        match device.check_present(SEGMENT, end) {
            Err(DeviceError::MissingData { path, offset }) => {
                assert_eq!(path, segment(dir.path(), 2), "{engine:?}");
                assert_eq!(offset, 2 * SEGMENT + kept, "{engine:?}");
            }
            other => panic!("{engine:?}: expected MissingData, got {other:?}"),
        }

        std::fs::remove_file(segment(dir.path(), 1)).unwrap();
        match device.check_present(4096, end) {
            Err(DeviceError::MissingData { path, offset }) => {
                assert_eq!(path, segment(dir.path(), 1), "{engine:?}");
                assert_eq!(offset, SEGMENT, "{engine:?}");
            }
            other => panic!("{engine:?}: expected MissingData, got {other:?}"),
        }
        device.check_present(0, SEGMENT).unwrap();

        // A fault device answers for its inner device.
        let faulty = FaultDevice::new(Arc::clone(&device));
        assert_eq!(faulty.identity(), device.identity());
        assert!(matches!(
            faulty.check_present(0, end),
            Err(DeviceError::MissingData { offset, .. }) if offset == SEGMENT
        ));
    }
}

#[test]
fn memory_devices_have_an_identity_each_and_hold_everything() {
    let a = MemDevice::new();
    let b = MemDevice::new();
    assert!(a.identity().is_some());
    assert_eq!(a.identity(), a.identity());
    assert_ne!(a.identity(), b.identity());
    a.check_present(0, 1 << 40).unwrap();
}

#[test]
fn segment_files_are_listed_without_opening_a_device() {
    let dir = tempfile::tempdir().unwrap();
    let missing = builder(&dir.path().join("absent"));
    assert_eq!(missing.segment_files().unwrap(), vec![]);
    assert!(!dir.path().join("absent").exists());

    write_and_close(
        &builder(dir.path()),
        Engine::Pool,
        SEGMENT,
        SEGMENT as usize + 4096,
    );
    std::fs::write(dir.path().join("segment.1"), b"not a segment name").unwrap();
    std::fs::write(dir.path().join("other.00000000"), b"another prefix").unwrap();
    assert_eq!(
        builder(dir.path()).segment_files().unwrap(),
        vec![(1, segment(dir.path(), 1)), (2, segment(dir.path(), 2))]
    );
}
