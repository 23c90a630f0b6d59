//! Helpers shared by the tests of opening, reopening and inspecting stores.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use faster_kv::{CheckpointOptions, FasterKv, FasterKvBuilder, LogCheckpointKind};

/// A store small enough that most of its log is in segment files: 4 KiB pages, 8 of them in
/// memory, 64 KiB segments, 1024 index buckets.
pub(crate) fn small() -> FasterKvBuilder {
    FasterKv::builder()
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .segment_size(1 << 16)
        .index_buckets(1 << 10)
}

/// [`small`] in the directory `dir`.
pub(crate) fn small_in(dir: &Path) -> FasterKvBuilder {
    small().dir(dir)
}

/// A fold-over checkpoint with an index snapshot: the log's bytes end up in segment files.
pub(crate) const FOLD_OVER: CheckpointOptions = CheckpointOptions {
    log: LogCheckpointKind::FoldOver,
    index: true,
};

/// A snapshot checkpoint with an index snapshot.
pub(crate) const SNAPSHOT: CheckpointOptions = CheckpointOptions {
    log: LogCheckpointKind::Snapshot,
    index: true,
};

/// Every file under `dir` with its bytes (a directory with no bytes), in path order; the
/// lock file is left out when `with_lock` is false (its content names the last holder).
pub(crate) fn all_files(dir: &Path, with_lock: bool) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.push((path.clone(), Vec::new()));
                stack.push(path);
            } else if with_lock || path.file_name().is_some_and(|n| n != "LOCK") {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Bytes the files under `dir` occupy on disk (allocated blocks, so holes do not count).
/// A file or directory removed while it is being counted (the store deletes segments and
/// old checkpoints as it runs) counts as nothing.
pub(crate) fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    let mut total = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if gone(&e) => return 0,
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    for entry in entries {
        let entry = entry.unwrap();
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if gone(&e) => continue,
            Err(e) => panic!("{}: {e}", entry.path().display()),
        };
        total += if meta.is_dir() {
            disk_bytes(&entry.path())
        } else {
            meta.blocks() * 512
        };
    }
    total
}

/// A future's output and how many times it was polled.
pub(crate) struct Counted<F> {
    pub(crate) inner: F,
    pub(crate) polls: u32,
}

impl<F: Future + Unpin> Future for Counted<F> {
    type Output = (F::Output, u32);
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls += 1;
        let polls = self.polls;
        Pin::new(&mut self.inner).poll(cx).map(|out| (out, polls))
    }
}
