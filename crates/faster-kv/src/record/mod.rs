//! The record format and the protocol for reading and updating records in memory (rules
//! R1–R6 of the `protocol` module; the byte diagram is in `docs/formats.md`).
//!
//! ```text
//! 0        8                16 (or 8 when both key and value have a fixed size)
//! | header | key_len value_len | key ... pad8 | value area
//!            u32     u32                        word values (fixed, <= 8 bytes): 8 bytes
//!                                               other values: seq u64, value ... pad8
//! ```

mod header;
mod in_memory;
mod layout;

pub(crate) use header::{Header, IN_NEW_VERSION, INVALID, TOMBSTONE};
pub(crate) use in_memory::{InMemory, word_of, write_new};
pub(crate) use layout::{Layout, Parse, parse, sizer};
