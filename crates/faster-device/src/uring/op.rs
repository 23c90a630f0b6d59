//! One request in the ring: what to do next, and how to finish. An [`Op`] is boxed, its
//! address rides in the SQE's `user_data`, and the reaper takes the box back from the CQE
//! (rule U3).

use std::any::Any;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

use io_uring::{opcode, squeue, types};

/// Largest transfer one SQE carries; longer pieces continue like short transfers.
const MAX_SQE_BYTES: usize = 1 << 30;

/// How an op ends: called once with the outcome of the whole transfer.
pub(crate) type Finish = Box<dyn FnOnce(io::Result<()>) + Send + 'static>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Read,
    Write,
    /// `fdatasync` (`true`) or `fsync` (`false`) of the whole file.
    Sync {
        data_only: bool,
    },
}

pub(crate) struct Op {
    kind: OpKind,
    fd: RawFd,
    /// Caller memory still to transfer, and where in the file it goes.
    ptr: *mut u8,
    remaining: usize,
    file_offset: u64,
    /// Keeps the descriptor open until the CQE arrives.
    _keep_open: Arc<dyn Any + Send + Sync>,
    finish: Finish,
}

/// What the reaper does with an op after a CQE.
pub(crate) enum Step {
    /// Submit the op again for what remains.
    Again(Box<Op>),
    /// Call `finish` with this outcome.
    Done(Finish, io::Result<()>),
}

impl Op {
    pub(crate) fn new(
        kind: OpKind,
        fd: RawFd,
        keep_open: Arc<dyn Any + Send + Sync>,
        ptr: *mut u8,
        len: usize,
        file_offset: u64,
        finish: Finish,
    ) -> Box<Self> {
        Box::new(Self {
            kind,
            fd,
            ptr,
            remaining: len,
            file_offset,
            _keep_open: keep_open,
            finish,
        })
    }

    /// The SQE for the op's next step; `user_data` is set by the ring.
    pub(crate) fn entry(&self) -> squeue::Entry {
        let fd = types::Fd(self.fd);
        let len = self.remaining.min(MAX_SQE_BYTES) as u32;
        match self.kind {
            OpKind::Read => opcode::Read::new(fd, self.ptr, len)
                .offset(self.file_offset)
                .build(),
            OpKind::Write => opcode::Write::new(fd, self.ptr.cast_const(), len)
                .offset(self.file_offset)
                .build(),
            OpKind::Sync { data_only } => {
                let flags = if data_only {
                    types::FsyncFlags::DATASYNC
                } else {
                    types::FsyncFlags::empty()
                };
                opcode::Fsync::new(fd).flags(flags).build()
            }
        }
    }

    /// Applies a CQE result (rule D3: finish the whole transfer).
    pub(crate) fn advance(mut self: Box<Self>, result: i32) -> Step {
        if result == -libc::EINTR || result == -libc::EAGAIN {
            return Step::Again(self);
        }
        if result < 0 {
            return Step::Done(self.finish, Err(io::Error::from_raw_os_error(-result)));
        }
        let transferred = result as usize;
        match self.kind {
            OpKind::Sync { .. } => Step::Done(self.finish, Ok(())),
            OpKind::Read if transferred == 0 => {
                // End of file: the rest reads as zeros.
                // SAFETY: rules U6, D9 — `ptr..ptr + remaining` is the unread tail of the
                // caller's buffer, which the request's contract keeps valid and exclusively ours
                // until the completion runs.
                unsafe { self.ptr.write_bytes(0, self.remaining) };
                Step::Done(self.finish, Ok(()))
            }
            OpKind::Write if transferred == 0 => {
                Step::Done(self.finish, Err(io::ErrorKind::WriteZero.into()))
            }
            OpKind::Read | OpKind::Write => {
                let transferred = transferred.min(self.remaining);
                self.remaining -= transferred;
                if self.remaining == 0 {
                    return Step::Done(self.finish, Ok(()));
                }
                // SAFETY: rule U6 — `transferred <= remaining`, so the new pointer stays inside
                // the caller's buffer (or one past its end, not dereferenced when nothing
                // remains).
                self.ptr = unsafe { self.ptr.add(transferred) };
                self.file_offset += transferred as u64;
                Step::Again(self)
            }
        }
    }
}
