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

pub(crate) mod api;
pub(crate) mod future;
pub(crate) mod queue;
