//! Positional transfers that finish the whole request: loops over short reads and writes,
//! retries `EINTR`, and zero-fills what lies past the end of a file (rule D3).

use std::io;
use std::os::fd::BorrowedFd;

/// Reads `len` bytes at `offset` into `dst`; bytes past the end of the file read as zeros.
///
/// # Safety
/// `dst..dst + len` must be valid for writes and accessed by nobody else during the call.
pub(crate) unsafe fn pread_full(
    fd: BorrowedFd<'_>,
    dst: *mut u8,
    len: usize,
    offset: u64,
) -> io::Result<()> {
    // SAFETY: rule D9 — guaranteed by this function's contract, which its callers meet with a
    // piece of a request's memory.
    let buf = unsafe { std::slice::from_raw_parts_mut(dst, len) };
    let got = pread_some(fd, buf, offset)?;
    buf[got..].fill(0);
    Ok(())
}

/// Reads `len` bytes at `offset` into `dst` only as far as the page cache already holds them
/// (`RWF_NOWAIT`): true when the whole request was read that way (bytes past the end of the
/// file zero-filled), false when a read would have waited for the disk or the kernel refuses
/// the flag — then `dst` holds a part of the bytes at most, and the caller reads it again.
///
/// # Safety
/// As [`pread_full`].
pub(crate) unsafe fn pread_cached(
    fd: BorrowedFd<'_>,
    dst: *mut u8,
    len: usize,
    offset: u64,
) -> bool {
    // SAFETY: rule D9 — as in `pread_full`.
    let buf = unsafe { std::slice::from_raw_parts_mut(dst, len) };
    let mut done = 0;
    while done < len {
        let mut slices = [std::io::IoSliceMut::new(&mut buf[done..])];
        match rustix::io::preadv2(
            fd,
            &mut slices,
            offset + done as u64,
            rustix::io::ReadWriteFlags::NOWAIT,
        ) {
            Ok(0) => {
                // The end of the file (a read that would wait answers EAGAIN, not 0).
                buf[done..].fill(0);
                return true;
            }
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Reads into `buf` from `offset` until it is full or the file ends; returns the bytes read.
pub(crate) fn pread_some(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match rustix::io::pread(fd, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

/// Writes `len` bytes from `src` at `offset`.
///
/// # Safety
/// `src..src + len` must be valid for reads and not modified during the call.
pub(crate) unsafe fn pwrite_full(
    fd: BorrowedFd<'_>,
    src: *const u8,
    len: usize,
    offset: u64,
) -> io::Result<()> {
    // SAFETY: rule D9 — guaranteed by this function's contract, which its callers meet with a
    // piece of a request's memory.
    let buf = unsafe { std::slice::from_raw_parts(src, len) };
    pwrite_all(fd, buf, offset)
}

/// Writes all of `buf` at `offset`.
pub(crate) fn pwrite_all(fd: BorrowedFd<'_>, buf: &[u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match rustix::io::pwrite(fd, &buf[done..], offset + done as u64) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Runs `f` again while it fails with `EINTR`.
pub(crate) fn retry_intr(mut f: impl FnMut() -> rustix::io::Result<()>) -> rustix::io::Result<()> {
    loop {
        match f() {
            Err(rustix::io::Errno::INTR) => {}
            other => return other,
        }
    }
}

/// A raw buffer address that may cross to an I/O thread. The request's safety contract
/// (caller memory stays valid until the completion runs) is what makes sending it sound.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(*mut u8);

// SAFETY: rule D9 — the pointer is only dereferenced by the I/O that the submitter's contract
// covers (`Device::read_raw` / `write_raw`: valid, and exclusively ours for reads, until
// `done`).
unsafe impl Send for SendPtr {}

impl SendPtr {
    pub(crate) fn new(ptr: *mut u8) -> Self {
        Self(ptr)
    }

    /// The address. A method (not a field access) so closures capture the whole `Send`
    /// wrapper rather than the raw pointer field.
    pub(crate) fn get(self) -> *mut u8 {
        self.0
    }
}
