//! Requests that cross segment boundaries (rule D4), written once for every
//! device: [`chunks`] cuts a request at segment boundaries, [`Join`] turns the pieces'
//! completions back into the caller's one, and [`start_chunks`] does both for a device whose
//! pieces complete on their own (the file and `io_uring` devices).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::device::Completion;
use crate::error::DeviceError;
use crate::geometry::Geometry;
use crate::sync::lock;

/// One piece of a request that lies inside a single segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Segment index.
    pub(crate) segment: u64,
    /// Offset inside the segment.
    pub(crate) segment_offset: u64,
    /// Offset of this piece inside the caller's buffer.
    pub(crate) buf_offset: usize,
    /// Length of this piece.
    pub(crate) len: usize,
    /// Device offset of this piece's first byte (the request's offset + `buf_offset`).
    pub(crate) offset: u64,
}

/// The chunks of one request, in ascending order; they partition `[0, len)` of the caller's
/// buffer. An [`ExactSizeIterator`], so a device knows at once whether a request crosses a
/// boundary.
#[derive(Debug, Clone)]
pub(crate) struct Chunks {
    segment_size: u64,
    start: u64,
    pos: u64,
    end: u64,
}

/// Cuts `[offset, offset + len)` at the segment boundaries of `geometry`. `offset + len` must
/// not overflow, which [`Geometry::check`] ensures. A request of no bytes has no pieces.
pub(crate) fn chunks(geometry: &Geometry, offset: u64, len: usize) -> Chunks {
    Chunks {
        segment_size: geometry.segment_size,
        start: offset,
        pos: offset,
        end: offset + len as u64,
    }
}

impl Iterator for Chunks {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        if self.pos >= self.end {
            return None;
        }
        let segment = self.pos / self.segment_size;
        let segment_offset = self.pos % self.segment_size;
        let len = (self.segment_size - segment_offset).min(self.end - self.pos);
        let piece = Chunk {
            segment,
            segment_offset,
            buf_offset: (self.pos - self.start) as usize,
            len: len as usize,
            offset: self.pos,
        };
        self.pos += len;
        Some(piece)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = if self.pos >= self.end {
            0
        } else {
            let first = self.pos / self.segment_size;
            let last = (self.end - 1) / self.segment_size;
            (last - first + 1) as usize
        };
        (left, Some(left))
    }
}

impl ExactSizeIterator for Chunks {}

/// The completions of the pieces of one request, joined: the caller's `done` runs once, after
/// the last piece, with the first error any piece reported.
pub(crate) struct Join {
    remaining: AtomicUsize,
    /// The first error, and the caller's callback until the last piece takes it.
    state: Mutex<(Option<DeviceError>, Option<Completion>)>,
}

impl Join {
    /// A join of `pieces` completions (at least one) that calls `done` after the last.
    ///
    /// Exactly `pieces` completions must be taken with [`Join::completion`] and every one of
    /// them called: a missing one leaves `done` uncalled. So a device acquires everything
    /// that can fail before it hands the completions out.
    pub(crate) fn new(done: Completion, pieces: usize) -> Arc<Self> {
        debug_assert!(pieces > 0, "a join of no pieces would never complete");
        Arc::new(Self {
            remaining: AtomicUsize::new(pieces),
            state: Mutex::new((None, Some(done))),
        })
    }

    /// The completion of one piece.
    pub(crate) fn completion(self: &Arc<Self>) -> Completion {
        let join = Arc::clone(self);
        Box::new(move |result| join.piece_done(result))
    }

    fn piece_done(&self, result: Result<(), DeviceError>) {
        if let Err(e) = result {
            let mut state = lock(&self.state);
            if state.0.is_none() {
                state.0 = Some(e);
            }
        }
        // AcqRel: the last piece must see every other piece's error (they were stored before
        // their decrement) and, through the caller's callback, their data.
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let (error, done) = {
                let mut state = lock(&self.state);
                (state.0.take(), state.1.take())
            };
            if let Some(done) = done {
                done(error.map_or(Ok(()), Err));
            }
        }
    }
}

/// Starts the request `[offset, offset + len)` piece by piece; `done` runs once, after every
/// piece completed, with the first error (rule D4).
///
/// First `acquire` runs for every piece, in order: whatever can fail (creating a segment
/// file) fails there, before anything starts, and then its error is returned and `done` is
/// dropped uncalled (rule D1). Then `start` gets each piece, in order, with what `acquire`
/// returned for it and the piece's completion, which it must call exactly once, inline or
/// later from any thread. A request of no bytes completes inline and acquires nothing.
///
/// A request inside one segment — nearly every request — allocates nothing here: `acquire`
/// and `start` run once and the piece's completion is `done` itself. Only a request that
/// crosses a boundary keeps what it acquired in a vector and shares a [`Join`].
pub(crate) fn start_chunks<R>(
    geometry: &Geometry,
    offset: u64,
    len: usize,
    done: Completion,
    mut acquire: impl FnMut(&Chunk) -> Result<R, DeviceError>,
    mut start: impl FnMut(Chunk, R, Completion),
) -> Result<(), DeviceError> {
    let mut chunks = chunks(geometry, offset, len);
    let Some(first) = chunks.next() else {
        done(Ok(()));
        return Ok(());
    };
    if chunks.len() == 0 {
        let acquired = acquire(&first)?;
        start(first, acquired, done);
        return Ok(());
    }
    let mut acquired = Vec::with_capacity(chunks.len() + 1);
    for chunk in std::iter::once(first).chain(chunks) {
        let resource = acquire(&chunk)?;
        acquired.push((chunk, resource));
    }
    let join = Join::new(done, acquired.len());
    for (chunk, resource) in acquired {
        start(chunk, resource, join.completion());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    const SECTOR: usize = 512;
    const SEGMENT: u64 = 4096;

    fn geometry(capacity: Option<u64>) -> Geometry {
        Geometry::new(SECTOR, SEGMENT, capacity).unwrap()
    }

    /// The pieces of a request as `(segment, segment_offset, buf_offset, len)`, after checking
    /// what every cut must satisfy: the count matches, the pieces partition the request in
    /// order, and none crosses a boundary.
    fn cut(g: &Geometry, offset: u64, len: usize) -> Vec<(u64, u64, usize, usize)> {
        let iter = chunks(g, offset, len);
        let counted = iter.len();
        let all: Vec<Chunk> = iter.collect();
        assert_eq!(all.len(), counted, "the iterator's length is exact");
        let mut next = 0usize;
        for p in &all {
            assert_eq!(p.buf_offset, next, "pieces are contiguous in the buffer");
            assert_eq!(p.offset, offset + p.buf_offset as u64);
            assert_eq!(p.segment, p.offset / SEGMENT);
            assert_eq!(p.segment_offset, p.offset % SEGMENT);
            assert!(p.len > 0 && p.segment_offset + p.len as u64 <= SEGMENT);
            next += p.len;
        }
        assert_eq!(next, len, "pieces cover the request");
        all.iter()
            .map(|p| (p.segment, p.segment_offset, p.buf_offset, p.len))
            .collect()
    }

    #[test]
    fn a_request_inside_one_segment_is_one_piece() {
        let g = geometry(None);
        assert_eq!(cut(&g, 512, 1024), [(0, 512, 0, 1024)]);
        assert_eq!(cut(&g, 5 * SEGMENT + 1024, 512), [(5, 1024, 0, 512)]);
    }

    #[test]
    fn a_request_on_a_boundary_is_not_cut() {
        let g = geometry(None);
        // A whole segment, starting at one boundary and ending at the next.
        assert_eq!(cut(&g, SEGMENT, SEGMENT as usize), [(1, 0, 0, 4096)]);
        // Ending exactly at a boundary.
        assert_eq!(cut(&g, 3584, 512), [(0, 3584, 0, 512)]);
        // Starting exactly at a boundary.
        assert_eq!(cut(&g, 2 * SEGMENT, 512), [(2, 0, 0, 512)]);
    }

    #[test]
    fn a_request_crossing_one_boundary_is_two_pieces() {
        let g = geometry(None);
        assert_eq!(cut(&g, 3584, 1024), [(0, 3584, 0, 512), (1, 0, 512, 512)]);
        // Two whole segments.
        assert_eq!(cut(&g, 0, 8192), [(0, 0, 0, 4096), (1, 0, 4096, 4096)]);
    }

    #[test]
    fn a_request_crossing_several_boundaries_is_one_piece_per_segment() {
        let g = geometry(None);
        assert_eq!(
            cut(&g, 3584, 8192),
            [(0, 3584, 0, 512), (1, 0, 512, 4096), (2, 0, 4608, 3584)]
        );
        let many = cut(&g, SEGMENT - 512, 4 * SEGMENT as usize);
        assert_eq!(many.len(), 5);
        assert_eq!(many[0], (0, 3584, 0, 512));
        assert_eq!(many[4], (4, 0, 12800, 3584));
    }

    #[test]
    fn a_request_of_no_bytes_has_no_pieces_and_completes_at_once() {
        let g = geometry(None);
        assert!(cut(&g, 0, 0).is_empty());
        assert!(cut(&g, SEGMENT, 0).is_empty());
        let (tx, rx) = mpsc::channel();
        let result = start_chunks(
            &g,
            SEGMENT,
            0,
            Box::new(move |r| tx.send(r).unwrap()),
            |_| -> Result<(), DeviceError> { panic!("nothing to acquire") },
            |_, (), _| panic!("nothing to start"),
        );
        assert!(result.is_ok());
        assert!(matches!(rx.try_recv(), Ok(Ok(()))));
    }

    #[test]
    fn a_request_reaching_capacity_ends_in_the_last_segment() {
        let capacity = 4 * SEGMENT;
        let g = geometry(Some(capacity));
        let offset = capacity - 1024;
        assert!(g.check(offset, 1024, 0).is_ok());
        assert_eq!(cut(&g, offset, 1024), [(3, 3072, 0, 1024)]);
        assert!(g.check(0, capacity as usize, 0).is_ok());
        let all = cut(&g, 0, capacity as usize);
        assert_eq!(all.len(), 4);
        assert_eq!(all[3], (3, 0, 12288, 4096));
        // One sector more is refused before any cut (rule D7).
        assert!(matches!(
            g.check(offset, 1024 + SECTOR, 0),
            Err(DeviceError::OutOfSpace { .. })
        ));
    }

    #[test]
    fn a_piece_count_is_known_before_the_first_piece_is_taken() {
        let g = geometry(None);
        let mut iter = chunks(&g, 3584, 8192);
        assert_eq!(iter.len(), 3);
        iter.next();
        assert_eq!(iter.len(), 2);
        iter.next();
        iter.next();
        assert_eq!(iter.len(), 0);
        assert_eq!(iter.next(), None);
    }

    #[test]
    fn join_completes_once_after_the_last_piece_with_the_first_error() {
        let (tx, rx) = mpsc::channel();
        let join = Join::new(Box::new(move |r| tx.send(r).unwrap()), 3);
        let (a, b, c) = (join.completion(), join.completion(), join.completion());
        drop(join);
        c(Ok(()));
        a(Err(DeviceError::Closed));
        assert!(rx.try_recv().is_err());
        b(Err(DeviceError::OutOfMemory { len: 1 }));
        assert!(matches!(rx.try_recv(), Ok(Err(DeviceError::Closed))));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn one_piece_gets_the_callers_completion_itself() {
        let g = geometry(None);
        let (tx, rx) = mpsc::channel();
        let mut started = Vec::new();
        start_chunks(
            &g,
            1024,
            512,
            Box::new(move |r| tx.send(r).unwrap()),
            |p| Ok(p.segment),
            |p, segment, done| {
                started.push((p, segment));
                done(Err(DeviceError::Closed));
            },
        )
        .unwrap();
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].0.offset, 1024);
        assert!(matches!(rx.try_recv(), Ok(Err(DeviceError::Closed))));
    }

    #[test]
    fn pieces_start_in_order_and_done_waits_for_the_last() {
        let g = geometry(None);
        let (tx, rx) = mpsc::channel();
        let mut acquired = Vec::new();
        let mut held = Vec::new();
        start_chunks(
            &g,
            3584,
            8192,
            Box::new(move |r| tx.send(r).unwrap()),
            |p| {
                acquired.push(p.segment);
                Ok(p.segment * 10)
            },
            |p, resource, done| {
                assert_eq!(resource, p.segment * 10);
                held.push(done);
            },
        )
        .unwrap();
        assert_eq!(acquired, [0, 1, 2]);
        assert_eq!(held.len(), 3);
        // Completed out of order, from another thread.
        let last = held.remove(0);
        std::thread::spawn(move || {
            for done in held.into_iter().rev() {
                done(Ok(()));
            }
        })
        .join()
        .unwrap();
        assert!(rx.try_recv().is_err());
        last(Ok(()));
        assert!(matches!(rx.try_recv(), Ok(Ok(()))));
    }

    #[test]
    fn a_failed_acquisition_starts_nothing_and_drops_done_uncalled() {
        let g = geometry(None);
        let (tx, rx) = mpsc::channel::<Result<(), DeviceError>>();
        let mut asked = Vec::new();
        let result = start_chunks(
            &g,
            3584,
            8192,
            Box::new(move |r| tx.send(r).unwrap()),
            |p| {
                asked.push(p.segment);
                if p.segment == 1 {
                    Err(DeviceError::Closed)
                } else {
                    Ok(())
                }
            },
            |_, (), _| panic!("nothing starts when an acquisition fails"),
        );
        assert!(matches!(result, Err(DeviceError::Closed)));
        assert_eq!(asked, [0, 1], "acquisition stops at the first failure");
        assert!(matches!(
            rx.try_recv(),
            Err(mpsc::TryRecvError::Disconnected)
        ));
        // Inside one segment too.
        let (tx, rx) = mpsc::channel::<Result<(), DeviceError>>();
        let result = start_chunks(
            &g,
            0,
            512,
            Box::new(move |r| tx.send(r).unwrap()),
            |_| Err::<(), _>(DeviceError::Closed),
            |_, (), _| panic!("nothing starts when an acquisition fails"),
        );
        assert!(matches!(result, Err(DeviceError::Closed)));
        assert!(matches!(
            rx.try_recv(),
            Err(mpsc::TryRecvError::Disconnected)
        ));
    }
}
