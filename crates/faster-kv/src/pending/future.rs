//! Async operations: [`AsyncSession`], whose operations are futures over the session's
//! pending operations, woken by the device's completions.
//!
//! An operation starts when it is called, like a blocking one: it runs under the session's
//! protection until it finishes in memory (the future is then ready at its first poll, with
//! no context switch) or needs the device. Then the session keeps it as a pending operation
//! ([`super::api`]), its read is in flight, and the future registers its waker in the
//! session's completion queue ([`super::queue::IoQueue::register`]); the device's completion
//! wakes it, and its next poll digests completed reads (at most [`DIGEST_PER_POLL`]) and
//! takes its result. No thread blocks and nothing polls in a loop.
//!
//! Epoch protection is never held across a suspension point: each call and each poll
//! protects the session, works, and unprotects it before returning. Many operations may be in
//! flight on one session at once; the session is behind a mutex held only inside a call or a
//! poll.
//!
//! Dropping a future cancels nothing that already started: an operation that went to the
//! device still finishes (an RMW is still applied) when its read completes, and its result is
//! dropped. The session stays usable; the operation's serial number counts as usual.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use faster_cpr::Serial;

use super::api::{Completed, Outcome, PendingCompletion};
use crate::codec::Codec;
use crate::error::{OpError, Status};
use crate::ops::update::Rmw;
use crate::session::Session;
use crate::sync::lock;

/// Completed device reads one poll digests at most: a poll stays short (a few hundred
/// microseconds at most) however many reads completed at once, so that other tasks of the
/// same runtime thread run in between.
pub const DIGEST_PER_POLL: usize = 64;

/// A session for async code. Cheap to clone: clones share the session (and its serial
/// numbers).
///
/// An operation starts when it is called, like a blocking one, and returns an [`OpFuture`]:
/// ready at its first poll when the operation finished in memory (no context switch); else
/// the operation waits as a pending operation for its device read, and the read's completion
/// wakes the future, whose next poll finishes it. No thread blocks and nothing polls in a
/// loop. Each call and each poll protects the session, works, and unprotects it before
/// returning, so epoch protection is never held across an `.await`, and many operations may
/// be in flight on one session at once. Dropping a future cancels nothing that already
/// started: the operation finishes when its read completes (an RMW is still applied) and its
/// result is dropped; the session stays usable.
///
/// Completions need no polling of the device (every device of `faster-device` completes by
/// itself). An async write ([`AsyncSession::upsert`], [`AsyncSession::rmw`],
/// [`AsyncSession::add`], [`AsyncSession::delete`]) may wait up to 50 ms on the calling thread
/// while the log is over its compaction budget, as a blocking one does; reads never wait.
pub struct AsyncSession<K: Codec + ?Sized, V: Codec + ?Sized> {
    inner: Arc<Mutex<Inner<K, V>>>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Clone for AsyncSession<K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> std::fmt::Debug for AsyncSession<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSession").finish_non_exhaustive()
    }
}

struct Inner<K: Codec + ?Sized, V: Codec + ?Sized> {
    session: Session<K, V>,
    /// Results digested by some poll, waiting for their own future.
    results: HashMap<Serial, Result<Completed<V::Owned>, OpError>>,
    /// Operations whose futures were dropped before their result came.
    abandoned: HashSet<Serial>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Inner<K, V> {
    /// Digests completed reads, keeping each result for its future; returns whether
    /// completed reads are left.
    fn digest(&mut self) -> bool {
        let (completions, more) = self
            .session
            .pin_unthrottled()
            .complete_pending_up_to(DIGEST_PER_POLL);
        for PendingCompletion { serial, result } in completions {
            if !self.abandoned.remove(&serial) {
                self.results.insert(serial, result);
            }
        }
        more
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Session<K, V> {
    /// This session as an [`AsyncSession`].
    pub fn into_async(self) -> AsyncSession<K, V> {
        AsyncSession {
            inner: Arc::new(Mutex::new(Inner {
                session: self,
                results: HashMap::new(),
                abandoned: HashSet::new(),
            })),
        }
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> AsyncSession<K, V> {
    /// Reads `key`: its value, or `None` when absent. See [`Session::read`].
    ///
    /// # Errors
    /// As [`Session::read`], from the future.
    pub fn read(&self, key: &K) -> OpFuture<K, V, Option<V::Owned>> {
        let started = lock(&self.inner).session.pin_unthrottled().start_read(key);
        self.future(started, |value| value)
    }

    /// Applies `rmw` to `key`'s value: the value stored, or `None` when `rmw` declined to store
    /// one. See [`Session::rmw`]; `rmw` is kept until the operation finishes, so it must be
    /// `Send + 'static`.
    ///
    /// # Errors
    /// As [`Session::rmw`], from the future.
    pub fn rmw(
        &self,
        key: &K,
        rmw: impl Rmw<V> + Send + 'static,
    ) -> OpFuture<K, V, Option<V::Owned>> {
        let started = lock(&self.inner).session.start_rmw(key, rmw);
        self.future(started, |value| value)
    }

    /// Adds `delta` to the counter `key` (absent counts as 0, wrapping); the new count. See
    /// [`Session::add`].
    ///
    /// # Errors
    /// As [`Session::add`], from the future.
    pub fn add(&self, key: &K, delta: u64) -> OpFuture<K, V, u64>
    where
        V: Codec<Owned = u64>,
    {
        let started = lock(&self.inner).session.start_rmw(key, Add(delta));
        self.future(started, |value| value.unwrap_or(0))
    }

    /// Stores `value` for `key`. It never needs the device, so the future is ready at once.
    /// See [`Session::upsert`].
    ///
    /// # Errors
    /// As [`Session::upsert`], from the future.
    pub fn upsert(&self, key: &K, value: &V) -> OpFuture<K, V, ()> {
        let done = lock(&self.inner).session.upsert(key, value);
        OpFuture::ready(done)
    }

    /// Deletes `key`. It never needs the device, so the future is ready at once. See
    /// [`Session::delete`].
    ///
    /// # Errors
    /// As [`Session::delete`], from the future.
    pub fn delete(&self, key: &K) -> OpFuture<K, V, Status> {
        let done = lock(&self.inner).session.delete(key);
        OpFuture::ready(done)
    }

    /// Operations started and not finished yet (their futures may have been dropped).
    pub fn pending_count(&self) -> usize {
        lock(&self.inner).session.pending_count()
    }

    /// Waits (blocking the thread, unprotected) until every started operation has finished,
    /// keeping their results for their futures; then gives the session back if this is its
    /// last handle.
    ///
    /// # Errors
    /// The session itself (as an `AsyncSession`) while other handles to it exist.
    pub fn into_session(self) -> Result<Session<K, V>, Self> {
        {
            let mut inner = lock(&self.inner);
            let completions = inner.session.complete_pending(true);
            for PendingCompletion { serial, result } in completions {
                if !inner.abandoned.remove(&serial) {
                    inner.results.insert(serial, result);
                }
            }
        }
        match Arc::try_unwrap(self.inner) {
            Ok(mutex) => Ok(crate::sync::ignore_poison(mutex.into_inner()).session),
            Err(inner) => Err(Self { inner }),
        }
    }

    fn future<T>(
        &self,
        started: Result<Outcome<Option<V::Owned>>, OpError>,
        from: fn(Option<V::Owned>) -> T,
    ) -> OpFuture<K, V, T> {
        let state = match started {
            Ok(Outcome::Ready(value)) => State::Ready(Ok(from(value))),
            // Only a waiting future holds the session: a ready one costs no reference count.
            Ok(Outcome::Pending(serial)) => State::Waiting(serial, self.clone()),
            Err(e) => State::Ready(Err(e)),
        };
        OpFuture { state, from }
    }
}

/// The RMW of [`AsyncSession::add`].
struct Add(u64);

impl<V: Codec<Owned = u64> + ?Sized> Rmw<V> for Add {
    fn apply(&mut self, current: Option<&V>) -> Option<u64> {
        let old = match current {
            None => 0,
            // A stored counter always decodes; anything else is left as it is.
            Some(value) => value.with_bytes(V::decode).ok()?.ok()?,
        };
        Some(old.wrapping_add(self.0))
    }
}

enum State<K: Codec + ?Sized, V: Codec + ?Sized, T> {
    /// Finished when called; taken by the first poll.
    Ready(Result<T, OpError>),
    /// Waiting for the device as pending operation `serial` of the session.
    Waiting(Serial, AsyncSession<K, V>),
    /// The result was handed out.
    Done,
}

/// An operation of an [`AsyncSession`] (see there). Polling it after it returned its result
/// panics, as futures may.
#[must_use = "the operation started when called; its result is in the future"]
pub struct OpFuture<K: Codec + ?Sized, V: Codec + ?Sized, T> {
    state: State<K, V, T>,
    /// The result from the value the operation produced.
    from: fn(Option<V::Owned>) -> T,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized, T> OpFuture<K, V, T> {
    fn ready(result: Result<T, OpError>) -> Self {
        Self {
            state: State::Ready(result),
            from: |_| unreachable!("a future that was ready when called never waits"),
        }
    }
}

// The future holds no self-references; its state moves freely.
impl<K: Codec + ?Sized, V: Codec + ?Sized, T> Unpin for OpFuture<K, V, T> {}

impl<K: Codec + ?Sized, V: Codec + ?Sized, T> Future for OpFuture<K, V, T> {
    type Output = Result<T, OpError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (serial, session) = match std::mem::replace(&mut self.state, State::Done) {
            State::Ready(result) => return Poll::Ready(result),
            State::Waiting(serial, session) => (serial, session),
            State::Done => panic!("an OpFuture was polled after it returned its result"),
        };
        let from = self.from;
        let mut inner = lock(&session.inner);
        // Registered before the queue is looked at: a read completing in between wakes us.
        let queue = Arc::clone(&inner.session.state.pending.queue);
        queue.register(serial, cx.waker());
        let more = if inner.results.contains_key(&serial) {
            false
        } else {
            inner.digest()
        };
        if let Some(result) = inner.results.remove(&serial) {
            queue.unregister(serial);
            return Poll::Ready(result.map(|completed| match completed {
                Completed::Read(value) | Completed::Rmw(value) => from(value),
            }));
        }
        drop(inner);
        if more {
            // Our read may be among those left for the next poll.
            cx.waker().wake_by_ref();
        }
        self.state = State::Waiting(serial, session);
        Poll::Pending
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized, T> Drop for OpFuture<K, V, T> {
    fn drop(&mut self) {
        if let State::Waiting(serial, session) = &self.state {
            let serial = *serial;
            let mut inner = lock(&session.inner);
            inner.session.state.pending.queue.unregister(serial);
            if inner.results.remove(&serial).is_none() {
                inner.abandoned.insert(serial);
            }
        }
    }
}
