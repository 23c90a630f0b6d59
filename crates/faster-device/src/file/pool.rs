//! The I/O thread pool of [`FileDevice`](crate::FileDevice): blocking `pread`/`pwrite`/
//! `fdatasync` jobs fed by one queue.
//!
//! Blocking system calls need one thread per request in flight: with 4 threads, 32 queued
//! random reads reach the disk 4 at a time. So the pool is elastic: `min_threads` threads
//! live as long as the pool; when a job is queued and no thread is idle, another thread is
//! started, up to `max_threads`; a thread beyond `min_threads` exits after
//! [`IDLE_EXIT`] without work. The trade-off: each extra thread costs a stack (virtual memory,
//! touched lazily), a `clone` when it starts, and scheduler wake-ups; a larger ceiling buys
//! queue depth from a disk that serves many requests at once (an NVMe or virtio disk serves
//! 32 reads ~8× faster than one at a time). `io_uring` gets the same depth without threads.
//!
//! Dropping the pool lets the threads finish every queued job, then joins them (except the
//! calling thread, when the last owner is dropped inside one of the pool's own jobs).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::error::{DeviceError, IoOp};
use crate::sync::{ignore_poison, lock};

/// How long a thread beyond the minimum waits for work before exiting.
pub(crate) const IDLE_EXIT: Duration = Duration::from_secs(2);

pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

pub(crate) struct IoPool {
    shared: Arc<JobQueue>,
}

/// The pool's queue of jobs with its thread accounting ([`State`]), the condition variable idle
/// threads wait on, and the pool's limits; shared by the pool and its threads.
struct JobQueue {
    state: Mutex<State>,
    work: Condvar,
    min_threads: usize,
    max_threads: usize,
    name: String,
}

struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    shutdown: bool,
    handles: Vec<JoinHandle<()>>,
}

impl IoPool {
    /// Starts `min_threads` threads (at least one); the pool may grow to `max_threads`.
    pub(crate) fn new(
        min_threads: usize,
        max_threads: usize,
        name: &str,
    ) -> Result<Self, DeviceError> {
        let min_threads = min_threads.max(1);
        let shared = Arc::new(JobQueue {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                threads: 0,
                idle: 0,
                shutdown: false,
                handles: Vec::new(),
            }),
            work: Condvar::new(),
            min_threads,
            max_threads: max_threads.max(min_threads),
            name: name.to_owned(),
        });
        let pool = Self { shared };
        {
            let mut state = lock(&pool.shared.state);
            for _ in 0..min_threads {
                JobQueue::spawn(&pool.shared, &mut state).map_err(|e| DeviceError::Io {
                    op: IoOp::Setup,
                    offset: 0,
                    source: Arc::new(e),
                })?;
            }
        }
        Ok(pool)
    }

    /// Queues a job; starts another thread if none is idle and the ceiling allows.
    pub(crate) fn submit(&self, job: Job) {
        let mut state = lock(&self.shared.state);
        state.jobs.push_back(job);
        if state.jobs.len() > state.idle && state.threads < self.shared.max_threads {
            // A failed spawn is not an error: the running threads take the job later.
            if let Err(e) = JobQueue::spawn(&self.shared, &mut state) {
                tracing::debug!("could not start another I/O thread: {e}");
            }
        }
        drop(state);
        self.shared.work.notify_one();
    }

    /// Threads alive now.
    pub(crate) fn threads(&self) -> usize {
        lock(&self.shared.state).threads
    }
}

impl JobQueue {
    fn spawn(shared: &Arc<JobQueue>, state: &mut State) -> std::io::Result<()> {
        state.handles.retain(|h| !h.is_finished());
        let worker = Arc::clone(shared);
        let handle = thread::Builder::new()
            .name(shared.name.clone())
            .spawn(move || worker.run())?;
        state.threads += 1;
        state.handles.push(handle);
        Ok(())
    }

    fn run(&self) {
        /// Counts the thread out however it ends, a panicking job included.
        struct Exit<'a>(&'a JobQueue);
        impl Drop for Exit<'_> {
            fn drop(&mut self) {
                lock(&self.0.state).threads -= 1;
            }
        }
        let _exit = Exit(self);
        let mut state = lock(&self.state);
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                job();
                state = lock(&self.state);
                continue;
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let (next, timeout) = ignore_poison(self.work.wait_timeout(state, IDLE_EXIT));
            state = next;
            state.idle -= 1;
            if timeout.timed_out()
                && state.jobs.is_empty()
                && !state.shutdown
                && state.threads > self.min_threads
            {
                break;
            }
        }
    }
}

impl Drop for IoPool {
    fn drop(&mut self) {
        let handles = {
            let mut state = lock(&self.shared.state);
            state.shutdown = true;
            std::mem::take(&mut state.handles)
        };
        self.shared.work.notify_all();
        let me = thread::current().id();
        for handle in handles {
            if handle.thread().id() != me {
                // A worker that panicked already reported it; nothing more to do here.
                let _ = handle.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    #[test]
    fn pool_grows_so_that_blocked_jobs_run_concurrently() {
        let pool = IoPool::new(2, 8, "test-io").unwrap();
        let barrier = Arc::new(Barrier::new(9));
        for _ in 0..8 {
            let barrier = Arc::clone(&barrier);
            pool.submit(Box::new(move || {
                barrier.wait();
            }));
        }
        // Only returns if all 8 jobs run at once.
        barrier.wait();
        assert!(pool.threads() >= 8);
    }

    #[test]
    fn dropping_the_pool_runs_every_queued_job() {
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let pool = IoPool::new(1, 1, "test-io").unwrap();
        for _ in 0..100 {
            let counter = Arc::clone(&counter);
            pool.submit(Box::new(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }));
        }
        drop(pool);
        assert_eq!(counter.load(std::sync::atomic::Ordering::SeqCst), 100);
    }
}
