//! Reads on the calling thread, shared by both file engines: `read_now` and `read_cached`
//! are `pread`s of the segment files whichever engine moves their other requests.

use super::header::data_file_offset;
use super::segments::SegmentFiles;
use super::sys::{pread_cached, pread_full};
use crate::error::{DeviceError, IoOp};
use crate::split::chunks;

/// The pieces of [`Device::read_raw`](crate::Device::read_raw), each `pread` on this thread;
/// with `cached_only`, only from the page cache: false when a piece was not all there.
fn read_here(
    files: &SegmentFiles,
    offset: u64,
    buf: &mut [u8],
    cached_only: bool,
) -> Result<bool, DeviceError> {
    if files.direct_io() {
        files.admit_read(offset, buf.len(), buf.as_ptr() as usize)?;
    } else {
        files.admit_unaligned_read(offset, buf.len())?;
    }
    let geometry = files.geometry();
    for chunk in chunks(&geometry, offset, buf.len()) {
        let piece = &mut buf[chunk.buf_offset..chunk.buf_offset + chunk.len];
        let Some(file) = files.for_read(chunk.segment) else {
            // A segment never written reads as zeros (rule D3).
            piece.fill(0);
            continue;
        };
        if cached_only {
            // SAFETY: rule D9 — `piece` is a live, exclusive borrow of `chunk.len` bytes
            // for the whole call; `file` keeps its descriptor open until it drops.
            let cached = unsafe {
                pread_cached(
                    file.fd(),
                    piece.as_mut_ptr(),
                    chunk.len,
                    data_file_offset(chunk.segment_offset),
                )
            };
            if !cached {
                return Ok(false);
            }
            continue;
        }
        // SAFETY: rule D9 — `piece` is a live, exclusive borrow of `chunk.len` bytes for
        // the whole call; `file` keeps its descriptor open until it drops.
        let read = unsafe {
            pread_full(
                file.fd(),
                piece.as_mut_ptr(),
                chunk.len,
                data_file_offset(chunk.segment_offset),
            )
        };
        read.map_err(|e| DeviceError::os(IoOp::Read, chunk.offset, chunk.len as u64, e))?;
    }
    Ok(true)
}

/// [`Device::read_now`](crate::Device::read_now) of a file device: always answers.
pub(crate) fn read_now(
    files: &SegmentFiles,
    offset: u64,
    buf: &mut [u8],
) -> Option<Result<(), DeviceError>> {
    Some(read_here(files, offset, buf, false).map(drop))
}

/// [`Device::read_cached`](crate::Device::read_cached) of a file device: `None` with
/// `O_DIRECT` (no page cache) or when a piece was not all in the page cache.
pub(crate) fn read_cached(
    files: &SegmentFiles,
    offset: u64,
    buf: &mut [u8],
) -> Option<Result<(), DeviceError>> {
    if files.direct_io() {
        return None;
    }
    match read_here(files, offset, buf, true) {
        Ok(false) => None,
        result => Some(result.map(drop)),
    }
}
