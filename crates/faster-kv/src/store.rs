//! [`Store`]: the state every session of a store shares — epoch, log, index, checkpoint
//! machinery, settings — and what it is built from.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use faster_cpr::{CheckpointDir, CheckpointMeta};
use faster_epoch::Epoch;
use faster_hlog::HybridLog;
use faster_index::HashIndex;

use crate::checkpoint::cpr::{Cpr, CprParts};
use crate::codec::Codec;
use crate::compact::gate::Gate;
use crate::record::Layout;
use crate::settings::Settings;
use crate::stats::StatsRegistry;
use crate::store_dir::{Home, Identity, Locks};

/// The state shared by a store's sessions.
pub(crate) struct Store<K: ?Sized, V: ?Sized> {
    pub(crate) epoch: Arc<Epoch>,
    pub(crate) log: HybridLog,
    pub(crate) index: HashIndex,
    pub(crate) stats: StatsRegistry,
    pub(crate) cpr: Cpr,
    pub(crate) settings: Settings,
    /// Compaction, scans and the log-size throttle.
    pub(crate) gate: Gate,
    /// The buffers of the last scanning compaction's chunk, kept for the next while
    /// compactions follow one another (tens of MiB that would otherwise be mapped, faulted in
    /// and unmapped again each time); the maintenance thread drops them once no compaction
    /// is due.
    pub(crate) chunk: std::sync::Mutex<crate::compact::records::Batch>,
    /// Copies of records read from the device, when the store has a read cache.
    pub(crate) read_cache: Option<Arc<crate::read_cache::ReadCache>>,
    /// Whether the store opened its device itself (and closes it when dropped).
    owns_device: bool,
    /// The directory locks, held until the store is dropped.
    _locks: Option<Locks>,
    _types: PhantomData<fn(&K, &V)>,
}

/// What a store is built from.
pub(crate) struct StoreParts {
    pub(crate) settings: Settings,
    pub(crate) epoch: Arc<Epoch>,
    pub(crate) log: HybridLog,
    pub(crate) index: HashIndex,
    pub(crate) version: u32,
    pub(crate) checkpoint_dir: Option<CheckpointDir>,
    pub(crate) last: Option<CheckpointMeta>,
    pub(crate) home: Option<Home>,
    pub(crate) owns_device: bool,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// The record layout of this store's codecs: a constant, so offsets fold at compile time.
    pub(crate) const LAYOUT: Layout = Layout::of::<K, V>();

    pub(crate) fn assemble(parts: StoreParts) -> Self {
        let (locks, identity) = match parts.home {
            Some(home) => (Some(home.locks), home.identity),
            None => (None, Identity::default()),
        };
        let settings = parts.settings;
        let kept = parts.log.config().memory_bytes();
        if kept < settings.memory_bytes {
            tracing::info!(
                "faster-kv: a memory budget of {} bytes keeps {kept} bytes of log pages (a \
                 power-of-two number of {}-byte pages)",
                settings.memory_bytes,
                parts.log.page_size()
            );
        }
        let cpr = Cpr::new(CprParts {
            epoch: Arc::clone(&parts.epoch),
            version: parts.version,
            dir: parts.checkpoint_dir,
            last: parts.last,
            max_sessions: settings.max_sessions,
            retention: settings.checkpoint_retention,
            frames: parts.log.config().memory_bytes() / parts.log.page_size(),
            snapshot_buffer: settings
                .snapshot_buffer
                .unwrap_or(settings.memory_bytes / 2),
            identity,
        });
        let read_cache = settings.read_cache.and_then(|bytes| {
            let cache = crate::read_cache::ReadCache::new(bytes);
            if cache.is_none() {
                tracing::warn!(
                    "faster-kv: no memory for a read cache of {bytes} bytes; running without it"
                );
            }
            cache.map(Arc::new)
        });
        Self {
            read_cache,
            cpr,
            epoch: parts.epoch,
            log: parts.log,
            index: parts.index,
            stats: StatsRegistry::default(),
            settings,
            gate: Gate::default(),
            chunk: std::sync::Mutex::default(),
            owns_device: parts.owns_device,
            _locks: locks,
            _types: PhantomData,
        }
    }
}

impl<K: ?Sized, V: ?Sized> Drop for Store<K, V> {
    fn drop(&mut self) {
        // No write of this store may land after its directory is unlocked (the locks drop
        // after this body): wait for the page flushes it scheduled, then close a device it
        // opened, which refuses anything an epoch action might still start.
        let read_only = self.log.read_only_address();
        if let Err(e) = self.log.wait_flushed(read_only, Duration::from_secs(60)) {
            tracing::debug!("faster-kv: flushes at close: {e}");
        }
        if self.owns_device {
            self.log.device().close();
        }
    }
}
