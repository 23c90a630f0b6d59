//! Finding the segment files of a directory and checking their headers when a device opens
//! (rule D8): names, indices, segment size, identity, and the repair of a creation cut short.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{FallocateFlags, Mode, OFlags};

use super::header::{self, SEGMENT_HEADER_BYTES, SegmentHeader, SegmentHeaderError};
use super::segments::SegmentConfig;
use crate::error::{DeviceError, IoOp};
use crate::identity::fresh_identity;

/// Parses `<prefix>.<digits>` into a segment index.
pub(crate) fn parse_segment_name(name: &str, prefix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_prefix('.')?;
    if digits.len() < 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The path of segment `index` in `dir`: `<dir>/<prefix>.<index, 8 digits or more>`.
pub(crate) fn segment_path(dir: &Path, prefix: &str, index: u64) -> PathBuf {
    dir.join(format!("{prefix}.{index:08}"))
}

/// The segment files named for `prefix` in `dir`, by ascending index; none when `dir` does
/// not exist.
pub(crate) fn list_segment_files(dir: &Path, prefix: &str) -> io::Result<Vec<(u64, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Some(index) = entry
            .file_name()
            .to_str()
            .and_then(|n| parse_segment_name(n, prefix))
        {
            files.push((index, entry.path()));
        }
    }
    files.sort_unstable();
    Ok(files)
}

/// Opens a segment file. Reads leave its access time alone (`O_NOATIME`: a buffered read then
/// skips the access-time check and update, about 5 % of a read from the page cache) where the
/// file's owner opens it; anyone else opens it without.
pub(crate) fn open_file(path: &Path, direct_io: bool, create: bool) -> rustix::io::Result<OwnedFd> {
    let mut flags = OFlags::RDWR | OFlags::CLOEXEC;
    if direct_io {
        flags |= OFlags::DIRECT;
    }
    if create {
        flags |= OFlags::CREATE | OFlags::EXCL;
    }
    let mode = Mode::from_raw_mode(0o644);
    match rustix::fs::open(path, flags | OFlags::NOATIME, mode) {
        // Only the owner (or a privileged process) may ask for O_NOATIME.
        Err(rustix::io::Errno::PERM) => rustix::fs::open(path, flags, mode),
        result => result,
    }
}

/// Gives a new (or cut-short) segment file its header, durably, and then reserves its blocks
/// if asked: the header is synced before the file can hold data or grow past the header
/// (rule D8).
pub(crate) fn initialise(
    fd: BorrowedFd<'_>,
    header: &SegmentHeader,
    preallocate: bool,
    offset: u64,
) -> Result<(), DeviceError> {
    header::write_block(fd, header).map_err(|e| DeviceError::os(IoOp::Open, offset, 0, e))?;
    if preallocate {
        let size = SEGMENT_HEADER_BYTES + header.segment_size;
        match rustix::fs::fallocate(fd, FallocateFlags::empty(), 0, size) {
            Ok(()) => {}
            Err(rustix::io::Errno::OPNOTSUPP) => tracing::debug!(
                "fallocate is not supported here; segment {} grows on demand",
                header.index
            ),
            Err(e) => return Err(DeviceError::os(IoOp::Preallocate, offset, size, e.into())),
        }
    }
    Ok(())
}

/// The segment files found on open, each checked, and the device's identity.
pub(crate) struct Scanned {
    pub(crate) files: BTreeMap<u64, OwnedFd>,
    pub(crate) identity: u128,
}

fn bad(path: &Path, reason: impl Into<String>) -> DeviceError {
    DeviceError::BadSegment {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Opens and checks every existing segment file of `config` (rule D8), re-initialising those
/// whose creation was cut short, and settles the identity: the builder's, else the files',
/// else a fresh one.
pub(crate) fn open_existing(config: &SegmentConfig) -> Result<Scanned, DeviceError> {
    let geometry = config.geometry;
    let listed = list_segment_files(&config.dir, &config.prefix)
        .map_err(|e| DeviceError::os(IoOp::Open, 0, 0, e))?;
    let mut files = BTreeMap::new();
    let mut cut_short = Vec::new();
    // The identity the files carry, and the first file that carries it.
    let mut found: Option<(u128, PathBuf)> = None;
    for (index, path) in listed {
        let offset = geometry.segment_start(index);
        let open_error = |e: io::Error| DeviceError::os(IoOp::Open, offset, 0, e);
        let fd = open_file(&path, config.direct_io, false).map_err(|e| open_error(e.into()))?;
        let len = rustix::fs::fstat(&fd)
            .map_err(|e| open_error(e.into()))?
            .st_size as u64;
        let (block, got) = header::read_block(fd.as_fd()).map_err(open_error)?;
        let Some(header) = check_header(
            &block[..got],
            len,
            &path,
            index,
            geometry.segment_size,
            config.identity,
        )?
        else {
            cut_short.push((index, path, fd));
            continue;
        };
        match &found {
            None => found = Some((header.identity, path)),
            Some((identity, first)) if *identity != header.identity => {
                return Err(bad(
                    &path,
                    format!(
                        "identity {:032x} differs from identity {identity:032x} of {}",
                        header.identity,
                        first.display()
                    ),
                ));
            }
            Some(_) => {}
        }
        files.insert(index, fd);
    }
    let identity = config
        .identity
        .or(found.map(|(identity, _)| identity))
        .unwrap_or_else(fresh_identity);
    for (index, path, fd) in cut_short {
        tracing::info!(
            "{}: creation was cut short; writing its header again",
            path.display()
        );
        let header = SegmentHeader {
            identity,
            index,
            segment_size: geometry.segment_size,
        };
        initialise(
            fd.as_fd(),
            &header,
            config.preallocate,
            geometry.segment_start(index),
        )?;
        files.insert(index, fd);
    }
    Ok(Scanned { files, identity })
}

/// Checks the header block of segment file `path` (`len` bytes long, `block` its first bytes,
/// up to a block), as opening a device does (rule D8): it parses, names segment `index` and
/// `segment_size`, and carries `identity` when one is expected. `Ok(None)` for a creation cut
/// short (no valid header and no data), which an open initialises again.
fn check_header(
    block: &[u8],
    len: u64,
    path: &Path,
    index: u64,
    segment_size: u64,
    identity: Option<u128>,
) -> Result<Option<SegmentHeader>, DeviceError> {
    let holds_data = len > SEGMENT_HEADER_BYTES;
    let header = match SegmentHeader::decode(block) {
        Ok(header) => header,
        // Rule D8: data is written only after the header is durable, so a file with a missing
        // header and no data is a creation cut short; nothing depends on it.
        Err(SegmentHeaderError::Short { .. } | SegmentHeaderError::Zeroed) if !holds_data => {
            return Ok(None);
        }
        Err(SegmentHeaderError::Zeroed) => {
            return Err(bad(
                path,
                format!(
                    "the header block is all zeros, yet the file holds {} bytes of data",
                    len - SEGMENT_HEADER_BYTES
                ),
            ));
        }
        Err(e) => return Err(bad(path, e.to_string())),
    };
    if header.index != index {
        return Err(bad(
            path,
            format!(
                "the header says segment {}, the file name says segment {index}",
                header.index
            ),
        ));
    }
    if header.segment_size != segment_size {
        return Err(bad(
            path,
            format!(
                "written with segment size {}, opened with segment size {segment_size}",
                header.segment_size
            ),
        ));
    }
    if let Some(expected) = identity
        && header.identity != expected
    {
        return Err(DeviceError::ForeignSegment {
            path: path.to_path_buf(),
            found: header.identity,
            expected,
        });
    }
    Ok(Some(header))
}

/// An I/O error on the file at `path`, its message naming the file (the kind is kept).
fn file_error(op: IoOp, offset: u64, path: &Path, e: &io::Error) -> DeviceError {
    DeviceError::Io {
        op,
        offset,
        source: Arc::new(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    }
}

/// Checks segment file `index` at `path` as [`open_existing`] does, with plain reads: no
/// device is opened, nothing is written, a creation cut short is reported (`Ok(None)`), not
/// repaired.
pub(crate) fn check_file(
    config: &SegmentConfig,
    index: u64,
    path: &Path,
) -> Result<Option<SegmentHeader>, DeviceError> {
    let offset = config.geometry.segment_start(index);
    let error = |op, e: io::Error| file_error(op, offset, path, &e);
    let file = std::fs::File::open(path).map_err(|e| error(IoOp::Open, e))?;
    let len = file.metadata().map_err(|e| error(IoOp::Open, e))?.len();
    let mut block = vec![0u8; SEGMENT_HEADER_BYTES as usize];
    let got =
        super::sys::pread_some(file.as_fd(), &mut block, 0).map_err(|e| error(IoOp::Read, e))?;
    check_header(
        &block[..got],
        len,
        path,
        index,
        config.geometry.segment_size,
        config.identity,
    )
}

/// The first offset of `[from, to)` that the segment files on disk do not hold, with the
/// file it should be in: each segment overlapping the range must exist and hold its part
/// of the range, rounded down to the sector size. With `headers`, each of those files' header
/// is checked first ([`check_file`]), for a caller that has not opened a device (which
/// checks every header when it opens).
pub(crate) fn first_missing(
    config: &SegmentConfig,
    path_of: impl Fn(u64) -> PathBuf,
    (from, to): (u64, u64),
    headers: bool,
) -> Result<(), DeviceError> {
    let geometry = config.geometry;
    let sector = geometry.sector_size as u64;
    let mut pos = from;
    while pos < to {
        let segment = geometry.segment_of(pos);
        let start = geometry.segment_start(segment);
        let end = start.saturating_add(geometry.segment_size).min(to);
        let needed = (end - start) & !(sector - 1);
        let path = path_of(segment);
        let held = match std::fs::metadata(&path) {
            Ok(m) => m.len().saturating_sub(SEGMENT_HEADER_BYTES),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(DeviceError::MissingData { path, offset: pos });
            }
            Err(e) => return Err(file_error(IoOp::Open, pos, &path, &e)),
        };
        // A creation cut short holds no data: `held` is 0 then.
        if headers {
            check_file(config, segment, &path)?;
        }
        if held < needed {
            return Err(DeviceError::MissingData {
                path,
                offset: (start + held).max(pos),
            });
        }
        pos = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{open_file, parse_segment_name};
    use rustix::fs::OFlags;

    /// A segment file this process creates or reopens is open with `O_NOATIME`: reads from it
    /// leave its access time alone.
    #[test]
    fn segment_files_are_opened_without_access_time_updates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segment.00000000");
        for create in [true, false] {
            let fd = open_file(&path, false, create).unwrap();
            let flags = rustix::fs::fcntl_getfl(&fd).unwrap();
            assert!(
                flags.contains(OFlags::NOATIME),
                "create {create}: {flags:?}"
            );
            assert!(flags.contains(OFlags::RDWR), "create {create}: {flags:?}");
        }
    }

    #[test]
    fn segment_names_need_the_prefix_a_dot_and_eight_or_more_digits() {
        assert_eq!(parse_segment_name("segment.00000012", "segment"), Some(12));
        assert_eq!(
            parse_segment_name("segment.123456789", "segment"),
            Some(123_456_789)
        );
        assert_eq!(parse_segment_name("segment.0012", "segment"), None);
        assert_eq!(parse_segment_name("log.00000001", "segment"), None);
        assert_eq!(parse_segment_name("segment.0000001x", "segment"), None);
        assert_eq!(parse_segment_name("segments.00000001", "segment"), None);
    }
}
