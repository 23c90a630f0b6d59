//! Behaviour of every device through the public API: round trips, concurrency, errors,
//! crashes, completion delivery, engine selection and freeing blocks below a truncation point.

#![allow(
    clippy::unwrap_used,
    reason = "shared test code outside #[test] functions unwrap too; a failure is a test failure"
)]

mod batch;
mod common;
mod completion;
mod concurrency;
mod crash;
mod engine;
mod errors;
mod model;
mod offline_check;
mod punch;
mod round_trip;
mod segment_files;
