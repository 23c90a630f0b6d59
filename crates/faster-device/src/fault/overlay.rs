//! The overlay of a [`FaultDevice`](crate::FaultDevice): writes that completed but are not
//! yet covered by a completed flush, kept in submission order. Reads see them on top of the
//! inner device; a flush applies them to the inner device; a crash decides which survive.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::aligned_buf::AlignedBuf;
use crate::sync::lock;

/// One completed, unflushed write.
pub(crate) struct PendingWrite {
    pub(crate) seq: u64,
    pub(crate) offset: u64,
    pub(crate) data: AlignedBuf,
}

impl PendingWrite {
    fn end(&self) -> u64 {
        self.offset + self.data.len() as u64
    }

    fn overlaps(&self, offset: u64, len: usize) -> bool {
        self.offset < offset + len as u64 && offset < self.end()
    }
}

#[derive(Default)]
pub(crate) struct Overlay {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next_seq: u64,
    writes: VecDeque<Arc<PendingWrite>>,
}

impl Overlay {
    /// Records a completed write.
    pub(crate) fn push(&self, offset: u64, data: AlignedBuf) {
        let mut state = lock(&self.state);
        let seq = state.next_seq;
        state.next_seq += 1;
        state
            .writes
            .push_back(Arc::new(PendingWrite { seq, offset, data }));
    }

    /// Unflushed writes overlapping `[offset, offset + len)`, oldest first.
    pub(crate) fn overlapping(&self, offset: u64, len: usize) -> Vec<Arc<PendingWrite>> {
        lock(&self.state)
            .writes
            .iter()
            .filter(|w| w.overlaps(offset, len))
            .cloned()
            .collect()
    }

    /// Every unflushed write, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<Arc<PendingWrite>> {
        lock(&self.state).writes.iter().cloned().collect()
    }

    /// Forgets the writes up to and including `seq` (they were applied and flushed).
    pub(crate) fn remove_through(&self, seq: u64) {
        let mut state = lock(&self.state);
        while state.writes.front().is_some_and(|w| w.seq <= seq) {
            state.writes.pop_front();
        }
    }

    /// Takes every unflushed write, oldest first.
    pub(crate) fn take_all(&self) -> Vec<Arc<PendingWrite>> {
        lock(&self.state).writes.drain(..).collect()
    }

    /// Drops the parts of unflushed writes that lie below `begin` (truncated); `begin` is a
    /// multiple of the sector size, so the parts kept stay aligned.
    pub(crate) fn trim_below(&self, begin: u64) {
        let mut state = lock(&self.state);
        let writes = std::mem::take(&mut state.writes);
        for write in writes {
            if write.end() <= begin {
                continue;
            }
            if write.offset >= begin {
                state.writes.push_back(write);
                continue;
            }
            let cut = (begin - write.offset) as usize;
            let data = AlignedBuf::copy_from(&write.data[cut..]);
            state.writes.push_back(Arc::new(PendingWrite {
                seq: write.seq,
                offset: begin,
                data,
            }));
        }
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.state).writes.len()
    }
}

/// Copies, oldest first, the parts of `writes` that overlap the range `dst` holds, which
/// starts at device offset `offset`.
pub(crate) fn apply(writes: &[Arc<PendingWrite>], offset: u64, dst: &mut [u8]) {
    let end = offset + dst.len() as u64;
    for write in writes {
        let from = write.offset.max(offset);
        let to = write.end().min(end);
        if from >= to {
            continue;
        }
        let src = &write.data[(from - write.offset) as usize..(to - write.offset) as usize];
        dst[(from - offset) as usize..(to - offset) as usize].copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_writes_win_where_they_overlap_and_trimming_keeps_the_tail() {
        let overlay = Overlay::default();
        overlay.push(0, AlignedBuf::copy_from(&[1; 8]));
        overlay.push(4, AlignedBuf::copy_from(&[2; 8]));
        let mut dst = [0u8; 16];
        apply(&overlay.overlapping(0, 16), 0, &mut dst);
        assert_eq!(dst, [1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0]);
        let mut mid = [9u8; 4];
        apply(&overlay.overlapping(2, 4), 2, &mut mid);
        assert_eq!(mid, [1, 1, 2, 2]);
        // Both writes reach past 6: the first keeps its tail [6, 8).
        overlay.trim_below(6);
        assert_eq!(overlay.len(), 2);
        let mut dst = [0u8; 16];
        apply(&overlay.snapshot(), 0, &mut dst);
        assert_eq!(dst, [0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0]);
        overlay.remove_through(1);
        assert_eq!(overlay.len(), 0);
    }
}
