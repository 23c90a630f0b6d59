//! The operations, one file each: the public methods of [`Session`](crate::Session) and
//! [`Pinned`](crate::Pinned) beside the attempt they run. An attempt ([`attempt`]) runs under
//! a guard and says whether it finished, must be retried after a refresh, must move to the
//! next version first, or needs the device; the driver ([`driver`]) is the one loop that acts
//! on that, for blocking operations and for the pending API ([`crate::pending`]) alike.

pub(crate) mod attempt;
pub(crate) mod batch;
mod conditional;
mod delete;
pub(crate) mod driver;
pub(crate) mod layered;
pub(crate) mod read;
pub(crate) mod rmw;
pub(crate) mod update;
mod upsert;
