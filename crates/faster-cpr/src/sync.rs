//! The crate's one way to take a lock.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, ignoring poisoning. The crate's only mutex guards nothing (`()`: it orders
/// state changes against sleepers in `StateMachine::wait_change`), so a thread that panicked
/// holding it left nothing half-changed; refusing it would make every later wait and
/// notification of the checkpoint state machine panic too.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
