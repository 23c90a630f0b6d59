//! Commit policies and the background committer thread that carries out the automatic ones
//! and the async commits.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::log::Inner;
use crate::sync::{ignore_poison, lock};

/// When the log commits by itself. Whatever the policy, [`FasterLog::commit`] commits at
/// once, and concurrent commits are always grouped: one device flush serves every commit
/// request that arrived before the round started.
///
/// [`FasterLog::commit`]: crate::FasterLog::commit
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CommitPolicy {
    /// Only explicit commits ([`FasterLog::commit`](crate::FasterLog::commit),
    /// [`FasterLog::commit_async`](crate::FasterLog::commit_async)).
    #[default]
    Explicit,
    /// A background commit each time the tail crosses a multiple of this many bytes. Valid:
    /// at least 1.
    EveryBytes(u64),
    /// A background commit this often, when something changed since the last one. Valid:
    /// at least 1 ms.
    EveryInterval(Duration),
}

/// What the background committer is asked to do.
#[derive(Debug, Default)]
struct Requests {
    commit: bool,
    stop: bool,
}

/// The signal between the log and its background committer thread.
#[derive(Debug, Default)]
pub(crate) struct Background {
    requests: Mutex<Requests>,
    wake: Condvar,
}

impl Background {
    /// Asks the committer thread for a commit round.
    pub(crate) fn wake(&self) {
        lock(&self.requests).commit = true;
        self.wake.notify_one();
    }

    /// Asks the committer thread to exit.
    pub(crate) fn stop(&self) {
        lock(&self.requests).stop = true;
        self.wake.notify_one();
    }

    /// Waits for a request or for `deadline`; returns false when asked to stop.
    fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut requests = lock(&self.requests);
        loop {
            if requests.stop {
                return false;
            }
            if requests.commit {
                requests.commit = false;
                return true;
            }
            match deadline {
                None => {
                    requests = ignore_poison(self.wake.wait(requests));
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return true;
                    }
                    requests = ignore_poison(self.wake.wait_timeout(requests, deadline - now)).0;
                }
            }
        }
    }
}

/// Starts the committer thread of `inner` and returns once it holds its epoch slot (the one
/// the table keeps for it). It holds the log weakly between rounds, so a log whose handle is
/// gone is not kept alive by it; [`FasterLog`](crate::FasterLog)'s drop stops and joins it.
pub(crate) fn spawn_committer(inner: &Arc<Inner>) -> std::io::Result<JoinHandle<()>> {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let (registered_tx, registered_rx) = std::sync::mpsc::sync_channel(1);
    let interval = match inner.settings.policy {
        CommitPolicy::EveryInterval(every) => Some(every),
        _ => None,
    };
    std::thread::Builder::new()
        .name("faster-log-commit".into())
        .spawn(move || {
            if let Some(inner) = weak.upgrade() {
                // Registers this thread's handle, which then lives as long as the thread.
                let _ = registered_tx.send(inner.handles.protected(|_| ()));
            }
            drop(registered_tx);
            let mut deadline = interval.map(|every| Instant::now() + every);
            loop {
                let background = match weak.upgrade() {
                    Some(inner) => Arc::clone(&inner.background),
                    None => return,
                };
                if !background.wait(deadline) {
                    return;
                }
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                if let Some(every) = interval {
                    deadline = Some(Instant::now() + every);
                }
                if inner.commits.finished() {
                    continue;
                }
                let ticket = inner.commits.request();
                // A failure poisons the log and reaches every waiter; nothing more to do here.
                let _ = inner.drive(ticket);
            }
        })
        .and_then(|thread| {
            let failure = match registered_rx.recv() {
                Ok(Ok(())) => return Ok(thread),
                Ok(Err(e)) => std::io::Error::other(e),
                Err(_) => std::io::Error::other("the committer thread exited at start"),
            };
            inner.background.stop();
            // It exits at once: the stop was asked for before it waits.
            let _ = thread.join();
            Err(failure)
        })
}
