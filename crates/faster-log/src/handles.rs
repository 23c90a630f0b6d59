//! Epoch protection for any thread, with no per-thread object to create first (rule L1).
//!
//! A thread needs a slot of the log's epoch to enqueue or to read a page frame. Each thread
//! keeps, in a thread-local list, one [`Handle`] per log it has used; the handle is found by
//! the log's id, registered on first use, and dropped — freeing its slot — when the thread
//! exits. A log that is dropped leaves a dead entry behind in the threads that used it; the
//! entry holds the dead log's epoch table (memory, not a slot of any live log) and is purged
//! the next time that thread registers with any log, or when it exits.
//!
//! Protection is taken for one short step at a time (one allocation and copy, one header
//! read) and never held while blocking: a flush starts only once every protected thread has
//! refreshed, so a thread that waited while protected could wait for itself.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use faster_epoch::{Epoch, EpochError, Guard, Handle};

/// One thread's handle for one log.
struct Cached {
    log_id: u64,
    alive: Weak<()>,
    handle: Handle,
}

thread_local! {
    static CACHE: RefCell<Vec<Cached>> = const { RefCell::new(Vec::new()) };
}

/// The epoch of one log, with per-thread handles.
#[derive(Debug)]
pub(crate) struct EpochHandles {
    log_id: u64,
    epoch: Arc<Epoch>,
    /// Dropped with the log: threads then purge their handle for it.
    alive: Arc<()>,
}

impl EpochHandles {
    pub(crate) fn new(epoch: Arc<Epoch>) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            log_id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            epoch,
            alive: Arc::new(()),
        }
    }

    pub(crate) fn epoch(&self) -> &Arc<Epoch> {
        &self.epoch
    }

    /// Runs `f` while the calling thread is protected, and unprotects before returning.
    ///
    /// Uses the thread's cached handle; when the thread-local list is unavailable (the thread
    /// is exiting, or this is a nested call from inside `f`), a handle registered for this
    /// call alone.
    ///
    /// # Errors
    /// [`EpochError::TableFull`] when the thread has no handle yet and every slot is taken.
    pub(crate) fn protected<R>(&self, f: impl FnOnce(&Guard<'_>) -> R) -> Result<R, EpochError> {
        let mut f = Some(f);
        let cached = CACHE.try_with(|cell| {
            let Ok(mut cache) = cell.try_borrow_mut() else {
                return None;
            };
            let index = match cache.iter().position(|c| c.log_id == self.log_id) {
                Some(index) => index,
                None => {
                    cache.retain(|c| c.alive.strong_count() > 0);
                    let handle = match self.epoch.register() {
                        Ok(handle) => handle,
                        Err(e) => return Some(Err(e)),
                    };
                    cache.push(Cached {
                        log_id: self.log_id,
                        alive: Arc::downgrade(&self.alive),
                        handle,
                    });
                    cache.len() - 1
                }
            };
            let guard = cache[index].handle.protect();
            f.take().map(|f| Ok(f(&guard)))
        });
        if let Ok(Some(result)) = cached {
            return result;
        }
        match f.take() {
            Some(f) => {
                let handle = self.epoch.register()?;
                let guard = handle.protect();
                Ok(f(&guard))
            }
            // `f` ran above and its result was returned; this arm cannot be reached, but a
            // table-full error is a safe answer if it ever were.
            None => Err(EpochError::TableFull {
                capacity: self.epoch.capacity(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_reuses_its_slot_and_frees_it_on_exit() {
        let handles = Arc::new(EpochHandles::new(Epoch::with_capacity(2).unwrap()));
        handles.protected(|_| ()).unwrap();
        handles.protected(|_| ()).unwrap();
        assert_eq!(handles.epoch().registered(), 1);
        for _ in 0..10 {
            let h = Arc::clone(&handles);
            std::thread::spawn(move || h.protected(|_| ()).unwrap())
                .join()
                .unwrap();
        }
        assert_eq!(
            handles.epoch().registered(),
            1,
            "exited threads free their slot"
        );
    }

    #[test]
    fn a_dropped_log_is_purged_from_the_thread() {
        let first = EpochHandles::new(Epoch::new());
        first.protected(|_| ()).unwrap();
        let weak_epoch = Arc::downgrade(first.epoch());
        drop(first);
        let second = EpochHandles::new(Epoch::new());
        second.protected(|_| ()).unwrap();
        assert!(
            weak_epoch.upgrade().is_none(),
            "the dead log's handle was purged"
        );
    }

    #[test]
    fn a_nested_call_uses_a_temporary_handle() {
        let handles = EpochHandles::new(Epoch::new());
        let inner = handles
            .protected(|_| handles.protected(|g| g.handle().slot_index()).unwrap())
            .unwrap();
        let outer = handles.protected(|g| g.handle().slot_index()).unwrap();
        assert_ne!(inner, outer);
        assert_eq!(handles.epoch().registered(), 1);
    }
}
