//! Operations waiting for the device: the advanced API.
//!
//! [`Pinned::start_read`](crate::Pinned::start_read) and
//! [`Pinned::start_rmw`](crate::Pinned::start_rmw) return [`Outcome::Pending`](api::Outcome)
//! when the key's record may be on the device; the session then owns the operation, its
//! device reads are in flight (many per session at once), and
//! [`Pinned::complete_pending`](crate::Pinned::complete_pending) finishes whatever has
//! completed, in order of completion. Completions are pushed by the device's completion
//! callbacks into the session's queue ([`queue`]); nothing is shared with other sessions.
//! [`AsyncSession`](crate::AsyncSession) turns them into futures woken by those callbacks
//! ([`future`]).
//!
//! The device reads of pending operations go out in batches (faster-device's rule D12): on
//! the io_uring engine they are queued in the ring without a system call, and the session
//! sends them with one `io_uring_enter` at its next `complete_pending` (which does so before
//! it looks for completions or waits), when its [`Pinned`](crate::Pinned) drops (so a
//! `Session::start_read` sends its own read before it returns), or at the 32nd unsent read.
//! A loop that starts many operations on one `Pinned` and then completes them pays one
//! system call for all of them.

pub(crate) mod api;
pub(crate) mod future;
pub(crate) mod queue;
