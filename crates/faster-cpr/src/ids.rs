//! The numbers CPR deals in, each a type of its own: [`CheckpointToken`] (which checkpoint),
//! [`SessionId`] (which session) and [`Serial`] (which operation of a session). Each wraps a
//! `u64` and is written as that `u64`: serde sees them as transparent, and the store's own
//! formats convert where they write bytes, so no format changes with the types.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Defines a newtype over `u64` with the conversions and printing every one of them has.
macro_rules! number {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        #[repr(transparent)]
        pub struct $name(u64);

        impl $name {
            /// The value with number `raw`.
            #[inline]
            pub const fn new(raw: u64) -> Self {
                Self(raw)
            }

            /// The number.
            #[inline]
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl From<u64> for $name {
            #[inline]
            fn from(raw: u64) -> Self {
                Self(raw)
            }
        }

        impl From<$name> for u64 {
            #[inline]
            fn from(value: $name) -> Self {
                value.0
            }
        }

        /// The number, formatted as a `u64` is (width, fill and padding included).
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

number! {
    /// The number of a checkpoint: a store hands them out in increasing order, so a later
    /// checkpoint has a larger token. It names the checkpoint's directory and is what recovery
    /// is asked for to recover exactly that checkpoint.
    CheckpointToken
}

number! {
    /// The identifier of a session within its store, from 1. A session continued after
    /// recovery (or after it was dropped) keeps its identifier.
    #[derive(Default)]
    SessionId
}

number! {
    /// The serial number of an operation within its session: the first operation is 1, and
    /// [`Serial::default`] (0) stands before it. A session's commit point is a serial.
    #[derive(Default)]
    Serial
}

impl Serial {
    /// The serial number after this one.
    #[inline]
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_number_converts_both_ways_and_prints_as_its_u64() {
        let token = CheckpointToken::from(42);
        assert_eq!(u64::from(token), 42);
        assert_eq!(token.get(), 42);
        assert_eq!(format!("{token} {token:>4} {token:05}"), "42   42 00042");
        assert_eq!(format!("{token:?}"), "CheckpointToken(42)");
        assert_eq!(SessionId::new(7).to_string(), "7");
        assert_eq!(Serial::default().next(), Serial::new(1));
        assert!(Serial::new(1) < Serial::new(2));
    }

    #[test]
    fn each_number_serialises_as_the_u64_it_wraps() {
        let numbers = (
            CheckpointToken::new(300),
            SessionId::new(5),
            Serial::new(1 << 40),
        );
        let raw = (300u64, 5u64, 1u64 << 40);
        assert_eq!(
            postcard::to_allocvec(&numbers).unwrap(),
            postcard::to_allocvec(&raw).unwrap()
        );
        let back: (CheckpointToken, SessionId, Serial) =
            postcard::from_bytes(&postcard::to_allocvec(&raw).unwrap()).unwrap();
        assert_eq!(back, numbers);
    }
}
