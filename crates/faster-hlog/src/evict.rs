//! Head shifts and eviction (rule H6), and truncation at the begin address (rule H8).

use std::sync::Arc;

use crate::log::{HybridLog, LogState};
use crate::sync::{Ordering, advance, lock};
use crate::{Address, LogError};

impl LogState {
    /// Moves the head as far as the tail on `tail_page` asks and the flushes allow: the tail
    /// page and the `memory_pages - 2` pages behind it stay in memory, so one frame is free
    /// for the next page turn; the head never passes flushed-until's page (rule H6).
    pub(crate) fn shift_head_for_tail_page(self: &Arc<Self>, tail_page: u64) {
        let g = &self.geometry;
        if tail_page + 2 <= g.pages {
            return;
        }
        let desired = g.page_start(tail_page + 2 - g.pages);
        let flushed = self.flushed_until.load(Ordering::Acquire);
        let target = desired.min(g.page_start(g.page_of(flushed)));
        self.shift_head(target);
    }

    /// Moves the head to `target` (never back, never past flushed-until) and, once every
    /// thread has refreshed past the move, closes the frames below it.
    pub(crate) fn shift_head(self: &Arc<Self>, target: u64) {
        debug_assert!(target <= self.flushed_until.load(Ordering::Acquire));
        if advance(&self.head, target) < target {
            let shared = Arc::clone(self);
            self.epoch.bump_with(move || shared.on_head_shifted(target));
        }
    }

    /// The epoch action of a head shift: no thread can still read below `target` from memory.
    /// Zeroes the frames of the whole pages below it, then publishes the safe head, which lets
    /// the tail reuse those frames (rule H3).
    fn on_head_shifted(&self, target: u64) {
        let g = &self.geometry;
        let mut closed_until = lock(&self.closed_until);
        let first = g.page_of(*closed_until);
        let last = g.page_of(target); // pages before this one are entirely below the head
        for page in first..last {
            // SAFETY: rules H6, H9 — the page is below the head, every thread has refreshed
            // since the head passed it (this runs as its epoch action), its flush has completed
            // (the head never passes flushed-until), and the tail cannot take the frame before
            // the safe head, published below, passes it.
            unsafe { self.frames.zero(g.frame_of(page)) };
        }
        if last > first {
            *closed_until = g.page_start(last);
            tracing::trace!(pages = last - first, head = target, "pages evicted");
        }
        // Release (within the AcqRel of `fetch_max`): the zeroes happen before any page turn
        // that reads this safe head.
        advance(&self.safe_head, target);
    }
}

impl HybridLog {
    /// Moves the begin address to `address`: records below it are gone (rule H8). The head is
    /// pushed up to it if it was behind, and the device's segments that lie wholly below it
    /// are removed.
    ///
    /// # Errors
    /// [`LogError::InvalidRange`] when `address` is above flushed-until (only bytes already on
    /// the device can be dropped), or the device's error while removing segments.
    pub fn shift_begin(&self, address: Address) -> Result<(), LogError> {
        if self.advance_begin(address)? {
            tracing::debug!(
                begin = address.raw(),
                "begin address moved; truncating the device"
            );
            self.shared.device.truncate_until(address.raw())?;
        }
        Ok(())
    }

    /// Moves the begin address to `address` without touching the device: records below it
    /// are gone for every reader of the log (rule H8), but the device keeps their bytes until
    /// the caller truncates it ([`faster_device::Device::truncate_until`]) — for a caller whose
    /// older recovery points still need them. The head is pushed up to `address` if it was
    /// behind. Returns whether the begin address moved.
    ///
    /// # Errors
    /// [`LogError::InvalidRange`] when `address` is above flushed-until.
    pub fn advance_begin(&self, address: Address) -> Result<bool, LogError> {
        let shared = &self.shared;
        let target = address.raw();
        let flushed = shared.flushed_until.load(Ordering::Acquire);
        if target > flushed {
            return Err(LogError::InvalidRange {
                from: self.begin_address(),
                to: address,
                reason: "the begin address cannot pass flushed-until",
            });
        }
        if shared.advance_begin(target) >= target {
            return Ok(false);
        }
        if shared.head.load(Ordering::Acquire) < target {
            shared.shift_head(target);
        }
        Ok(true)
    }
}
