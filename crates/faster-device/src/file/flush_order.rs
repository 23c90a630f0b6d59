//! Ordering of flushes, so that rule D5 holds when flushes overlap.
//!
//! A flush takes the dirty marks of the segment files it will sync. If a second flush started
//! while the first is still syncing, it would find nothing dirty and could report success
//! before the first one's `fdatasync` made the data durable. So:
//!
//! - **F1 — tickets.** A flush takes a ticket and its dirty marks in one step, under this
//!   module's lock, so tickets order flushes exactly as their batches were taken.
//! - **F2 — release order.** A flush is *released* (its completion runs) only after every flush
//!   with a smaller ticket was released: when flush `n` reports success, every write whose
//!   completion ran before flush `n` started was in batch `n` or in an earlier batch, and all
//!   of those are synced.
//! - **F3 — poisoning.** Once a flush fails, every later-released flush reports
//!   [`DeviceError::Poisoned`]: the failed batch's data may never reach the disk, and Linux
//!   forgets the error after reporting it once, so a later "success" would be a lie.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

use crate::device::Completion;
use crate::error::{DeviceError, IoOp};
use crate::sync::lock;

/// Position of one flush in the release order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ticket(u64);

/// Result of syncing one batch, before ordering.
pub(crate) type SyncResult = Result<(), Arc<io::Error>>;

#[derive(Default)]
pub(crate) struct FlushOrder {
    state: Mutex<OrderState>,
}

#[derive(Default)]
struct OrderState {
    next_ticket: u64,
    next_release: u64,
    finished: BTreeMap<Ticket, (SyncResult, Completion)>,
    /// The first failure among released flushes (rule F3).
    failed: Option<Arc<io::Error>>,
}

impl FlushOrder {
    /// Takes a ticket and, in the same critical section, runs `take` (rule F1).
    pub(crate) fn begin<R>(&self, take: impl FnOnce() -> R) -> (Ticket, R) {
        let mut state = lock(&self.state);
        let ticket = Ticket(state.next_ticket);
        state.next_ticket += 1;
        (ticket, take())
    }

    /// Records the outcome of `ticket`'s batch and runs every completion that rule F2 now
    /// allows, in ticket order, outside the lock.
    pub(crate) fn finish(&self, ticket: Ticket, result: SyncResult, done: Completion) {
        let mut ready = Vec::new();
        {
            let mut state = lock(&self.state);
            state.finished.insert(ticket, (result, done));
            loop {
                let next = Ticket(state.next_release);
                let Some((result, done)) = state.finished.remove(&next) else {
                    break;
                };
                state.next_release += 1;
                let reported = match (&state.failed, result) {
                    (Some(cause), _) => Err(DeviceError::Poisoned {
                        cause: Arc::clone(cause),
                    }),
                    (None, Ok(())) => Ok(()),
                    (None, Err(source)) => {
                        state.failed = Some(Arc::clone(&source));
                        Err(DeviceError::Io {
                            op: IoOp::Flush,
                            offset: 0,
                            source,
                        })
                    }
                };
                ready.push((done, reported));
            }
        }
        for (done, result) in ready {
            done(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn later_flushes_wait_for_earlier_ones_and_inherit_their_failure() {
        let order = FlushOrder::default();
        let (tx, rx) = mpsc::channel();
        let (a, ()) = order.begin(|| ());
        let (b, ()) = order.begin(|| ());
        let (c, ()) = order.begin(|| ());
        let sender = |name: &'static str| {
            let tx = tx.clone();
            Box::new(move |r: Result<(), DeviceError>| tx.send((name, r.is_ok())).unwrap())
                as Completion
        };
        order.finish(c, Ok(()), sender("c"));
        order.finish(
            b,
            Err(Arc::new(io::Error::from_raw_os_error(5))),
            sender("b"),
        );
        assert!(
            rx.try_recv().is_err(),
            "nothing is released before the first ticket"
        );
        order.finish(a, Ok(()), sender("a"));
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(got, vec![("a", true), ("b", false), ("c", false)]);
    }
}
