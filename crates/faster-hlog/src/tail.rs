//! The tail: lock-free allocation by fetch-add, and the page-turn protocol (rule H2).
//!
//! The tail is one atomic word holding the tail page and the offset in it. The offset field is
//! far wider than any page, so a fetch-add that runs past the end of the page does not spill
//! into the page field: it only tells the thread that its reservation is void.

// The loom models reach these items through `loom_api`; in normal builds they are private.
#![allow(unreachable_pub, reason = "public only to the loom models")]

use crate::sync::{AtomicU64, Ordering};

/// Bits of the offset field of the tail word. 40 bits leave room for every thread of a
/// process to overshoot a 1 GiB page many times over before a page turn resets the offset.
const OFFSET_BITS: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
/// Pages the page field can count.
pub(crate) const PAGE_LIMIT: u64 = 1 << (64 - OFFSET_BITS);

#[inline]
const fn pack(page: u64, offset: u64) -> u64 {
    (page << OFFSET_BITS) | offset
}

#[inline]
const fn unpack(word: u64) -> (u64, u64) {
    (word >> OFFSET_BITS, word & OFFSET_MASK)
}

/// Result of [`Tail::reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// `(page, offset)`: the bytes are the caller's.
    Reserved {
        /// The page the bytes are in.
        page: u64,
        /// Their offset in the page.
        offset: u64,
    },
    /// The page has no room for the request: turn it (or wait for whoever turns it).
    PageFull {
        /// The tail page that is full.
        page: u64,
    },
}

/// Result of [`Tail::turn_page`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// This thread moved the tail to the next page: it must shift the regions for it.
    Turned,
    /// Another thread already moved the tail past the page.
    AlreadyTurned,
    /// The next page's frame is not free yet (rule H3): refresh the epoch and retry.
    NotReady,
}

/// The tail word of a log with pages of `page_size` bytes.
#[derive(Debug)]
pub struct Tail {
    word: AtomicU64,
    page_size: u64,
}

impl Tail {
    /// A tail at `(page, offset)`.
    pub fn new(page: u64, offset: u64, page_size: u64) -> Self {
        Self {
            word: AtomicU64::new(pack(page, offset)),
            page_size,
        }
    }

    /// The tail as `(page, offset)`, with a page that is full reported as `(page, page_size)`.
    #[inline]
    pub fn load(&self) -> (u64, u64) {
        let (page, offset) = unpack(self.word.load(Ordering::Acquire));
        (page, offset.min(self.page_size))
    }

    /// Reserves `size` bytes (`0 < size <= page_size`) in the tail page.
    ///
    /// A thread first checks that the request fits, so a full page is not pushed further
    /// past its end by every retry; only threads racing between the check and the fetch-add
    /// overshoot, each by at most its own request.
    #[inline]
    pub fn reserve(&self, size: u64) -> Reserve {
        debug_assert!(size > 0 && size <= self.page_size);
        let (page, offset) = unpack(self.word.load(Ordering::Acquire));
        if offset + size > self.page_size {
            return Reserve::PageFull { page };
        }
        // AcqRel: Acquire pairs with the page turn's Release, so the new frame's zeroed bytes
        // are visible before we write; Release keeps the release sequence going for later
        // reservers.
        let (page, offset) = unpack(self.word.fetch_add(size, Ordering::AcqRel));
        if offset + size <= self.page_size {
            Reserve::Reserved { page, offset }
        } else {
            Reserve::PageFull { page }
        }
    }

    /// Moves the tail from `page` to `page + 1` if `next_ready` says the next page's frame is
    /// free. Exactly one thread sees [`Turn::Turned`] for each page (rule H2).
    pub fn turn_page(&self, page: u64, next_ready: impl Fn(u64) -> bool) -> Turn {
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            let (tail_page, _) = unpack(current);
            if tail_page > page {
                return Turn::AlreadyTurned;
            }
            debug_assert_eq!(
                tail_page, page,
                "a page turn for a page the tail never reached"
            );
            if !next_ready(page + 1) {
                return Turn::NotReady;
            }
            // The comparison is on the whole word: if any reservation landed since we read
            // it, we read again, so no reservation that fit is lost to the turn.
            match self.word.compare_exchange(
                current,
                pack(page + 1, 0),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Turn::Turned,
                Err(actual) => current = actual,
            }
        }
    }
}
