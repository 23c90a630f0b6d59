//! Sequential file writing that bypasses the page cache where the file system allows it.
//!
//! A checkpoint writes its snapshot file once, front to back, and then only reads it at
//! recovery: copying it through the page cache costs the checkpoint thread a second copy of
//! every byte and leaves the disk idle until the final `fsync`. [`DirectWriter`] gathers the
//! bytes into an aligned staging buffer and writes whole blocks with `O_DIRECT`, so the disk
//! works while the checkpoint copies the next pages. File systems that refuse `O_DIRECT`
//! (tmpfs) get ordinary buffered writes of the same blocks.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use faster_device::AlignedBuf;

/// The unit of `O_DIRECT` transfers: offsets and lengths are multiples of it.
const BLOCK: usize = 4096;
/// Bytes gathered before a write.
const STAGE: usize = 4 << 20;

/// Writes a new file sequentially; [`DirectWriter::finish`] may still rewrite its first bytes
/// (a header whose content is known only at the end).
pub(crate) struct DirectWriter {
    file: File,
    path: std::path::PathBuf,
    /// Whether `file` was opened with `O_DIRECT`.
    direct: bool,
    stage: AlignedBuf,
    /// Bytes of `stage` in use.
    filled: usize,
    /// Bytes of the file written before `stage[0]` (a multiple of [`BLOCK`]).
    written: u64,
    /// The file's first block, kept once it has been written, for [`DirectWriter::finish`].
    first: Option<Vec<u8>>,
}

impl DirectWriter {
    /// Creates (or truncates) the file at `path`.
    pub(crate) fn create(path: &Path) -> io::Result<Self> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        let (file, direct) = match options.clone().custom_flags(libc::O_DIRECT).open(path) {
            Ok(file) => (file, true),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => (options.open(path)?, false),
            Err(e) => return Err(e),
        };
        let stage = AlignedBuf::options()
            .zeroed(STAGE)
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            direct,
            stage,
            filled: 0,
            written: 0,
            first: None,
        })
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.written + self.filled as u64
    }

    /// Appends `data`.
    pub(crate) fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = (STAGE - self.filled).min(data.len());
            self.stage[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == STAGE {
                self.drain()?;
            }
        }
        Ok(())
    }

    /// Writes the whole blocks gathered so far and keeps the partial one.
    fn drain(&mut self) -> io::Result<()> {
        let whole = self.filled / BLOCK * BLOCK;
        if whole == 0 {
            return Ok(());
        }
        if self.written == 0 {
            self.first = Some(self.stage[..BLOCK].to_vec());
        }
        self.write_stage(whole, self.written)?;
        self.written += whole as u64;
        self.stage.copy_within(whole..self.filled, 0);
        self.filled -= whole;
        Ok(())
    }

    /// Writes `stage[..len]` at `offset`. A file system that accepted `O_DIRECT` at open but
    /// refuses the transfer (`EINVAL`) gets the file reopened without it and the write again.
    fn write_stage(&mut self, len: usize, offset: u64) -> io::Result<()> {
        match self.file.write_all_at(&self.stage[..len], offset) {
            Err(e) if self.direct && e.raw_os_error() == Some(libc::EINVAL) => {
                self.file = OpenOptions::new().write(true).open(&self.path)?;
                self.direct = false;
                self.file.write_all_at(&self.stage[..len], offset)
            }
            other => other,
        }
    }

    /// Replaces the file's first `head.len()` bytes (at most one block, and no more than were
    /// written) with `head`, writes what is left, and makes the file durable.
    pub(crate) fn finish(mut self, head: &[u8]) -> io::Result<()> {
        let len = self.len();
        if head.len() > BLOCK || head.len() as u64 > len {
            return Err(io::Error::other(
                "header larger than the file's first block",
            ));
        }
        match self.first.as_mut() {
            None => self.stage[..head.len()].copy_from_slice(head),
            Some(first) => first[..head.len()].copy_from_slice(head),
        }
        let padded = self.filled.div_ceil(BLOCK) * BLOCK;
        self.stage[self.filled..padded].fill(0);
        if padded > 0 {
            self.write_stage(padded, self.written)?;
        }
        if let Some(first) = self.first.take() {
            self.stage[..BLOCK].copy_from_slice(&first);
            self.write_stage(BLOCK, 0)?;
        }
        // The last block was padded to its end; the file ends where the data does.
        self.file.set_len(len)?;
        self.file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_back_exactly_with_the_header_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        for total in [
            10usize,
            BLOCK - 1,
            BLOCK,
            BLOCK + 7,
            STAGE - 3,
            STAGE + BLOCK + 5,
            3 * STAGE + 11,
        ] {
            let path = dir.path().join(format!("f{total}"));
            let data: Vec<u8> = (0..total).map(|i| (i * 7 + i / 4096) as u8).collect();
            let mut w = DirectWriter::create(&path).unwrap();
            // Uneven pieces, so that staging boundaries fall inside them.
            for piece in data.chunks(12_345) {
                w.write_all(piece).unwrap();
            }
            assert_eq!(w.len(), total as u64);
            let head = [0xAB; 8];
            w.finish(&head).unwrap();
            let back = std::fs::read(&path).unwrap();
            assert_eq!(back.len(), total, "length of {total}");
            assert_eq!(back[..8], head, "header of {total}");
            assert!(back[8..] == data[8..], "bytes of {total}");
        }
    }

    #[test]
    fn a_header_longer_than_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DirectWriter::create(&dir.path().join("f")).unwrap();
        w.write_all(&[1, 2, 3]).unwrap();
        assert!(w.finish(&[0; 8]).is_err());
    }
}
