//! Busy polling: while requests keep arriving, one task keeps a runtime thread awake, polling
//! the sockets without sleeping, so a request that arrives is read at once instead of after a
//! wake-up of the thread.
//!
//! Without it, a runtime thread with nothing to do sleeps in `epoll_wait`, and the client's
//! next request pays for waking it: the scheduler's wake-up in the client's send, then the
//! switch back to the server's thread. With one request in flight per client that wake-up is
//! a large share of each request's cost, on both sides of the connection.
//!
//! The poller is a task that yields in a loop. A runtime thread whose task yielded polls its
//! sockets without blocking before it runs the task again, so the loop keeps that thread
//! polling. The loop watches the count of commands processed; once it has not moved for the
//! window, the task parks and the thread sleeps as usual until a connection's next request
//! wakes the task ([`BusyPoll::activity`]). An idle server therefore uses no CPU; a busy one
//! spends a thread on polling for as long as requests come at least once per window.
//!
//! The handshake between a parking poller and a connection is the classic store-then-load
//! pair (both sides sequentially consistent): the poller marks itself parked, then looks at
//! the count once more; a connection adds to the count, then looks at the mark. One of the
//! two sees the other, so a request can never leave the poller parked behind it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

/// How many spins between two looks at the clock: reading it on every spin would cost more
/// than the poll it paces.
const SPINS_PER_CLOCK: u32 = 16;

/// The poller's state, shared with the connections.
#[derive(Debug, Default)]
pub(crate) struct BusyPoll {
    /// The poller is parked (or about to be): the next request must wake it.
    parked: AtomicBool,
    wake: Notify,
    /// Times the poller parked (read by the tests).
    parks: AtomicU64,
}

impl BusyPoll {
    /// A connection processed requests, counted in `commands` before this call.
    pub(crate) fn activity(&self) {
        if self.parked.load(Ordering::SeqCst) {
            self.parked.store(false, Ordering::SeqCst);
            self.wake.notify_one();
        }
    }

    /// Times the poller has parked so far.
    #[cfg(test)]
    pub(crate) fn parks(&self) -> u64 {
        self.parks.load(Ordering::Relaxed)
    }

    /// The poller: polls while `commands` moved within `window`, parks otherwise, and ends
    /// when `stop` turns true.
    pub(crate) async fn run(
        &self,
        commands: &AtomicU64,
        window: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut seen = commands.load(Ordering::SeqCst);
        let mut last_moved = Instant::now();
        let mut spins = 0u32;
        loop {
            if *stop.borrow() {
                return;
            }
            let now = commands.load(Ordering::SeqCst);
            if now != seen {
                seen = now;
                spins = 0;
                last_moved = Instant::now();
            }
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(SPINS_PER_CLOCK) || last_moved.elapsed() < window {
                tokio::task::yield_now().await;
                continue;
            }
            self.parked.store(true, Ordering::SeqCst);
            if commands.load(Ordering::SeqCst) != seen {
                // A request came between the last look and the mark; keep polling.
                self.parked.store(false, Ordering::SeqCst);
                continue;
            }
            self.parks.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                () = self.wake.notified() => {}
                _ = stop.changed() => return,
            }
            self.parked.store(false, Ordering::SeqCst);
            seen = commands.load(Ordering::SeqCst);
            last_moved = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The poller parks once requests stop, is woken by the next one, and parks again; it
    /// ends when told to.
    #[test]
    fn parks_when_idle_and_wakes_on_activity() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let poll = Arc::new(BusyPoll::default());
        let commands = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = watch::channel(false);
        let task = {
            let (poll, commands) = (Arc::clone(&poll), Arc::clone(&commands));
            runtime.spawn(async move {
                poll.run(&commands, Duration::from_millis(200), stopped)
                    .await;
            })
        };
        let wait_for_parks = |n: u64| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while poll.parks() < n {
                assert!(
                    Instant::now() < deadline,
                    "the poller never parked {n} times"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        wait_for_parks(1);
        // While requests keep coming, it does not park.
        let busy_until = Instant::now() + Duration::from_millis(600);
        while Instant::now() < busy_until {
            commands.fetch_add(1, Ordering::SeqCst);
            poll.activity();
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(
            poll.parks() <= 2,
            "parked {} times while busy",
            poll.parks()
        );
        let before = poll.parks();
        wait_for_parks(before + 1);
        assert!(poll.parked.load(Ordering::SeqCst));
        stop.send_replace(true);
        runtime.block_on(task).expect("the poller ends");
    }
}
