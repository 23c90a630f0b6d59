//! [`CompletionQueue`]: completions delivered as `(token, result)` pairs to a queue the caller
//! drains — by polling, by blocking, or by awaiting a future that the completion itself wakes.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::device::Completion;
use crate::error::DeviceError;
use crate::sync::{ignore_poison, lock};

/// One finished request: the caller's token and the request's result.
pub type CompletionEvent<T> = (T, Result<(), DeviceError>);

/// A queue of finished requests.
///
/// [`CompletionQueue::completion`] makes a [`Completion`] that, when the device runs it,
/// pushes `(token, result)` and wakes one blocked [`pop_blocking`](Self::pop_blocking) caller
/// and every pending [`pop_async`](Self::pop_async) future. Clones share the queue.
///
/// The queue does not reap devices: with a device whose completions need the caller's thread
/// (none in this crate), call [`Device::poll`](crate::Device::poll) before popping.
pub struct CompletionQueue<T> {
    shared: Arc<Events<T>>,
}

/// The finished requests not yet popped and the wakers of pending futures ([`State`]), the
/// condition variable blocked poppers wait on, and the counter that names futures; shared by a
/// queue's clones and its completions.
struct Events<T> {
    state: Mutex<State<T>>,
    cond: Condvar,
    next_waiter_id: AtomicU64,
}

struct State<T> {
    events: VecDeque<CompletionEvent<T>>,
    /// Wakers of pending `pop_async` futures, keyed by future id; all are woken on a push,
    /// so a future that is dropped without popping cannot strand an event.
    wakers: Vec<(u64, Waker)>,
}

impl<T> Clone for CompletionQueue<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Default for CompletionQueue<T> {
    fn default() -> Self {
        Self {
            shared: Arc::new(Events {
                state: Mutex::new(State {
                    events: VecDeque::new(),
                    wakers: Vec::new(),
                }),
                cond: Condvar::new(),
                next_waiter_id: AtomicU64::new(0),
            }),
        }
    }
}

impl<T> fmt::Debug for CompletionQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionQueue")
            .field("len", &self.len())
            .finish()
    }
}

impl<T: Send + 'static> CompletionQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// A completion that pushes `(token, result)` onto this queue when it runs.
    pub fn completion(&self, token: T) -> Completion {
        let shared = Arc::clone(&self.shared);
        Box::new(move |result| shared.push((token, result)))
    }
}

impl<T> CompletionQueue<T> {
    /// Takes the oldest finished request, if any.
    pub fn try_pop(&self) -> Option<CompletionEvent<T>> {
        lock(&self.shared.state).events.pop_front()
    }

    /// Takes the oldest finished request, waiting up to `timeout` for one.
    pub fn pop_blocking(&self, timeout: Duration) -> Option<CompletionEvent<T>> {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = lock(&self.shared.state);
        loop {
            if let Some(event) = state.events.pop_front() {
                return Some(event);
            }
            let now = Instant::now();
            let left = match deadline {
                Some(d) if d <= now => return None,
                Some(d) => d - now,
                None => Duration::from_secs(3600),
            };
            state = ignore_poison(self.shared.cond.wait_timeout(state, left)).0;
        }
    }

    /// A future that resolves to the oldest finished request. It is woken by the completion
    /// itself (no polling loop, no runtime needed).
    pub fn pop_async(&self) -> PopFuture<'_, T> {
        PopFuture {
            queue: self,
            id: self.shared.next_waiter_id.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Number of finished requests waiting to be popped.
    pub fn len(&self) -> usize {
        lock(&self.shared.state).events.len()
    }

    /// Whether no finished request is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Events<T> {
    fn push(&self, event: CompletionEvent<T>) {
        let wakers = {
            let mut state = lock(&self.state);
            state.events.push_back(event);
            std::mem::take(&mut state.wakers)
        };
        self.cond.notify_one();
        // Woken outside the lock: a waker may run the future's executor inline.
        for (_, waker) in wakers {
            waker.wake();
        }
    }
}

/// The future of [`CompletionQueue::pop_async`].
#[must_use = "futures do nothing unless awaited"]
pub struct PopFuture<'a, T> {
    queue: &'a CompletionQueue<T>,
    id: u64,
}

impl<T> Future for PopFuture<'_, T> {
    type Output = CompletionEvent<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = lock(&self.queue.shared.state);
        if let Some(event) = state.events.pop_front() {
            state.wakers.retain(|(id, _)| *id != self.id);
            return Poll::Ready(event);
        }
        // Registering under the lock that `push` takes means a push either happened before
        // (and was seen above) or will see this waker.
        match state.wakers.iter_mut().find(|(id, _)| *id == self.id) {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => state.wakers.push((self.id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl<T> Drop for PopFuture<'_, T> {
    fn drop(&mut self) {
        lock(&self.queue.shared.state)
            .wakers
            .retain(|(id, _)| *id != self.id);
    }
}

impl<T> fmt::Debug for PopFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopFuture").field("id", &self.id).finish()
    }
}
