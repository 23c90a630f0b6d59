//! Compile-time contracts on auto traits: the index is shared between threads, an entry slot
//! stays on the thread (and under the guard) that found it.

use faster_index::{EntrySlot, HashIndex, IndexConfig, IndexError, IndexStats, KeyHash};

const fn assert_send_sync<T: Send + Sync>() {}

const _: () = assert_send_sync::<HashIndex>();
const _: () = assert_send_sync::<IndexConfig>();
const _: () = assert_send_sync::<IndexStats>();
const _: () = assert_send_sync::<KeyHash>();
const _: () = assert_send_sync::<IndexError>();

/// Resolves only when `T` is not `Send`: with a `Send` type both impls apply and the call
/// below is ambiguous, which fails to compile.
trait AmbiguousIfSend<A> {
    fn some_item() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
struct IsSend;
impl<T: ?Sized + Send> AmbiguousIfSend<IsSend> for T {}

/// Same for `Sync`.
trait AmbiguousIfSync<A> {
    fn some_item() {}
}
impl<T: ?Sized> AmbiguousIfSync<()> for T {}
struct IsSync;
impl<T: ?Sized + Sync> AmbiguousIfSync<IsSync> for T {}

#[test]
fn entry_slot_is_neither_send_nor_sync_and_the_index_is_both() {
    <EntrySlot<'static> as AmbiguousIfSend<_>>::some_item();
    <EntrySlot<'static> as AmbiguousIfSync<_>>::some_item();
    assert_send_sync::<HashIndex>();
}
