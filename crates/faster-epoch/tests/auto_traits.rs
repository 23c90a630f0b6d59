//! Compile-time contracts: which epoch types may cross or be shared between threads.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use faster_epoch::{Epoch, Guard, Handle};

fn is_send<T: Send>() {}
fn is_sync<T: Sync>() {}

/// `assert_not_impl!(T: Trait)` fails to compile when `T` implements `Trait`: if it did, the
/// two blanket impls below would make the method call ambiguous.
macro_rules! assert_not_impl {
    ($t:ty: $tr:path) => {
        const _: fn() = || {
            trait Ambiguous<A> {
                fn some_item() {}
            }
            impl<T: ?Sized> Ambiguous<()> for T {}
            #[allow(dead_code)]
            struct Invalid;
            impl<T: ?Sized + $tr> Ambiguous<Invalid> for T {}
            let _ = <$t as Ambiguous<_>>::some_item;
        };
    };
}

assert_not_impl!(Handle: Sync);
assert_not_impl!(Guard<'static>: Send);
assert_not_impl!(Guard<'static>: Sync);

#[test]
fn epoch_is_shared_and_handles_move() {
    is_send::<Epoch>();
    is_sync::<Epoch>();
    is_send::<Handle>();
    is_send::<faster_epoch::EpochError>();
    is_sync::<faster_epoch::EpochError>();
}
