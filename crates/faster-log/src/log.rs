//! [`FasterLog`]: the handle, the state it shares with iterators and the committer thread,
//! and the log's addresses.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use faster_hlog::{Address, HybridLog};

use crate::commit::Commits;
use crate::error::CommitError;
use crate::handles::EpochHandles;
use crate::lock::HeldLock;
use crate::metadata::MetadataStore;
use crate::named::NamedIterators;
use crate::policy::{Background, CommitPolicy};
use crate::recovery::RecoveryInfo;
use crate::stats::{LogCounters, LogStats};

/// Validated settings the log runs with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) page_size_bits: u32,
    pub(crate) page_size: u64,
    /// The largest payload of one entry.
    pub(crate) max_payload: usize,
    pub(crate) fast_commit: bool,
    pub(crate) metadata_interval_bytes: u64,
    pub(crate) policy: CommitPolicy,
    pub(crate) commit_every_bytes: Option<u64>,
}

/// The state shared by the log's handle, its iterators and its committer thread.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) settings: Settings,
    pub(crate) hlog: HybridLog,
    pub(crate) handles: EpochHandles,
    pub(crate) metadata: MetadataStore,
    /// This life's generation (rule L6); entries carry its low 32 bits.
    pub(crate) generation: u64,
    pub(crate) header_generation: u32,
    pub(crate) commits: Commits,
    pub(crate) named: NamedIterators,
    /// The begin address asked for by `truncate_until` (rule L7).
    pub(crate) begin: AtomicU64,
    pub(crate) background: Arc<Background>,
    /// The every-N-bytes policy: the tail address that triggers the next background commit.
    pub(crate) commit_trigger: AtomicU64,
    pub(crate) recovery: RecoveryInfo,
    /// Commits and their latencies.
    pub(crate) counters: LogCounters,
    /// The lock of a log's directory. Declared last, so it is released only after the
    /// devices (and their I/O threads) are gone; see the `Drop` impl below.
    pub(crate) dir_lock: Option<HeldLock>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.dir_lock.is_none() {
            return;
        }
        // No write of this log may land after its directory is unlocked (the lock drops
        // after this body, with the fields): wait for the page writes already started, then
        // close the devices it opened, which refuse anything started later. The committer
        // thread was joined when the last `FasterLog` handle dropped; the devices' I/O
        // threads are joined when the devices drop, before the lock.
        let read_only = self.hlog.read_only_address();
        match self.hlog.wait_flushed(read_only, CLOSE_FLUSH_WAIT) {
            Ok(true) => {}
            Ok(false) => tracing::warn!("FasterLog: page writes still running at close"),
            Err(e) => tracing::debug!("FasterLog: page writes at close: {e}"),
        }
        self.hlog.device().close();
        self.metadata.close();
    }
}

/// How long dropping a log in a directory waits for page writes already started.
const CLOSE_FLUSH_WAIT: Duration = Duration::from_secs(60);

impl Inner {
    /// The logical begin address: iterators and reads skip everything below it.
    #[inline]
    pub(crate) fn begin_requested(&self) -> u64 {
        self.begin.load(Ordering::Acquire)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.commits.is_closed()
    }
}

/// A durable, concurrent, append-only log; see the crate documentation.
///
/// `FasterLog` is `Send + Sync`: share it by reference or in an `Arc`. Dropping it stops the
/// background committer; entries not committed by then are not durable. Iterators may
/// outlive it and keep reading committed entries (their waits then end). A log in a
/// directory holds the directory's lock until it and all its iterators are dropped; then the
/// directory can be opened again at once.
#[derive(Debug)]
pub struct FasterLog {
    pub(crate) inner: Arc<Inner>,
    pub(crate) committer: Option<JoinHandle<()>>,
}

impl FasterLog {
    /// Makes every entry enqueued before this call durable, with the begin address and the
    /// named iterators' positions as of this call; returns the committed-until address.
    /// Blocks for the device flush; concurrent calls share one (group commit).
    ///
    /// # Errors
    /// [`CommitError::Log`] or [`CommitError::Device`] when writing or flushing failed —
    /// the log is then poisoned, and every later commit and enqueue fails with
    /// [`CommitError::Poisoned`] or [`EnqueueError::Poisoned`](crate::EnqueueError::Poisoned)
    /// until the log is reopened.
    pub fn commit(&self) -> Result<Address, CommitError> {
        self.inner.commit_blocking()
    }

    /// Blocks until every entry below `until` is committed (`committed_until() >= until`);
    /// returns the committed-until address. Does not itself start a commit: pair it with a
    /// commit policy or another thread's commits. Pass [`FasterLog::tail_address`] to wait
    /// for everything enqueued so far, or an entry's address plus one for that entry.
    ///
    /// # Errors
    /// [`CommitError::Poisoned`] when a commit failed, [`CommitError::Closed`] when the log
    /// was dropped, before `until` was reached.
    pub fn wait_for_commit(&self, until: Address) -> Result<Address, CommitError> {
        self.inner
            .wait_until_blocking(until.raw(), None)
            .unwrap_or(Err(CommitError::Closed))
    }

    /// [`FasterLog::wait_for_commit`] with a time limit: `Ok(None)` when `timeout` passed.
    ///
    /// # Errors
    /// As [`FasterLog::wait_for_commit`].
    pub fn wait_for_commit_timeout(
        &self,
        until: Address,
        timeout: Duration,
    ) -> Result<Option<Address>, CommitError> {
        self.inner
            .wait_until_blocking(until.raw(), Some(Instant::now() + timeout))
            .transpose()
    }

    /// The begin address: entries below it are truncated.
    pub fn begin_address(&self) -> Address {
        Address::from_masked(self.inner.begin_requested())
    }

    /// The address the next entry will get (or the start of the next page).
    pub fn tail_address(&self) -> Address {
        self.inner.hlog.tail_address()
    }

    /// Every entry below this address is committed.
    pub fn committed_until(&self) -> Address {
        Address::from_masked(self.inner.commits.committed_until())
    }

    /// The sequence number of the last commit.
    pub fn commit_sequence(&self) -> u64 {
        self.inner.commits.durable().sequence
    }

    /// Bytes per page: an entry and its 16-byte header, and a whole batch, fit in one page.
    pub fn page_size(&self) -> u64 {
        self.inner.settings.page_size
    }

    /// The largest payload of one entry: the page size minus the 16-byte header.
    pub fn max_entry_size(&self) -> usize {
        self.inner.settings.max_payload
    }

    /// This life's generation number (rule L6 of the crate documentation).
    pub fn generation(&self) -> u64 {
        self.inner.generation
    }

    /// What recovery found when this log was opened.
    pub fn recovery_info(&self) -> &RecoveryInfo {
        &self.inner.recovery
    }

    /// The log's statistics since it was opened: bytes appended and committed, commits and
    /// their latencies, and its addresses. Counted by the committer once per commit round;
    /// enqueueing counts nothing.
    pub fn stats(&self) -> LogStats {
        self.inner.counters.snapshot(
            self.inner.begin_requested(),
            self.inner.hlog.tail_address().raw(),
            self.inner.commits.committed_until(),
        )
    }

    /// The failure that poisoned the log, if a commit failed.
    pub fn poisoned(&self) -> Option<Arc<CommitError>> {
        self.inner.commits.poison_cause()
    }
}

impl Drop for FasterLog {
    fn drop(&mut self) {
        self.inner.background.stop();
        if let Some(committer) = self.committer.take() {
            // A panic of the committer thread has already been reported; nothing to add.
            let _ = committer.join();
        }
        self.inner.commits.close();
    }
}
