//! [`FasterKv`]: the handle users hold — opening a store, starting sessions, statistics.

use std::path::Path;
use std::sync::Arc;

use faster_cpr::{Serial, SessionId};
use faster_hlog::Regions;

use crate::checkpoint::error::CheckpointError;
use crate::checkpoint::run::CheckpointInfo;
use crate::checkpoint::sessions::StartRefused;
use crate::codec::Codec;
use crate::config::FasterKvBuilder;
use crate::error::{OpenError, SessionError};
use crate::lifecycle::Owner;
use crate::opened::Opened;
use crate::session::Session;
use crate::stats::Stats;
use crate::store::Store;

/// A concurrent key-value store whose data may be far larger than memory.
///
/// Records live in a hybrid log ([`faster_hlog`]): the newest pages in memory, where 8-byte
/// values are updated in place atomically, the rest on a device. A hash index
/// ([`faster_index`]) finds a key's newest record. Threads work through [`Session`]s.
///
/// `K` and `V` are [`Codec`]s: plain-old-data (`u64`, `[u8; N]`, `#[derive(Pod)]`), `[u8]`,
/// `str`, or a serde type in [`Serde<T>`](crate::Serde) or [`Cbor<T>`](crate::Cbor). Cloning
/// is cheap and shares the store. When the last clone is dropped (or [`FasterKv::close`] is
/// called), the store stops its background checkpoints, waits for a running checkpoint, and
/// takes the closing checkpoint if [`FasterKvBuilder::checkpoint_on_close`] asked for one;
/// its directory stays locked until its last session is dropped too.
///
/// ```
/// use faster_kv::FasterKv;
///
/// let store: FasterKv<u64, u64> = FasterKv::builder().in_memory().open()?;
/// let mut session = store.session()?;
/// session.upsert(&1, &10)?;
/// assert_eq!(session.read(&1)?, Some(10));
/// assert_eq!(session.add(&1, 5)?, 15);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FasterKv<K: Codec + ?Sized, V: Codec + ?Sized> {
    pub(crate) store: Arc<Store<K, V>>,
    pub(crate) owner: Arc<Owner<K, V>>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Clone for FasterKv<K, V> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            owner: Arc::clone(&self.owner),
        }
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> std::fmt::Debug for FasterKv<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FasterKv")
            .field("regions", &self.store.log.regions())
            .finish_non_exhaustive()
    }
}

impl FasterKv<(), ()> {
    /// Settings for a new store, starting from the defaults.
    pub fn builder() -> FasterKvBuilder {
        FasterKvBuilder::default()
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> FasterKv<K, V> {
    /// The handle of a store that opening it built; starts its background checkpoints.
    pub(crate) fn from_store(store: Arc<Store<K, V>>, opened: Opened) -> Self {
        // What a compaction before the last close or crash left for its next checkpoint to
        // delete (rule R14).
        if let Err(e) = store.reclaim() {
            tracing::warn!("faster-kv: deleting the log below its begin address: {e}");
        }
        let owner = Arc::new(Owner::start(&store, opened));
        Self { store, owner }
    }

    /// Opens the store in `dir` with the default settings (see [`FasterKvBuilder::open`]):
    /// recovers its newest valid checkpoint if `dir` holds a store, creates one if `dir` is
    /// empty or missing. Data beyond the memory budget (256 MiB) goes to `dir`.
    ///
    /// # Errors
    /// As [`FasterKvBuilder::open`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, OpenError> {
        FasterKvBuilder::default().dir(dir.as_ref()).open()
    }

    /// What opening the store did: created it, found nothing durable to recover, or
    /// recovered a checkpoint (with its token and every session's recovered serial number).
    pub fn opened(&self) -> Opened {
        self.owner.opened()
    }

    /// Starts a session: a thread's context for operations. A session is `Send` (it may move
    /// between threads) but not shared; start one per thread.
    ///
    /// # Errors
    /// [`SessionError::TooMany`] when the store already has
    /// [`max_sessions`](FasterKvBuilder::max_sessions) live sessions.
    pub fn session(&self) -> Result<Session<K, V>, SessionError> {
        self.start_session(None).map(|(session, _)| session)
    }

    /// Continues session `id` after recovery (or after it was dropped): the returned session
    /// has the same identifier and continues from its recovered serial number, which is also
    /// returned. Operations after that serial number were not recovered; replay them.
    ///
    /// # Errors
    /// [`SessionError::Unknown`] when no ended or recovered session has this identifier (or it
    /// is live), [`SessionError::TooMany`] when `max_sessions` sessions are live.
    pub fn continue_session(&self, id: SessionId) -> Result<(Session<K, V>, Serial), SessionError> {
        self.start_session(Some(id))
    }

    fn start_session(
        &self,
        id: Option<SessionId>,
    ) -> Result<(Session<K, V>, Serial), SessionError> {
        let store = &self.store;
        // The epoch slot first: if the table refused after registering, nothing would end the
        // registration.
        let handle = store.epoch.register()?;
        let shared = store
            .cpr
            .sessions
            .start(id, || store.cpr.machine.state().version)
            .map_err(|refused| match refused {
                StartRefused::Full => SessionError::TooMany {
                    max_sessions: store.cpr.sessions.max_live(),
                },
                StartRefused::Unknown => SessionError::Unknown {
                    id: id.unwrap_or_default(),
                },
            })?;
        let serial = shared.start().1;
        Ok((Session::new(Arc::clone(store), handle, shared), serial))
    }

    /// Operation counters summed over every session, live or ended, with the log's regions
    /// and the index's fill. The counters cost nothing to keep (each session counts in its own
    /// cache line); this call sums them and scans the index table, so it is not for hot loops.
    pub fn stats(&self) -> Stats {
        let mut stats = self.store.stats.total();
        stats.regions = Some(self.store.log.regions());
        stats.compaction = self.store.gate.stats();
        stats.checkpoints = crate::stats::CheckpointStats {
            completed: self
                .store
                .cpr
                .completed
                .load(std::sync::atomic::Ordering::Relaxed),
            failed: self
                .store
                .cpr
                .failed
                .load(std::sync::atomic::Ordering::Relaxed),
        };
        stats.read_cache = self.store.read_cache.as_ref().map(|cache| cache.stats());
        if let Ok(handle) = self.store.epoch.register() {
            let guard = handle.protect();
            stats.index = Some(self.store.index.stats(&guard));
        }
        stats
    }

    /// The memory the log and the index hold, beside the log budget asked for.
    pub fn memory(&self) -> crate::MemoryUse {
        let index_bytes = self.store.epoch.register().map_or(0, |handle| {
            self.store.index.stats(&handle.protect()).memory_bytes
        });
        crate::MemoryUse {
            log_budget: self.store.settings.memory_bytes,
            log_bytes: self.store.log.config().memory_bytes(),
            index_bytes,
            read_cache_bytes: self
                .store
                .read_cache
                .as_ref()
                .map_or(0, |cache| cache.stats().bytes),
        }
    }

    /// The hybrid log's region addresses.
    pub fn regions(&self) -> Regions {
        self.store.log.regions()
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> FasterKv<K, V> {
    /// Closes the store for every handle: stops its background checkpoints, waits for a
    /// running checkpoint, and takes the closing checkpoint if
    /// [`FasterKvBuilder::checkpoint_on_close`] asked for one (returning its outcome). Other
    /// handles can still take checkpoints by hand. Dropping the last handle does the same,
    /// without the outcome. Sessions still alive keep the store (and its directory's lock)
    /// until they are dropped.
    ///
    /// As with [`CheckpointHandle::wait`](crate::CheckpointHandle::wait), the calling thread must not hold a pinned session:
    /// the closing checkpoint waits for every protected session.
    ///
    /// # Errors
    /// The error of the closing checkpoint.
    ///
    /// [`FasterKvBuilder::checkpoint_on_close`]: crate::FasterKvBuilder::checkpoint_on_close
    pub fn close(self) -> Result<Option<CheckpointInfo>, Arc<CheckpointError>> {
        self.owner.close()
    }
}
