//! Ordering of page flushes (rule H5): which writes may go to the device now, and how far the
//! contiguous prefix of completed writes reaches.
//!
//! This is plain bookkeeping behind the flusher's mutex; it issues no I/O itself, so it can be
//! tested (and model-checked) on its own.

use std::collections::{BTreeMap, VecDeque};

/// One flush request: the log bytes `[from, to)` of one page, written as the sector-aligned
/// device range `[device_from, device_to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlushRange {
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) device_from: u64,
    pub(crate) device_to: u64,
}

impl FlushRange {
    fn overlaps(&self, other: &FlushRange) -> bool {
        self.device_from < other.device_to && other.device_from < self.device_to
    }
}

/// Flush bookkeeping: in-flight writes, writes held back behind an overlapping one, and
/// completed ranges not yet contiguous with the flushed prefix.
#[derive(Debug)]
pub(crate) struct FlushOrder {
    /// Everything below this was handed to [`FlushOrder::schedule`].
    scheduled_until: u64,
    /// Completed and contiguous from the start: the log's flushed-until address.
    flushed_until: u64,
    in_flight: Vec<FlushRange>,
    held: VecDeque<FlushRange>,
    /// Completed ranges above `flushed_until`, keyed by `from`.
    completed: BTreeMap<u64, u64>,
}

impl FlushOrder {
    /// Bookkeeping for a log whose bytes below `flushed_until` are already on the device.
    pub(crate) fn new(flushed_until: u64) -> Self {
        Self {
            scheduled_until: flushed_until,
            flushed_until,
            in_flight: Vec::new(),
            held: VecDeque::new(),
            completed: BTreeMap::new(),
        }
    }

    pub(crate) fn scheduled_until(&self) -> u64 {
        self.scheduled_until
    }

    pub(crate) fn flushed_until(&self) -> u64 {
        self.flushed_until
    }

    /// Writes neither completed nor failed.
    pub(crate) fn outstanding(&self) -> usize {
        self.in_flight.len() + self.held.len()
    }

    /// Accepts `ranges` (contiguous, in address order, starting at `scheduled_until`) and
    /// returns those that may be written now. A range whose sectors overlap a write in flight,
    /// or that follows a held range, is held back until [`FlushOrder::complete`] releases it:
    /// the device then receives the writes of each sector in address order.
    pub(crate) fn schedule(&mut self, ranges: &[FlushRange]) -> Vec<FlushRange> {
        let mut ready = Vec::new();
        for range in ranges {
            debug_assert_eq!(
                range.from, self.scheduled_until,
                "flush ranges must be contiguous"
            );
            self.scheduled_until = range.to;
            let blocked = !self.held.is_empty() || self.in_flight.iter().any(|r| r.overlaps(range));
            if blocked {
                self.held.push_back(*range);
            } else {
                self.in_flight.push(*range);
                ready.push(*range);
            }
        }
        ready
    }

    /// Records that `range` was written successfully; returns the writes this releases. The
    /// flushed prefix grows over every completed range that is now contiguous with it.
    pub(crate) fn complete(&mut self, range: FlushRange) -> Vec<FlushRange> {
        self.retire(range);
        self.completed.insert(range.from, range.to);
        while let Some(to) = self.completed.remove(&self.flushed_until) {
            self.flushed_until = to;
        }
        self.release()
    }

    /// Records that `range` failed: it leaves the in-flight set without joining the flushed
    /// prefix, which therefore stops below it for good. Returns the writes this releases.
    pub(crate) fn fail(&mut self, range: FlushRange) -> Vec<FlushRange> {
        self.retire(range);
        self.release()
    }

    fn retire(&mut self, range: FlushRange) {
        if let Some(i) = self.in_flight.iter().position(|r| *r == range) {
            self.in_flight.swap_remove(i);
        } else {
            debug_assert!(
                false,
                "completion of a flush that was not in flight: {range:?}"
            );
        }
    }

    /// Moves held ranges to in-flight, in order, while the first held one overlaps nothing.
    fn release(&mut self) -> Vec<FlushRange> {
        let mut ready = Vec::new();
        while let Some(next) = self.held.front() {
            if self.in_flight.iter().any(|r| r.overlaps(next)) {
                break;
            }
            let next = *next;
            self.held.pop_front();
            self.in_flight.push(next);
            ready.push(next);
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(from: u64, to: u64, sector: u64) -> FlushRange {
        FlushRange {
            from,
            to,
            device_from: from / sector * sector,
            device_to: to.div_ceil(sector) * sector,
        }
    }

    #[test]
    fn completions_out_of_order_advance_only_the_contiguous_prefix() {
        let mut order = FlushOrder::new(0);
        let a = range(0, 4096, 512);
        let b = range(4096, 8192, 512);
        let c = range(8192, 12288, 512);
        assert_eq!(order.schedule(&[a, b, c]), vec![a, b, c]);
        order.complete(c);
        assert_eq!(order.flushed_until(), 0);
        order.complete(a);
        assert_eq!(order.flushed_until(), 4096);
        order.complete(b);
        assert_eq!(order.flushed_until(), 12288);
        assert_eq!(order.outstanding(), 0);
    }

    #[test]
    fn a_write_sharing_a_sector_waits_for_the_one_in_flight() {
        let mut order = FlushOrder::new(0);
        let first = range(0, 700, 512); // device 0..1024
        let second = range(700, 2000, 512); // device 512..2048: shares sector 512..1024
        let third = range(2000, 4096, 512); // device 1536..4096: shares with second only
        assert_eq!(order.schedule(&[first]), vec![first]);
        assert_eq!(
            order.schedule(&[second, third]),
            vec![],
            "held behind the first write"
        );
        assert_eq!(order.complete(first), vec![second]);
        assert_eq!(order.flushed_until(), 700);
        assert_eq!(order.complete(second), vec![third]);
        assert_eq!(order.complete(third), vec![]);
        assert_eq!(order.flushed_until(), 4096);
    }

    #[test]
    fn a_failed_write_stops_the_prefix_for_good() {
        let mut order = FlushOrder::new(0);
        let a = range(0, 4096, 4096);
        let b = range(4096, 8192, 4096);
        order.schedule(&[a, b]);
        order.fail(a);
        order.complete(b);
        assert_eq!(order.flushed_until(), 0);
        assert_eq!(order.outstanding(), 0);
    }
}
