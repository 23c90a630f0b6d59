//! Truncation inside a segment (rule D6): a file device frees the data blocks below the
//! truncation point by punching a hole, keeps the file's length and header block, and reopens
//! as before; a fault device drops its unflushed writes below the point, so a flush does not
//! write them back.
//!
//! Tests that need the file system to punch holes say so and return when it cannot.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use faster_device::{
    Device, DeviceExt, FaultDevice, FileDevice, FileDeviceBuilder, MemDevice, SEGMENT_HEADER_BYTES,
    read_segment_header,
};
use rustix::fs::FallocateFlags;
use tempfile::TempDir;

use crate::common::pattern;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
/// Segments large enough that a punch frees a clearly measurable number of blocks.
const SEGMENT: u64 = 4 * MIB;
/// What `MetadataExt::blocks` counts in.
const BLOCK: u64 = 512;

#[derive(Debug, Clone, Copy)]
enum Engine {
    Pool {
        direct: bool,
    },
    #[cfg(feature = "io-uring")]
    Uring {
        direct: bool,
    },
}

fn engines() -> Vec<Engine> {
    vec![
        Engine::Pool { direct: false },
        Engine::Pool { direct: true },
        #[cfg(feature = "io-uring")]
        Engine::Uring { direct: false },
        #[cfg(feature = "io-uring")]
        Engine::Uring { direct: true },
    ]
}

fn builder(dir: &Path, engine: Engine) -> FileDeviceBuilder {
    let direct = match engine {
        Engine::Pool { direct } => direct,
        #[cfg(feature = "io-uring")]
        Engine::Uring { direct } => direct,
    };
    FileDevice::builder(dir)
        .segment_size(SEGMENT)
        .direct_io(direct)
        .io_threads(1)
}

fn open(dir: &Path, engine: Engine) -> Arc<dyn Device> {
    let b = builder(dir, engine);
    match engine {
        Engine::Pool { .. } => Arc::new(b.open().unwrap()),
        #[cfg(feature = "io-uring")]
        Engine::Uring { .. } => Arc::new(b.open_uring().unwrap()),
    }
}

fn segment(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("segment.{index:08}"))
}

/// Why the file system holding `dir` does not free blocks when a hole is punched, or `None`
/// when it does: tried on a scratch file.
fn punch_unsupported(dir: &Path) -> Option<String> {
    let path = dir.join("punch-probe");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    let len = 256 * KIB;
    file.write_all(&vec![0xA5; len as usize]).unwrap();
    file.sync_all().unwrap();
    let before = file.metadata().unwrap().blocks();
    let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
    let punched = rustix::fs::fallocate(&file, flags, 0, len);
    let after = file.metadata().unwrap().blocks();
    drop(file);
    std::fs::remove_file(&path).unwrap();
    match punched {
        Err(e) => Some(format!("fallocate(PUNCH_HOLE) on {}: {e}", dir.display())),
        Ok(()) if after >= before => Some(format!(
            "punching a hole in {} freed no blocks ({before} before, {after} after)",
            dir.display()
        )),
        Ok(()) => None,
    }
}

/// A temporary directory on a file system that punches holes, or `None` (after saying why)
/// when it cannot.
fn punching_dir(test: &str) -> Option<TempDir> {
    let dir = tempfile::tempdir().unwrap();
    match punch_unsupported(dir.path()) {
        None => Some(dir),
        Some(reason) => {
            eprintln!("{test}: skipped: {reason}");
            None
        }
    }
}

fn blocks(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().blocks()
}

fn read(device: &dyn Device, offset: u64, len: u64) -> Vec<u8> {
    let mut back = vec![0; len as usize];
    device.read_blocking(offset, &mut back).unwrap();
    back
}

fn assert_zeros(bytes: &[u8], what: &str) {
    if let Some(at) = bytes.iter().position(|&b| b != 0) {
        panic!("{what}: byte {at} is {:#04x}, not zero", bytes[at]);
    }
}

/// Bytes freed between two block counts of the same file (blocks are 512-byte units).
fn freed(before: u64, after: u64) -> u64 {
    before.saturating_sub(after) * BLOCK
}

#[test]
fn truncation_inside_a_segment_frees_its_blocks_below_the_offset() {
    let test = "truncation_inside_a_segment_frees_its_blocks_below_the_offset";
    for engine in engines() {
        let Some(dir) = punching_dir(test) else {
            return;
        };
        let path = segment(dir.path(), 0);
        let data = pattern(0, (3 * MIB) as usize, 5);
        let device = open(dir.path(), engine);
        device.write_blocking(0, &data).unwrap();
        device.flush().unwrap();
        let identity = device.identity();
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(len, SEGMENT_HEADER_BYTES + 3 * MIB, "{engine:?}");
        let before = blocks(&path);

        // Inside segment 0: nothing is removed; [0, 2 MiB) is freed (2 MiB + 100 rounded down).
        device.truncate_until(2 * MIB + 100).unwrap();
        let after = blocks(&path);
        assert!(
            freed(before, after) >= 1900 * KIB,
            "{engine:?}: {} bytes freed ({before} blocks before, {after} after)",
            freed(before, after)
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len, "{engine:?}");
        assert_eq!(device.begin_offset(), 0, "{engine:?}");
        assert_eq!(
            read_segment_header(&path).unwrap().identity,
            identity.unwrap(),
            "{engine:?}: the header block must survive"
        );
        let kept = read(device.as_ref(), 2 * MIB, MIB);
        assert!(
            kept == data[2 * MIB as usize..],
            "{engine:?}: bytes from the rounded-down offset on changed"
        );
        assert_zeros(
            &read(device.as_ref(), 0, 2 * MIB),
            &format!("{engine:?}: the freed range"),
        );
        device.check_present(0, 3 * MIB).unwrap();

        // Further in: only the new part is freed; backwards: nothing happens.
        device.truncate_until(2 * MIB + 512 * KIB).unwrap();
        let further = blocks(&path);
        assert!(
            freed(after, further) >= 500 * KIB,
            "{engine:?}: {} more bytes freed",
            freed(after, further)
        );
        device.truncate_until(MIB).unwrap();
        assert_zeros(
            &read(device.as_ref(), 2 * MIB, 512 * KIB),
            &format!("{engine:?}: the second freed range"),
        );
        let tail = read(device.as_ref(), 2 * MIB + 512 * KIB, 512 * KIB);
        assert!(
            tail == data[(2 * MIB + 512 * KIB) as usize..],
            "{engine:?}: bytes above the second offset changed"
        );
        device.flush().unwrap();
        drop(device);

        // Reopened: same identity and begin, same length, the kept bytes intact; punching
        // again from the data start is harmless.
        let device = open(dir.path(), engine);
        assert_eq!(device.identity(), identity, "{engine:?}");
        assert_eq!(device.begin_offset(), 0, "{engine:?}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len, "{engine:?}");
        let tail = read(device.as_ref(), 2 * MIB + 512 * KIB, 512 * KIB);
        assert!(
            tail == data[(2 * MIB + 512 * KIB) as usize..],
            "{engine:?}: bytes above the offset changed across a reopen"
        );
        device.truncate_until(2 * MIB + 512 * KIB).unwrap();
        assert!(blocks(&path) <= further, "{engine:?}");
        let tail = read(device.as_ref(), 2 * MIB + 512 * KIB, 512 * KIB);
        assert!(tail == data[(2 * MIB + 512 * KIB) as usize..], "{engine:?}");
        device.check_present(2 * MIB, 3 * MIB).unwrap();
    }
}

#[test]
fn truncation_past_a_segment_removes_it_and_frees_the_next_below_the_offset() {
    let test = "truncation_past_a_segment_removes_it_and_frees_the_next_below_the_offset";
    for engine in engines() {
        let Some(dir) = punching_dir(test) else {
            return;
        };
        let data = pattern(0, (SEGMENT + 2 * MIB) as usize, 6);
        let device = open(dir.path(), engine);
        device.write_blocking(0, &data).unwrap();
        device.flush().unwrap();
        let second = segment(dir.path(), 1);
        let len = std::fs::metadata(&second).unwrap().len();
        let before = blocks(&second);

        let offset = SEGMENT + MIB + 8 * KIB + 4095;
        let cut = SEGMENT + MIB + 8 * KIB;
        device.truncate_until(offset).unwrap();
        assert!(!segment(dir.path(), 0).exists(), "{engine:?}");
        assert_eq!(device.begin_offset(), SEGMENT, "{engine:?}");
        let after = blocks(&second);
        assert!(
            freed(before, after) >= MIB,
            "{engine:?}: {} bytes freed",
            freed(before, after)
        );
        assert_eq!(std::fs::metadata(&second).unwrap().len(), len, "{engine:?}");
        assert_zeros(
            &read(device.as_ref(), SEGMENT, cut - SEGMENT),
            &format!("{engine:?}: the freed range"),
        );
        let kept = read(device.as_ref(), cut, SEGMENT + 2 * MIB - cut);
        assert!(
            kept == data[cut as usize..],
            "{engine:?}: bytes from the rounded-down offset on changed"
        );
        device.flush().unwrap();
        drop(device);

        let device = open(dir.path(), engine);
        assert_eq!(device.begin_offset(), SEGMENT, "{engine:?}");
        let kept = read(device.as_ref(), cut, SEGMENT + 2 * MIB - cut);
        assert!(kept == data[cut as usize..], "{engine:?}: after a reopen");
    }
}

/// Writes seed 1 over `[0, 3 MiB)` and flushes.
fn write_flushed(fault: &FaultDevice) {
    fault
        .write_blocking(0, &pattern(0, (3 * MIB) as usize, 1))
        .unwrap();
    fault.flush().unwrap();
}

/// Writes seed 2 over `[1 MiB, 3 MiB)` without flushing, truncates to `2 MiB + 100` and
/// flushes.
fn truncate_over_unflushed(fault: &FaultDevice) {
    fault
        .write_blocking(MIB, &pattern(MIB, (2 * MIB) as usize, 2))
        .unwrap();
    fault.truncate_until(2 * MIB + 100).unwrap();
    fault.flush().unwrap();
}

#[test]
fn a_fault_device_drops_unflushed_writes_below_the_truncation_point() {
    // Over memory, which frees nothing: the inner device keeps the old bytes below the point.
    let mem: Arc<dyn Device> =
        Arc::new(MemDevice::builder().segment_size(SEGMENT).build().unwrap());
    let fault = FaultDevice::new(Arc::clone(&mem));
    write_flushed(&fault);
    truncate_over_unflushed(&fault);
    assert!(
        read(mem.as_ref(), MIB, MIB) == pattern(MIB, MIB as usize, 1),
        "an unflushed write below the truncation point reached the inner device"
    );
    assert!(
        read(mem.as_ref(), 2 * MIB, MIB) == pattern(2 * MIB, MIB as usize, 2),
        "the unflushed write's part above the truncation point was lost"
    );

    // Over files: the freed blocks stay free after the flush.
    let test = "a_fault_device_drops_unflushed_writes_below_the_truncation_point";
    for engine in engines() {
        let Some(dir) = punching_dir(test) else {
            return;
        };
        let path = segment(dir.path(), 0);
        let inner = open(dir.path(), engine);
        let fault = FaultDevice::new(Arc::clone(&inner));
        write_flushed(&fault);
        let before = blocks(&path);
        truncate_over_unflushed(&fault);
        assert!(
            freed(before, blocks(&path)) >= 1900 * KIB,
            "{engine:?}: the flush wrote blocks below the truncation point again"
        );
        assert_zeros(
            &read(inner.as_ref(), 0, 2 * MIB),
            &format!("{engine:?}: the inner device below the truncation point"),
        );
        assert!(
            read(inner.as_ref(), 2 * MIB, MIB) == pattern(2 * MIB, MIB as usize, 2),
            "{engine:?}: the unflushed write's part above the truncation point was lost"
        );
    }
}
