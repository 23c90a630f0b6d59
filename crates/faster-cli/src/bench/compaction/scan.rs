//! After variant (b)'s run: how fast [`FasterKv::scan`] walks the live records, beside a plain
//! sequential read of the same segment files (the device's sequential read rate), measured
//! one after the other on the same files. The files' cached pages are written back and
//! dropped before each, so that both read the device rather than the page cache.

use std::fs::File;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use faster_kv::FasterKv;
use rustix::fs::{Advice, SeekFrom};
use serde::Serialize;

/// Bytes per read of the sequential read.
const READ_BYTES: usize = 1 << 20;

/// The scan and the sequential read.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ScanResult {
    /// Live records the scan returned.
    pub(super) records: u64,
    /// `records × record bytes`.
    pub(super) live_bytes: u64,
    /// Bytes of log the scan walked (begin to its end address).
    pub(super) log_bytes: u64,
    /// Seconds `scan()` took to start (it waits for a running compaction and writes the
    /// log's mutable region to the device).
    pub(super) open_seconds: f64,
    /// Seconds of iterating every record.
    pub(super) seconds: f64,
    /// Live data, and log, per second of iteration (decimal MB).
    pub(super) live_mb_per_s: f64,
    pub(super) log_mb_per_s: f64,
    /// Bytes the sequential read read: the segment files' data, holes skipped.
    pub(super) raw_bytes: u64,
    pub(super) raw_seconds: f64,
    pub(super) raw_mb_per_s: f64,
    /// Whether the files' cached pages could be dropped before both reads.
    pub(super) cache_dropped: bool,
}

/// Scans `store` (in `dir`, its upserts stopped), then reads its segment files.
pub(super) fn measure(
    store: &FasterKv<u64, [u8]>,
    dir: &Path,
    record_bytes: u64,
) -> Result<ScanResult, String> {
    let mut dropped = drop_cache(&segment_files(dir)?);
    let opened = Instant::now();
    let mut scan = store.scan().map_err(|e| format!("scan: {e}"))?;
    let open_seconds = opened.elapsed().as_secs_f64();
    // From the begin address once the scan is open (a compaction it waited for moved it).
    let begin = scan.next_address().raw();
    let log_bytes = scan.end_address().raw().saturating_sub(begin);
    let started = Instant::now();
    let mut records = 0u64;
    for item in scan.by_ref() {
        let (key, value) = item.map_err(|e| format!("scan: {e}"))?;
        black_box((key, value));
        records += 1;
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-9);

    // The scan, still open, keeps compaction from starting (and from removing segments)
    // until the sequential read is done.
    let segments = segment_files(dir)?;
    dropped &= drop_cache(&segments);
    let started = Instant::now();
    let mut raw_bytes = 0;
    for path in &segments {
        raw_bytes += read_data(path)?;
    }
    let raw_seconds = started.elapsed().as_secs_f64().max(1e-9);
    drop(scan);
    let live_bytes = records * record_bytes;
    eprintln!(
        "(b) scan: {records} live records in {seconds:.2} s ({:.0} MB/s of live data) after \
         {open_seconds:.2} s to start; sequential read of the segment files: {} MB in \
         {raw_seconds:.2} s ({:.0} MB/s)",
        live_bytes as f64 / seconds / 1e6,
        super::mb(raw_bytes),
        raw_bytes as f64 / raw_seconds / 1e6,
    );
    Ok(ScanResult {
        records,
        live_bytes,
        log_bytes,
        open_seconds,
        seconds,
        live_mb_per_s: live_bytes as f64 / seconds / 1e6,
        log_mb_per_s: log_bytes as f64 / seconds / 1e6,
        raw_bytes,
        raw_seconds,
        raw_mb_per_s: raw_bytes as f64 / raw_seconds / 1e6,
        cache_dropped: dropped,
    })
}

/// The store's log segment files.
fn segment_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let inventory = faster_kv::checkpoint::inspect(dir).map_err(|e| e.to_string())?;
    Ok(inventory.segments.into_iter().map(|s| s.path).collect())
}

/// Writes back and drops the cached pages of `files`; whether that worked for all (a file
/// removed meanwhile has none).
fn drop_cache(files: &[PathBuf]) -> bool {
    files.iter().all(|path| {
        let opened = File::open(path);
        if let Err(e) = &opened
            && e.kind() == std::io::ErrorKind::NotFound
        {
            return true;
        }
        opened.is_ok_and(|file| {
            file.sync_data().is_ok()
                && rustix::fs::fadvise(&file, 0, None, Advice::DontNeed).is_ok()
        })
    })
}

/// Reads the data of `path` from start to end, skipping holes, with plain reads of
/// [`READ_BYTES`]; the bytes read.
fn read_data(path: &Path) -> Result<u64, String> {
    let error = |e: std::io::Error| format!("reading {}: {e}", path.display());
    let file = File::open(path).map_err(error)?;
    let len = file.metadata().map_err(error)?.len();
    let mut buf = vec![0u8; READ_BYTES];
    let mut total = 0u64;
    let mut at = 0u64;
    while at < len {
        // The next data from `at`, and the hole after it; without SEEK_DATA, read it all.
        let Ok(start) = rustix::fs::seek(&file, SeekFrom::Data(at)) else {
            if at == 0 {
                return read_range(&file, 0, len, &mut buf).map_err(error);
            }
            break;
        };
        let end = rustix::fs::seek(&file, SeekFrom::Hole(start)).map_or(len, |h| h.min(len));
        total += read_range(&file, start, end, &mut buf).map_err(error)?;
        at = end.max(start + 1);
    }
    Ok(total)
}

/// Reads `[from, to)` of `file`; the bytes read.
fn read_range(file: &File, from: u64, to: u64, buf: &mut [u8]) -> std::io::Result<u64> {
    let mut at = from;
    while at < to {
        let want = buf.len().min((to - at) as usize);
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            break;
        }
        black_box(&buf[..n]);
        at += n as u64;
    }
    Ok(at - from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequential_read_skips_holes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("f");
        let file = File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        file.write_all_at(&[1u8; 4096], 0)
            .unwrap_or_else(|e| panic!("{e}"));
        file.write_all_at(&[2u8; 8192], 4 << 20)
            .unwrap_or_else(|e| panic!("{e}"));
        file.set_len(8 << 20).unwrap_or_else(|e| panic!("{e}"));
        drop(file);
        let read = read_data(&path).unwrap_or_else(|e| panic!("{e}"));
        // The file systems that report holes read 12 KiB (rounded to their blocks); others
        // read all 8 MiB.
        assert!((12288..=8 << 20).contains(&read), "{read}");
    }
}
