//! Locking, with this crate's one answer to poisoning.
//!
//! A lock is poisoned when a thread panics while holding it. Every lock of this crate ignores
//! poisoning, because every critical section here leaves the data it guards consistent
//! wherever it can panic: it pushes, pops, inserts or replaces whole entries (queued jobs and
//! completions, segment files, flush tickets, unflushed writes, counters), and no completion
//! or other caller code runs while a lock is held (rule D2). So what a
//! panicking thread leaves behind is still right, and the device keeps serving; refusing a
//! poisoned lock would instead turn one panic (say, in a caller's completion on an I/O
//! thread) into a failure of every later request, flush and drop.

use std::sync::{LockResult, Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, ignoring poisoning (see the module docs).
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    ignore_poison(mutex.lock())
}

/// The guard of any other lock operation (`RwLock::read`/`write`, `Condvar::wait` and its
/// variants), ignoring poisoning as [`lock`] does.
pub(crate) fn ignore_poison<G>(result: LockResult<G>) -> G {
    result.unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_lock_poisoned_by_a_panic_still_hands_out_its_data() {
        let mutex = Arc::new(Mutex::new(7));
        let holder = Arc::clone(&mutex);
        let panicked = std::thread::spawn(move || {
            let _guard = holder.lock();
            panic!("poisons the lock");
        })
        .join();
        assert!(panicked.is_err());
        assert!(mutex.is_poisoned());
        assert_eq!(*lock(&mutex), 7);
    }
}
