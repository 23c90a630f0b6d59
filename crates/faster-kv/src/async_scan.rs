//! [`AsyncScan`]: the live-record scan ([`FasterKv::scan`]) for async code.
//!
//! The scan reads the log in batches with blocking reads (sequential, mostly large), so its
//! async form runs a [`LiveScan`] on a thread of its own and hands its records over through
//! a bounded buffer: [`AsyncScan::next`] is a future that takes the next record, or parks
//! (registering its waker) until the thread has put one there. No executor thread blocks
//! and nothing polls in a loop; the reading thread waits while the buffer is full, so memory
//! stays bounded by [`ASYNC_SCAN_BUFFER`] records beside the scan's own batch.
//!
//! The consistency is [`FasterKv::scan`]'s. If the thread dies (a codec that panics), the
//! last item is [`OpErrorKind::ScanAborted`](crate::OpErrorKind::ScanAborted), never a quiet
//! end. Dropping an `AsyncScan` stops its thread at the
//! next record and waits for it, which takes at most the rest of one batch of reading; after
//! that the scan is closed (a compaction may start, and the thread holds no reference to the
//! store).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;

use crate::codec::Codec;
use crate::error::OpError;
use crate::kv::FasterKv;
use crate::scan::LiveScan;
use crate::sync::{ignore_poison, lock};

/// Records the reading thread keeps ready at most before it waits for the consumer.
pub const ASYNC_SCAN_BUFFER: usize = 4096;

type Item<K, V> = Result<(<K as Codec>::Owned, <V as Codec>::Owned), OpError>;

/// What the reading thread and the futures share.
struct Shared<K: Codec + ?Sized, V: Codec + ?Sized> {
    ready: VecDeque<Item<K, V>>,
    /// The thread put its last record (or its error) in `ready`.
    finished: bool,
    /// The `AsyncScan` was dropped: the thread stops at its next record.
    cancelled: bool,
    /// The waker of a future that found `ready` empty.
    waker: Option<Waker>,
}

struct Channel<K: Codec + ?Sized, V: Codec + ?Sized> {
    shared: Mutex<Shared<K, V>>,
    /// Signalled when the consumer takes a record or cancels: a full buffer has room.
    room: Condvar,
}

/// The live-record scan as a sequence of futures; see [`FasterKv::scan_async`].
pub struct AsyncScan<K: Codec + ?Sized, V: Codec + ?Sized> {
    channel: Arc<Channel<K, V>>,
    thread: Option<JoinHandle<()>>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> std::fmt::Debug for AsyncScan<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncScan").finish_non_exhaustive()
    }
}

impl<K, V> FasterKv<K, V>
where
    K: Codec + ?Sized + 'static,
    V: Codec + ?Sized + 'static,
    K::Owned: Send,
    V::Owned: Send,
{
    /// [`FasterKv::scan`] for async code: the scan runs on a thread of its own (named
    /// `faster-kv-scan`) and [`AsyncScan::next`] awaits its records, so no executor thread
    /// blocks. Starting it does not block either: an error in starting the scan is the first
    /// item.
    ///
    /// # Errors
    /// The operating system's error when the thread cannot be started.
    pub fn scan_async(&self) -> std::io::Result<AsyncScan<K, V>> {
        let channel = Arc::new(Channel {
            shared: Mutex::new(Shared {
                ready: VecDeque::new(),
                finished: false,
                cancelled: false,
                waker: None,
            }),
            room: Condvar::new(),
        });
        let store = Arc::clone(&self.store);
        let producer = Arc::clone(&channel);
        let thread = std::thread::Builder::new()
            .name("faster-kv-scan".to_owned())
            .spawn(move || {
                // Ends the scan for the consumer however this thread ends, panics included.
                let _finish = Finish(Arc::clone(&producer));
                match LiveScan::open(&store) {
                    Ok(scan) => {
                        for item in scan {
                            if !producer.put(item) {
                                break;
                            }
                        }
                    }
                    Err(e) => {
                        producer.put(Err(e));
                    }
                }
            })?;
        Ok(AsyncScan {
            channel,
            thread: Some(thread),
        })
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Channel<K, V> {
    /// Hands `item` to the consumer, waiting while the buffer is full; false once the scan
    /// was dropped.
    fn put(&self, item: Item<K, V>) -> bool {
        let mut shared = lock(&self.shared);
        while shared.ready.len() >= ASYNC_SCAN_BUFFER && !shared.cancelled {
            shared = ignore_poison(self.room.wait(shared));
        }
        if shared.cancelled {
            return false;
        }
        shared.ready.push_back(item);
        let waker = shared.waker.take();
        drop(shared);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// The thread is done: wakes a waiting future, which then sees the end.
    fn finish(&self) {
        let waker = {
            let mut shared = lock(&self.shared);
            shared.finished = true;
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Marks the scan finished when the reading thread ends; if it ends by a panic, the last
/// item is [`OpErrorKind::ScanAborted`](crate::OpErrorKind::ScanAborted), so that the consumer
/// does not take a cut-short scan for a whole one.
struct Finish<K: Codec + ?Sized, V: Codec + ?Sized>(Arc<Channel<K, V>>);

impl<K: Codec + ?Sized, V: Codec + ?Sized> Drop for Finish<K, V> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(&self.0.shared)
                .ready
                .push_back(Err(crate::OpErrorKind::ScanAborted.into()));
        }
        self.0.finish();
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> AsyncScan<K, V> {
    /// The next live record: `None` at the end of the scan (and after an error, which is
    /// the last item). Cancel-safe: a future dropped before it completes takes nothing.
    #[expect(
        clippy::should_implement_trait,
        reason = "an async iterator: its next is a future, as tokio's streams have it"
    )]
    pub fn next(&mut self) -> NextRecord<'_, K, V> {
        NextRecord { scan: self }
    }
}

/// The future of [`AsyncScan::next`].
#[must_use = "a future does nothing unless awaited"]
pub struct NextRecord<'a, K: Codec + ?Sized, V: Codec + ?Sized> {
    scan: &'a mut AsyncScan<K, V>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Future for NextRecord<'_, K, V> {
    type Output = Option<Item<K, V>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let channel = &self.scan.channel;
        let mut shared = lock(&channel.shared);
        if let Some(item) = shared.ready.pop_front() {
            drop(shared);
            channel.room.notify_one();
            return Poll::Ready(Some(item));
        }
        if shared.finished {
            return Poll::Ready(None);
        }
        // Registered under the lock the thread takes to put a record: it cannot be missed.
        shared.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Drop for AsyncScan<K, V> {
    fn drop(&mut self) {
        lock(&self.channel.shared).cancelled = true;
        self.channel.room.notify_all();
        if let Some(thread) = self.thread.take() {
            // The thread ends at its next record; it never panics on purpose, and a panic
            // there has already been reported by the runtime's hook.
            let _ = thread.join();
        }
    }
}
