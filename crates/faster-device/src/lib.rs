//! Block devices for faster-rs: positional, aligned, completion-based I/O on a logical byte
//! space split into segments.
//!
//! # What a device is
//!
//! A [`Device`] holds the bytes `[0, capacity)`, cut into segments of
//! [`Geometry::segment_size`] bytes (segment `s` holds `[s·size, (s+1)·size)`). The hybrid log
//! flushes whole pages through it with many writes in flight and reads records back;
//! FasterLog and checkpoints use it too. A request names an offset, a length and the caller's
//! memory, and *completes later*: the device calls a [`Completion`] when the bytes have moved.
//! Nothing in this crate knows what the bytes mean.
//!
//! # The rules
//!
//! Every device keeps these, and the layers above cite them by name.
//!
//! - **D1 — alignment.** Offsets, lengths and buffer addresses are multiples of
//!   [`Geometry::sector_size`]; otherwise the submit call returns [`DeviceError::Misaligned`]
//!   and drops `done` without calling it. A submission that returns `Ok` calls `done` exactly
//!   once; one that returns `Err` never calls it. The one exception: a device whose
//!   [`Device::reads_unaligned`] is true (a file read through the page cache) takes any offset,
//!   length and buffer in [`Device::read_now`] and [`Device::read_cached`].
//! - **D2 — where completions run.** A completion may run on any thread, including inline on
//!   the submitting thread before the submit call returns. Callers must not hold a lock that
//!   the completion needs, and a completion must not block waiting for the same device (a
//!   blocking call such as `read_blocking` or `flush()` inside a completion can wait for I/O
//!   that only the completing thread would finish). Submitting new requests from a completion
//!   is fine: no device blocks a submitter on its own completions.
//! - **D3 — whole transfers.** Success means all `len` bytes moved: devices loop over short
//!   reads and writes. Bytes never written read back as zeros, past the end of a file too.
//! - **D4 — segment crossing.** A request may cross segment boundaries; the device splits it
//!   into pieces, one per segment, that partition the request (and so the caller's buffer), and
//!   completes once, with the first error of any piece.
//! - **D5 — durability.** [`Device::flush`] makes durable every write whose completion ran
//!   before `flush()` was called: `fdatasync` of the files written since, and `fsync` of the
//!   directory when segment files were created or removed. Writes still in flight are not
//!   covered. Overlapping flushes report in the order they started, and after a failed flush a
//!   file device refuses writes and flushes with [`DeviceError::Poisoned`].
//! - **D6 — truncation.** [`Device::truncate_until`]`(offset)` removes each segment `s` with
//!   `(s+1)·segment_size <= offset`; later reads and writes below the first kept segment give
//!   [`DeviceError::Truncated`]. [`Device::begin_offset`] reports that point (file devices find
//!   it again on reopen from the lowest segment file). A file device also frees the data
//!   blocks of the segment holding `offset` below `offset` rounded down to 4096 bytes
//!   (`fallocate` punching a hole, never into the header block; skipped where the file system
//!   cannot): the file keeps its length, so reopening and [`Device::check_present`] see
//!   nothing missing, but those bytes read as zeros. Nothing may be read below the offset
//!   truncated to. A [`FaultDevice`] drops its unflushed writes below it.
//! - **D7 — capacity.** A request reaching past [`Geometry::capacity`] gives
//!   [`DeviceError::OutOfSpace`], as does `ENOSPC` from the operating system.
//! - **D8 — identity.** A device may name the log it holds with a 128-bit [`Device::identity`].
//!   A file device writes it into a header block at the start of every segment file
//!   ([`SegmentHeader`]: identity, segment index, segment size; data of segment offset `o`
//!   lives at file offset [`SEGMENT_HEADER_BYTES`]` + o`). A new file's header is written and
//!   `fdatasync`ed before the file is used for data or preallocated, so no data can be durable
//!   in a file whose header is not. Hence a file with no data beyond its header whose header is
//!   short or all zeros is a creation cut short by a crash, and is initialised again on open;
//!   any other file with a damaged header, a header naming another index or segment size, or an
//!   identity that differs from the other files' is refused with [`DeviceError::BadSegment`],
//!   and one whose identity is not the builder's with [`DeviceError::ForeignSegment`].
//!   [`Device::check_present`] tells whether the files still hold a range.
//! - **D9 — caller memory.** [`Device::write_raw`] and [`Device::read_raw`] take raw memory
//!   that the caller keeps valid from the call until `done` has run, or until the call returns
//!   `Err`: unmodified for a write and, for a read, touched by nobody else. A device touches it
//!   only in that time (a refused submission not at all), each piece only its own part, and
//!   may hand a part on to an inner device, an I/O thread or the kernel under the same promise,
//!   for no longer. [`DeviceExt`] keeps the promise for safe callers by borrowing or owning the
//!   buffer until `done` has run.
//! - **D12 — batches.** A read from [`Device::read_raw_batched`] keeps D1–D9 like any other
//!   and completes exactly once, but it may sit unsent in the device's queue until
//!   [`Device::submit_batch`] runs (on any thread) or another request sends it along. A
//!   caller that is going to wait for such a read calls `submit_batch` first. A device never
//!   holds one for long: the io_uring device keeps at most 31 unsent (the 32nd enters the
//!   kernel for all of them), and its reaper's periodic enter (every 100 ms at most) sends
//!   any left behind.
//!
//! After [`Device::close`], reads, writes and truncations return [`DeviceError::Closed`];
//! requests already submitted still complete, and flushes still work.
//!
//! The memory this crate hands out keeps two more:
//!
//! - **D10 — aligned buffers.** An [`AlignedBuf`] owns its memory alone, like a `Box<[u8]>`:
//!   `len` bytes, zeroed when obtained, at a multiple of its alignment, that never move while it
//!   lives. Below 2 MiB they come from `alloc_zeroed` with a layout of non-zero size; from 2 MiB
//!   up, from a fresh anonymous private mapping (which aliases nothing), rounded up to whole
//!   pages and over-sized so that an aligned start exists; an empty buffer holds an aligned
//!   dangling pointer. Its drop gives the memory back once, the way it was obtained. `&self`
//!   only reads it; writing needs `&mut self`.
//! - **D11 — kernel advice.** `madvise` and `posix_fadvise` change no memory contents: advice
//!   is sound on a page-aligned range inside a mapping we own, or on a descriptor that stays
//!   open for the call.
//!
//! Two modules keep protocols of their own, written at their top: the `io_uring` ring
//! (rules U1–U6, `uring/ring.rs`) and the order of a file device's flushes (rules F1–F3,
//! `file/flush_order.rs`).
//!
//! # Three ways to be told
//!
//! - **Callback.** Pass a closure as the [`Completion`]; it runs on whichever thread finished
//!   the I/O. Cheapest; the hybrid log uses it for page flushes.
//! - **Queue.** [`CompletionQueue::completion`]`(token)` turns a completion into a push of
//!   `(token, result)` onto a queue the caller drains with [`CompletionQueue::try_pop`] or
//!   [`CompletionQueue::pop_blocking`] — the shape of "complete pending operations".
//! - **Async.** [`CompletionQueue::pop_async`] is a future woken by the completion itself
//!   through its stored [`Waker`](std::task::Waker): no runtime, no polling loop.
//!
//! For tests and simple callers, [`DeviceExt`] adds blocking and owned-buffer methods to
//! every device (`dyn Device` included): [`DeviceExt::write_blocking`],
//! [`DeviceExt::read_blocking`], [`DeviceExt::write_buf`], [`DeviceExt::read_buf`]. Blocking
//! methods call [`Device::poll`] while they wait, for devices whose completions need reaping
//! by the caller. [`AlignedBuf`] is the aligned, zeroed, owned memory all of this wants.
//!
//! # Files beside the device
//!
//! Three small tools for the files that live next to segment files, so every layer above
//! uses the same ones: [`envelope`] (magic, version, length and checksum around a small
//! blob; segment headers use it), [`write_file_durably`] and [`sync_dir`] (whole files
//! replaced atomically and durably), and [`DirLock`] (one process at a time in a
//! directory, through `flock` on a `LOCK` file, released by the kernel when the process
//! dies).
//!
//! # Writing your own device
//!
//! [`Device`] is object safe and layers above hold an `Arc<dyn Device>`, so a device
//! written in another crate plugs in by implementing the trait: check requests with
//! [`Geometry::check`], keep the rules above, and call `done` exactly once. `write_raw` and
//! `read_raw` are `unsafe fn` because they take raw memory whose validity the *caller*
//! promises until `done` runs; an implementation must not touch that memory after calling
//! `done`. `examples/custom_device.rs` and `tests/custom_device.rs` show one.
//!
//! # Which device
//!
//! | device | use it for | completions run |
//! |---|---|---|
//! | [`MemDevice`] | tests; stores that need no persistence | inline |
//! | [`FileDevice`] | files anywhere; buffered or `O_DIRECT` | I/O pool threads |
//! | [`UringDevice`] (feature `io-uring`) | files with many I/Os in flight, few threads | reaper thread |
//! | [`FaultDevice`] | crash and error tests over any of them | as the inner device, or a timer |
//!
//! [`FileDeviceBuilder::open_auto`] opens an [`UringDevice`] when the feature is on and the
//! kernel allows `io_uring`, and a [`FileDevice`] otherwise, and says which ([`Engine`]).
//! `O_DIRECT` ([`FileDeviceBuilder::direct_io`]) bypasses the page cache: use it for data
//! larger than memory, where the store's own cache is the better one.
//!
//! # What FaultDevice models
//!
//! A disk with a volatile write cache: completed writes are visible at once but durable only
//! after a completed flush. [`FaultDevice::crash`] loses the unflushed ones — all of them, or
//! a subset chosen from a seed with survivors torn at sector boundaries — and carries on as
//! the restarted machine. It also fails the n-th read, write or flush with `EIO`, tears the
//! n-th write, and delays completions. It does not model reordering or tearing of flushed
//! data, tearing inside a sector, corruption, or metadata durability; see [`FaultDevice`].
//!
#![cfg_attr(feature = "io-uring", doc = "[`UringDevice`]: crate::UringDevice")]
#![cfg_attr(
    not(feature = "io-uring"),
    doc = "[`UringDevice`]: crate::Engine::IoUring"
)]

mod aligned_buf;
mod completion_queue;
mod device;
mod durable;
pub mod envelope;
mod error;
mod ext;
mod fault;
mod file;
mod geometry;
mod identity;
mod lock;
mod mem;
mod split;
mod sync;
#[cfg(feature = "io-uring")]
mod uring;

pub use aligned_buf::{AlignedBuf, AlignedBufOptions, DEFAULT_ALIGNMENT, HUGE_PAGE_SIZE};
pub use completion_queue::{CompletionEvent, CompletionQueue, PopFuture};
pub use device::{Completion, Device};
pub use durable::{DurableError, sync_dir, write_file_durably};
pub use error::{DeviceError, IoOp, MisalignedPart};
pub use ext::{DeviceExt, Rejected};
pub use fault::{CrashMode, CrashReport, FaultDevice, SurvivingWrite};
pub use file::{
    Engine, FILE_DEFAULT_PREFIX, FILE_DEFAULT_SEGMENT_SIZE, FILE_SECTOR_SIZE, FileDevice,
    FileDeviceBuilder, SEGMENT_FORMAT_VERSION, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC, SegmentHeader,
    SegmentHeaderError, read_segment_header,
};
pub use geometry::Geometry;
pub use identity::fresh_identity;
pub use lock::{DirLock, LENT_LOCK_WAIT_MAX, LOCK_FILE, LockError, LockHolder};
pub use mem::{MEM_DEFAULT_SECTOR_SIZE, MEM_DEFAULT_SEGMENT_SIZE, MemDevice, MemDeviceBuilder};
#[cfg(feature = "io-uring")]
pub use uring::UringDevice;
