//! The hybrid log of FASTER: one logical address space whose newest pages live in memory,
//! where records may be updated in place, and whose older pages live on a [`Device`].
//!
//! # Regions
//!
//! A log is a sequence of bytes addressed by 48-bit [`Address`]es, cut into pages of
//! `1 << page_size_bits` bytes. Page `p` lives, while in memory, in frame `p mod memory_pages`
//! of a fixed ring of page frames. Seven addresses divide the log:
//!
//! ```text
//!   begin     safe_head/head    flushed_until    safe_read_only/read_only      tail
//!     |  on the device only  |  in memory, immutable   |   in memory, mutable   |
//!     v                      v                         v                        v
//!  ---[======================[=========================[========================[---->
//!                      (frames reused)          (being flushed)           (updated in place)
//! ```
//!
//! - Allocation reserves bytes at the **tail** with one fetch-add on a word holding the tail
//!   page and offset. The thread whose reservation does not fit turns the page.
//! - Records at or above **read-only** may be updated in place. When the tail enters a new
//!   page, read-only moves to `mutable_pages` pages behind it; once every thread has seen that
//!   move (an epoch action), **safe read-only** follows and the newly immutable bytes are
//!   written to the device straight from their frames.
//! - **Flushed-until** is the end of the contiguous prefix of completed writes.
//! - **Head** follows the tail (leaving one frame free for the next page turn) but never
//!   passes flushed-until; once every thread has seen it move, the frames below are zeroed and
//!   **safe head** follows, which lets the tail reuse them.
//! - **Begin** moves when the log is truncated; device segments wholly below it are removed.
//!
//! The log knows nothing of keys or record formats: callers write records into the bytes they
//! allocate, read them through [`HybridLog::frame_ptr`] or [`HybridLog::read_async`], and give
//! [`LogScan`] a function that tells a record's size.
//!
//! # Rules
//!
//! The protocol, cited by number in the code:
//!
//! - **H1 — order.** `begin <= head`, `safe_head <= head <= flushed_until <= safe_read_only <=
//!   read_only <= tail`, and every one of them only moves forward (`fetch_max`).
//! - **H2 — allocation.** A reservation is a fetch-add on the tail word. If it does not fit in
//!   its page it is void, and the page is turned by a compare-and-swap from the whole old word
//!   to `(page + 1, 0)`, so exactly one thread turns each page and no reservation that fit is
//!   lost. Bytes left at the end of a page stay zero. A record never spans pages.
//! - **H3 — frame reuse.** The tail may enter page `p` only when the page that last used its
//!   frame, `p - memory_pages`, lies below the safe head: flushed, evicted, seen by every
//!   thread, and zeroed. Otherwise allocation answers "refresh and retry"; the log never waits
//!   and never overwrites a live page.
//! - **H4 — read-only.** A thread updates a record in place only after checking, under epoch
//!   protection, that its address is at or above read-only; it finishes the update before it
//!   refreshes. So once every thread has refreshed past a read-only shift, nobody writes below
//!   it: safe read-only follows, and the bytes below it may be flushed and read without races.
//!   The owner of a fresh allocation likewise finishes writing it before it refreshes.
//! - **H5 — flush order.** Flush writes are sector-aligned. The whole sectors of a range are
//!   written from the frame, a partial last sector from a zero-padded copy. A write whose
//!   sectors overlap one still in flight waits for it, so the device sees each sector's writes
//!   in address order. Flushed-until advances over the contiguous prefix of completed writes;
//!   a failed write poisons the log and flushed-until never passes it.
//! - **H6 — head and eviction.** The head moves only to addresses at or below flushed-until.
//!   A thread that checked `address >= head` under protection may use the frame memory of
//!   `address` until it refreshes: the frame is zeroed and its safe head published only by the
//!   epoch action of the head shift, which runs after every thread has refreshed.
//! - **H7 — reads below the head** go to the device; those bytes are flushed and immutable.
//!   A [`LogScan`] hands out records from memory without copying them, so it stays protected
//!   between calls; it must be paused ([`LogScan::pause`]) before it sits idle, or it holds
//!   back every flush and eviction like any protected thread.
//! - **H8 — begin.** The begin address moves only to addresses at or below flushed-until,
//!   pushing the head up to it if needed; records below it are gone, and so are the device's
//!   segments wholly below it.
//! - **H9 — frames.** The page frames are `memory_pages` aligned buffers of one page each,
//!   allocated with the log and freed only when it drops; they never move. Their addresses are
//!   shared as raw pointers that carry no right of access: a frame is written only by the
//!   owner of a fresh reservation (H2, H4), by the eviction action that zeroes it (H6), or by
//!   recovery restoring the tail page before the log is handed to anyone; it is read only as
//!   H4–H7 allow (protected threads, flush writes of immutable bytes).
//!
//! # Durability
//!
//! Flushing writes pages to the device; it does not make them durable. [`HybridLog::flush_and_sync`]
//! (or [`HybridLog::flush_until`], [`HybridLog::wait_flushed`] and then
//! [`Device::flush`]) gives a durable prefix; a log reopens at a
//! known point with [`HybridLog::recover`].

mod config;
mod error;
mod evict;
mod flush;
mod flush_order;
mod frames;
mod log;
mod read;
mod scan;
mod sync;
mod tail;

pub use config::{LogConfig, MAX_PAGE_SIZE_BITS, MIN_MEMORY_PAGES, MIN_PAGE_SIZE_BITS};
pub use error::LogError;
pub use faster_address::Address;
pub use faster_device::Device;
pub use log::{HybridLog, RECORD_ALIGNMENT, RecoveryPoint, Regions};
pub use read::ReadBuffer;
pub use scan::{LogScan, SCAN_REFRESH_INTERVAL, ScanRecord};

/// The tail-allocation protocol, exposed only to the loom models in `tests/loom.rs`.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_api {
    pub use crate::tail::{Reserve, Tail, Turn};
}
