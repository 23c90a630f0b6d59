//! A store whose segment files are opened with `O_DIRECT`: larger than its memory budget, read
//! back from the disk, checkpointed and recovered — and the files really are open that way.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use faster_kv::{FasterKv, FasterKvBuilder};

const KEYS: u64 = 20_000;

fn builder(dir: &Path) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir)
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .segment_size(1 << 20)
        .direct_io(true)
}

/// Whether the file system of `dir` accepts `O_DIRECT` (tmpfs on older kernels does not).
fn accepts_direct_io(dir: &Path) -> bool {
    let probe = dir.join("probe");
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&probe);
    let _ = std::fs::remove_file(&probe);
    opened.is_ok()
}

/// The open flags of every file descriptor of this process on one of the log's segment files
/// in `dir`.
fn segment_file_flags(dir: &Path) -> Vec<i32> {
    let mut flags = Vec::new();
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(fd.path()) else {
            continue;
        };
        let is_segment = target.parent() == Some(dir)
            && target
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("log."));
        if !is_segment {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/self/fdinfo/{}",
            fd.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        if let Some(octal) = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(str::trim)
        {
            flags.push(i32::from_str_radix(octal, 8).unwrap());
        }
    }
    flags
}

#[test]
fn a_store_on_o_direct_files_reads_from_disk_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().canonicalize().unwrap();
    if !accepts_direct_io(&dir) {
        eprintln!("skipped: {} refuses O_DIRECT", dir.display());
        return;
    }
    let store: FasterKv<u64, u64> = builder(&dir).open().unwrap();
    let mut s = store.session().unwrap();
    for k in 0..KEYS {
        s.upsert(&k, &(k * 3)).unwrap();
    }
    // 480 KB of records in 32 KiB of pages: most of these RMWs and reads go to the disk.
    for k in (0..KEYS).step_by(5) {
        s.add(&k, 1).unwrap();
    }
    let flags = segment_file_flags(&dir);
    assert!(!flags.is_empty(), "no segment file open");
    assert!(
        flags.iter().all(|f| f & libc::O_DIRECT != 0),
        "segment files opened without O_DIRECT: {flags:?}"
    );
    let expected = |k: u64| k * 3 + u64::from(k.is_multiple_of(5));
    for k in 0..KEYS {
        assert_eq!(s.read(&k).unwrap(), Some(expected(k)), "key {k}");
    }
    assert!(
        store.stats().device_reads > 0,
        "nothing was read from the disk"
    );
    store.checkpoint().unwrap().wait().unwrap();
    drop(s);
    drop(store);
    let (store, _) = builder(&dir).recover::<u64, u64>(None).unwrap();
    let mut s = store.session().unwrap();
    for k in 0..KEYS {
        assert_eq!(
            s.read(&k).unwrap(),
            Some(expected(k)),
            "key {k} after recovery"
        );
    }
}
