//! Fan-out of one [`Completion`] over the pieces of a request that crosses segment boundaries
//! (rule D4): the caller's callback runs once, after the last piece, with the first error seen.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::device::Completion;
use crate::error::DeviceError;

/// Shared state of the pieces of one request.
struct Join {
    remaining: AtomicUsize,
    /// The first error, and the caller's callback until the last piece takes it.
    state: Mutex<(Option<DeviceError>, Option<Completion>)>,
}

impl Join {
    fn piece_done(&self, result: Result<(), DeviceError>) {
        if let Err(e) = result {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.0.is_none() {
                state.0 = Some(e);
            }
        }
        // AcqRel: the last piece must see every other piece's error (they were stored before
        // their decrement) and, through the caller's callback, their data.
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let (error, done) = {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                (state.0.take(), state.1.take())
            };
            if let Some(done) = done {
                done(error.map_or(Ok(()), Err));
            }
        }
    }
}

/// Splits `done` into `pieces` completions. With one piece, `done` itself is returned.
///
/// Every returned completion must be called (a dropped one leaves `done` uncalled), so
/// devices acquire everything that can fail before handing the pieces out.
pub(crate) fn fan_out(done: Completion, pieces: usize) -> Vec<Completion> {
    if pieces <= 1 {
        return vec![done];
    }
    let join = Arc::new(Join {
        remaining: AtomicUsize::new(pieces),
        state: Mutex::new((None, Some(done))),
    });
    (0..pieces)
        .map(|_| {
            let join = Arc::clone(&join);
            Box::new(move |r| join.piece_done(r)) as Completion
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn fan_out_completes_once_after_the_last_piece_with_the_first_error() {
        let (tx, rx) = mpsc::channel();
        let mut pieces = fan_out(Box::new(move |r| tx.send(r).unwrap()), 3);
        let c = pieces.pop().unwrap();
        let b = pieces.pop().unwrap();
        let a = pieces.pop().unwrap();
        a(Ok(()));
        b(Err(DeviceError::Closed));
        assert!(rx.try_recv().is_err());
        c(Err(DeviceError::OutOfMemory { len: 1 }));
        assert!(matches!(rx.try_recv(), Ok(Err(DeviceError::Closed))));
        assert!(rx.try_recv().is_err());
    }
}
