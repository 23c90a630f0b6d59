//! A store's life between opening and closing: what opening did ([`Opened`]), the checkpoints
//! the store takes by itself ([`FasterKvBuilder::checkpoint_every`],
//! [`FasterKvBuilder::checkpoint_every_bytes`]), and closing
//! ([`FasterKvBuilder::checkpoint_on_close`]).
//!
//! The user's handles ([`FasterKv`] and its clones) share one [`Owner`]. When the last handle
//! goes (or [`FasterKv::close`] is called), the owner stops the background checkpoints, waits
//! for a running checkpoint, takes the closing checkpoint if one was asked for, and joins every
//! thread the store started, so that a store reopened right after its last handle and session
//! are dropped finds the directory unlocked.
//!
//! [`FasterKvBuilder::checkpoint_every`]: crate::FasterKvBuilder::checkpoint_every
//! [`FasterKvBuilder::checkpoint_every_bytes`]: crate::FasterKvBuilder::checkpoint_every_bytes
//! [`FasterKvBuilder::checkpoint_on_close`]: crate::FasterKvBuilder::checkpoint_on_close

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::checkpoint::error::CheckpointError;
use crate::checkpoint::options::CheckpointOptions;
use crate::checkpoint::run::{CheckpointHandle, CheckpointInfo};
use crate::codec::Codec;
use crate::config::CheckpointPolicy;
use crate::maintenance;
use crate::opened::Opened;
use crate::store::Store;
use crate::sync::{ignore_poison, lock};

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Tells the policy threads to stop.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    /// Sleeps up to `timeout`; returns whether a stop was asked for.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        let stopped = lock(&self.stopped);
        if *stopped {
            return true;
        }
        let (stopped, _) = ignore_poison(self.wake.wait_timeout(stopped, timeout));
        *stopped
    }

    fn stop(&self) {
        *lock(&self.stopped) = true;
        self.wake.notify_all();
    }
}

/// What the user's handles of one store share.
pub(crate) struct Owner<K: Codec + ?Sized, V: Codec + ?Sized> {
    store: Arc<Store<K, V>>,
    opened: Opened,
    stop: Arc<Stop>,
    policy: Mutex<Option<JoinHandle<()>>>,
    maintenance: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Owner<K, V> {
    /// The owner of `store`, with its background checkpoints started.
    pub(crate) fn start(store: &Arc<Store<K, V>>, opened: Opened) -> Self {
        let stop = Arc::new(Stop::default());
        let policy = store.settings.policy;
        let thread = (policy.is_background() && store.cpr.dir.is_some())
            .then(|| {
                let weak = Arc::downgrade(store);
                let stop = Arc::clone(&stop);
                std::thread::Builder::new()
                    .name("faster-kv-checkpointer".into())
                    .spawn(move || run_policy(&weak, &stop, policy))
                    .ok()
            })
            .flatten();
        let maintenance = maintenance::needed(store)
            .then(|| {
                let weak = Arc::downgrade(store);
                let stop = Arc::clone(&stop);
                std::thread::Builder::new()
                    .name("faster-kv-maintenance".into())
                    .spawn(move || maintenance::run(&weak, &stop))
                    .ok()
            })
            .flatten();
        Self {
            store: Arc::clone(store),
            opened,
            stop,
            policy: Mutex::new(thread),
            maintenance: Mutex::new(maintenance),
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn opened(&self) -> Opened {
        self.opened.clone()
    }

    /// Stops the background checkpoints, waits for a running checkpoint, takes the closing
    /// one if asked for, and joins the store's checkpoint threads. Runs once.
    pub(crate) fn close(&self) -> Result<Option<CheckpointInfo>, Arc<CheckpointError>> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(None);
        }
        self.stop.stop();
        if let Some(thread) = lock(&self.policy).take() {
            let _ = thread.join();
        }
        if let Some(thread) = lock(&self.maintenance).take() {
            let _ = thread.join();
        }
        if let Some(run) = self.store.cpr.current_run() {
            let _ = CheckpointHandle { run }.wait();
        }
        let policy = self.store.settings.policy;
        let outcome = if policy.on_close && self.store.cpr.dir.is_some() {
            match self.store.start_checkpoint(policy.options) {
                Ok(run) => CheckpointHandle { run }.wait().map(Some),
                Err(e) => Err(Arc::new(e)),
            }
        } else {
            Ok(None)
        };
        self.store.cpr_join_workers();
        outcome
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Drop for Owner<K, V> {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!("faster-kv: the closing checkpoint failed: {e}");
        }
    }
}

/// The background checkpoints: one every `policy.every` (from the end of the previous one),
/// or once `policy.after_bytes` of log were written since the last, or once compaction moved
/// the begin address more than its policy's `checkpoint_after` past the newest checkpoint's,
/// whichever comes first.
fn run_policy<K: Codec + ?Sized, V: Codec + ?Sized>(
    store: &Weak<Store<K, V>>,
    stop: &Stop,
    policy: CheckpointPolicy,
) {
    const BYTES_POLL: Duration = Duration::from_millis(10);
    let mut since = Instant::now();
    let (mut tail_then, after_compaction) = match store.upgrade() {
        Some(s) => (
            s.log.tail_address().raw(),
            s.settings.compaction.and_then(|c| c.checkpoint_after),
        ),
        None => return,
    };
    let mut failed: Option<Instant> = None;
    loop {
        let mut nap = policy
            .every
            .map_or(Duration::MAX, |every| every.saturating_sub(since.elapsed()));
        if policy.after_bytes.is_some() || after_compaction.is_some() {
            nap = nap.min(BYTES_POLL);
        }
        // At least a millisecond: a checkpoint that is due but cannot start yet (the caller's
        // is running) is tried again without spinning.
        nap = nap.max(Duration::from_millis(1));
        if stop.wait(nap) {
            return;
        }
        let Some(store) = store.upgrade() else { return };
        let tail = store.log.tail_address().raw();
        let due = policy.every.is_some_and(|every| since.elapsed() >= every)
            || policy
                .after_bytes
                .is_some_and(|bytes| tail.saturating_sub(tail_then) >= bytes);
        // After a failure, compaction's checkpoints wait for the interval's next one, or a
        // second, rather than fail again every poll.
        let for_compaction = !due
            && failed.is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
            && after_compaction.is_some_and(|bytes| store.begin_moved_since_checkpoint() > bytes);
        if !due && !for_compaction {
            continue;
        }
        let options = if for_compaction {
            // Only the log is needed to free the space; the index snapshot is reused.
            CheckpointOptions {
                index: false,
                ..policy.options
            }
        } else {
            policy.options
        };
        match store.start_checkpoint(options) {
            Ok(run) => {
                match (CheckpointHandle { run }).wait() {
                    Ok(_) => failed = None,
                    Err(e) => {
                        tracing::warn!("faster-kv: a background checkpoint failed: {e}");
                        failed = Some(Instant::now());
                    }
                }
                tail_then = tail;
                if !for_compaction {
                    since = Instant::now();
                }
            }
            // Another checkpoint (the caller's) is running: try again shortly.
            Err(CheckpointError::Busy) => {
                if stop.wait(BYTES_POLL) {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!("faster-kv: a background checkpoint could not start: {e}");
                since = Instant::now();
                failed = Some(Instant::now());
            }
        }
    }
}
