//! [`F2Kv`]: opening an F2 directory (hot store, cold log, cold index), its checkpoints,
//! statistics and close.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use faster_kv::{Address, CheckpointInfo, Codec, FasterKv, Opened, Serial, SessionId, Stats};

use crate::cold::{ColdSettings, ColdStore};
use crate::error::{F2Error, Part};
use crate::manifest::F2Manifest;
use crate::session::F2Session;

/// How an F2 store is built; see [`F2Kv::builder`].
#[derive(Debug, Clone)]
pub struct F2Builder {
    dir: PathBuf,
    hot_memory: u64,
    hot_log_budget: Option<u64>,
    /// `None`: the default (half the hot memory); `Some(None)`: no read cache.
    read_cache: Option<Option<u64>>,
    page_size_bits: u32,
    chunk_bits: Option<u32>,
    cold_index_memory: u64,
    cold_log_budget: Option<u64>,
    check_every: Duration,
    hot: Option<fn(faster_kv::FasterKvBuilder) -> faster_kv::FasterKvBuilder>,
}

/// The default cold index size: 2^16 chunks of 32 slots (2 Mi slots, for up to about a
/// million cold keys; give about `keys / 16` chunks for more).
pub const DEFAULT_CHUNK_BITS: u32 = 16;

impl F2Builder {
    /// Bytes of log pages the hot store keeps in memory. Default: 64 MiB.
    pub fn hot_memory(mut self, bytes: u64) -> Self {
        self.hot_memory = bytes;
        self
    }

    /// Bytes of hot log (tail − begin address) past which its oldest fifth migrates to the
    /// cold store. Default: four times the hot memory.
    pub fn hot_log_budget(mut self, bytes: u64) -> Self {
        self.hot_log_budget = Some(bytes);
        self
    }

    /// The hot store's read cache, which also holds values read from the cold store: `None`
    /// for none. Default: half the hot memory.
    pub fn read_cache(mut self, bytes: Option<u64>) -> Self {
        self.read_cache = Some(bytes);
        self
    }

    /// The hot store's page size as a power of two. Default: 22 (4 MiB).
    pub fn page_size_bits(mut self, bits: u32) -> Self {
        self.page_size_bits = bits;
        self
    }

    /// The cold index holds 2^`bits` chunks of 32 slots: give about `log2(cold keys / 16)`,
    /// so that a chunk's keys seldom outnumber its slots.
    /// Fixed when the store is created (recorded in its manifest). Default:
    /// [`DEFAULT_CHUNK_BITS`].
    pub fn cold_index_chunk_bits(mut self, bits: u32) -> Self {
        self.chunk_bits = Some(bits);
        self
    }

    /// Bytes of log pages the cold index's chunk store keeps in memory. Default: 16 MiB.
    pub fn cold_index_memory(mut self, bytes: u64) -> Self {
        self.cold_index_memory = bytes;
        self
    }

    /// Bytes of cold log past which its oldest tenth is compacted. Default: 16 times the hot
    /// log budget.
    pub fn cold_log_budget(mut self, bytes: u64) -> Self {
        self.cold_log_budget = Some(bytes);
        self
    }

    /// How often the background thread looks at the logs' sizes. Default: 100 ms.
    pub fn check_every(mut self, every: Duration) -> Self {
        self.check_every = every;
        self
    }

    /// Further settings of the hot store's builder (its directory, memory, page size and
    /// read cache are set by this builder first).
    pub fn hot_store(
        mut self,
        configure: fn(faster_kv::FasterKvBuilder) -> faster_kv::FasterKvBuilder,
    ) -> Self {
        self.hot = Some(configure);
        self
    }

    /// Opens the store: creates it in an empty or missing directory, recovers it otherwise
    /// (the hot store's newest checkpoint, the cold log's last commit, the cold index's newest
    /// checkpoint).
    ///
    /// # Errors
    /// [`F2Error::Manifest`] for a directory that holds something else or a damaged manifest,
    /// [`F2Error::SettingMismatch`] for another chunk count, the parts' open errors (a
    /// directory another process holds is [`faster_kv::OpenError::Locked`] of the hot
    /// store).
    pub fn open<K: Codec + ?Sized, V: Codec + ?Sized>(self) -> Result<F2Kv<K, V>, F2Error> {
        F2Kv::open_with(self)
    }

    /// Checks the settings as opening a new store with them would, without opening one:
    /// the same checks and errors as [`F2Builder::open`] (the hot store's included).
    ///
    /// # Errors
    /// [`F2Error::InvalidSetting`], or the hot store's [`F2Error::Open`].
    pub fn check(&self) -> Result<(), F2Error> {
        check_chunk_bits(self.chunk_bits.unwrap_or(DEFAULT_CHUNK_BITS))?;
        self.hot_builder().check().map_err(|source| F2Error::Open {
            part: Part::Hot,
            source,
        })
    }

    /// The hot store's builder: its directory, memory, page size and read cache, then the
    /// further settings of [`F2Builder::hot_store`].
    fn hot_builder(&self) -> faster_kv::FasterKvBuilder {
        let mut hot = FasterKv::builder()
            .dir(self.dir.join("hot"))
            .memory_budget(self.hot_memory)
            .page_size_bits(self.page_size_bits);
        let read_cache = self
            .read_cache
            .unwrap_or(Some((self.hot_memory / 2).max(256 << 10)));
        if let Some(bytes) = read_cache {
            hot = hot.read_cache(bytes);
        }
        if let Some(configure) = self.hot {
            hot = configure(hot);
        }
        hot
    }

    pub(crate) fn log_budget(&self) -> u64 {
        self.hot_log_budget.unwrap_or(self.hot_memory * 4)
    }

    pub(crate) fn cold_budget(&self) -> u64 {
        self.cold_log_budget
            .unwrap_or_else(|| self.log_budget().saturating_mul(16))
    }
}

/// Counters of the background work.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) migrations: AtomicU64,
    pub(crate) migrated_records: AtomicU64,
    pub(crate) cold_compactions: AtomicU64,
    pub(crate) cold_kept: AtomicU64,
    pub(crate) failures: AtomicU64,
}

/// The state shared by an F2 store's handle, sessions and background thread.
pub(crate) struct Inner<K: Codec + ?Sized, V: Codec + ?Sized> {
    pub(crate) hot: FasterKv<K, V>,
    pub(crate) cold: ColdStore,
    pub(crate) settings: F2Builder,
    /// The start address of the newest hot checkpoint this handle completed (rule HC6).
    pub(crate) durable_start: Mutex<Option<Address>>,
    /// One migration or cold compaction at a time.
    pub(crate) maintenance: Mutex<()>,
    pub(crate) counters: Counters,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// An F2 store: a hot faster-kv store (with a read cache) over a cold store addressed by a
/// two-level index. See the crate documentation.
pub struct F2Kv<K: Codec + ?Sized, V: Codec + ?Sized> {
    pub(crate) inner: Arc<Inner<K, V>>,
    /// The background thread, until it is stopped.
    background: Option<JoinHandle<()>>,
}

/// What an F2 store's statistics say.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct F2Stats {
    /// The hot store's statistics (its read cache included).
    pub hot: Stats,
    /// Migrations from the hot store to the cold store.
    pub migrations: u64,
    /// Records they moved (values and tombstones).
    pub migrated_records: u64,
    /// Compactions of the cold log.
    pub cold_compactions: u64,
    /// Records those compactions kept.
    pub cold_kept: u64,
    /// Background runs that failed (each also logged).
    pub failures: u64,
    /// Bytes of cold log (tail − begin).
    pub cold_log_bytes: u64,
    /// Bytes of memory of the cold index's own hash index (one entry per chunk).
    pub cold_index_bytes: u64,
    /// Bytes of log pages the cold index's chunk store keeps (fixed by its budget).
    pub cold_index_log_bytes: u64,
    /// The cold log's own statistics: bytes appended and committed, commits and their
    /// latencies.
    pub cold_log: faster_log::LogStats,
}

impl F2Kv<u64, u64> {
    /// A builder for a store in `dir`.
    pub fn builder(dir: impl AsRef<Path>) -> F2Builder {
        F2Builder {
            dir: dir.as_ref().to_path_buf(),
            hot_memory: 64 << 20,
            hot_log_budget: None,
            read_cache: None,
            page_size_bits: 22,
            chunk_bits: None,
            cold_index_memory: 16 << 20,
            cold_log_budget: None,
            check_every: Duration::from_millis(100),
            hot: None,
        }
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> F2Kv<K, V> {
    /// Opens (creates or recovers) the store in `dir` with the default settings.
    ///
    /// # Errors
    /// As [`F2Builder::open`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, F2Error> {
        F2Kv::builder(dir).open()
    }

    /// Opens the store under a `faster_f2::open` span, reporting an error returned to the
    /// caller as an event.
    fn open_with(settings: F2Builder) -> Result<Self, F2Error> {
        let span = tracing::info_span!("faster_f2::open", dir = %settings.dir.display());
        let _entered = span.enter();
        let result = Self::open_parts(settings);
        match &result {
            Ok(_) => tracing::info!("opened"),
            Err(error) => tracing::warn!(%error, "open failed"),
        }
        result
    }

    fn open_parts(settings: F2Builder) -> Result<Self, F2Error> {
        let dir = settings.dir.clone();
        std::fs::create_dir_all(&dir).map_err(|source| F2Error::Io {
            path: dir.clone(),
            source,
        })?;
        let manifest = match F2Manifest::read(&dir)? {
            Some(m) => {
                if let Some(bits) = settings.chunk_bits.filter(|&b| b != m.chunk_bits) {
                    return Err(F2Error::SettingMismatch {
                        setting: "cold_index_chunk_bits",
                        stored: m.chunk_bits.to_string(),
                        requested: bits.to_string(),
                    });
                }
                m
            }
            None => create_manifest(&dir, settings.chunk_bits.unwrap_or(DEFAULT_CHUNK_BITS))?,
        };
        let hot = settings
            .hot_builder()
            .open::<K, V>()
            .map_err(|source| F2Error::Open {
                part: Part::Hot,
                source,
            })?;
        let cold = ColdStore::open(
            &dir,
            ColdSettings {
                chunk_bits: manifest.chunk_bits,
                index_memory: settings.cold_index_memory,
                log_page_bits: settings.page_size_bits.max(16),
                log_memory_pages: 16,
            },
        )?;
        let inner = Arc::new(Inner {
            hot,
            cold,
            settings,
            durable_start: Mutex::new(None),
            maintenance: Mutex::new(()),
            counters: Counters::default(),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let background = {
            let inner = Arc::clone(&inner);
            std::thread::Builder::new()
                .name("faster-f2".into())
                .spawn(move || inner.background())
                .map_err(|source| F2Error::Io {
                    path: dir.clone(),
                    source,
                })?
        };
        Ok(Self {
            inner,
            background: Some(background),
        })
    }

    /// What opening did: created the store, or recovered the hot store's checkpoint.
    pub fn opened(&self) -> Opened {
        self.inner.hot.opened()
    }

    /// A new session (one per thread).
    ///
    /// # Errors
    /// As [`FasterKv::session`].
    pub fn session(&self) -> Result<F2Session<K, V>, F2Error> {
        F2Session::new(Arc::clone(&self.inner), self.inner.hot.session()?)
    }

    /// The session `id` of the recovered checkpoint, at its commit point.
    ///
    /// # Errors
    /// As [`FasterKv::continue_session`].
    pub fn continue_session(&self, id: SessionId) -> Result<(F2Session<K, V>, Serial), F2Error> {
        let (hot, serial) = self.inner.hot.continue_session(id)?;
        Ok((F2Session::new(Arc::clone(&self.inner), hot)?, serial))
    }

    /// Takes a checkpoint and waits until it is durable: the hot store's, with every
    /// session's commit point (CPR). The cold store holds nothing that is not durable
    /// already (rule HC6), so the checkpoint covers both. The calling thread must not hold a
    /// pinned session.
    ///
    /// # Errors
    /// [`F2Error::Checkpoint`].
    pub fn checkpoint(&self) -> Result<CheckpointInfo, F2Error> {
        self.inner.checkpoint_hot()
    }

    /// Moves the hot log's oldest records to the cold store now (as the background thread
    /// does when the hot log passes its budget), up to `until` and never past the start of
    /// a durable hot checkpoint (taking one if needed). Returns the records moved.
    ///
    /// # Errors
    /// [`F2Error::Compact`] or [`F2Error::Checkpoint`]; nothing was lost.
    pub fn migrate(&self, until: Address) -> Result<u64, F2Error> {
        self.inner.migrate(until)
    }

    /// Compacts the cold log below `until`; returns the records kept.
    ///
    /// # Errors
    /// Cold log and index errors; nothing was lost.
    pub fn compact_cold(&self, until: u64) -> Result<u64, F2Error> {
        self.inner.compact_cold(until)
    }

    /// The hot store, for its regions, statistics and memory.
    pub fn hot(&self) -> &FasterKv<K, V> {
        &self.inner.hot
    }

    /// The cold log's begin and tail addresses.
    pub fn cold_log_range(&self) -> (u64, u64) {
        (
            self.inner.cold.log.begin_address().raw(),
            self.inner.cold.log.tail_address().raw(),
        )
    }

    /// Counters and sizes of both stores.
    pub fn stats(&self) -> F2Stats {
        let c = &self.inner.counters;
        let index = self.inner.cold.index.memory();
        F2Stats {
            hot: self.inner.hot.stats(),
            migrations: c.migrations.load(Ordering::Relaxed),
            migrated_records: c.migrated_records.load(Ordering::Relaxed),
            cold_compactions: c.cold_compactions.load(Ordering::Relaxed),
            cold_kept: c.cold_kept.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            cold_log_bytes: self.inner.cold.log_bytes(),
            cold_index_bytes: index.index_bytes,
            cold_index_log_bytes: index.log_bytes,
            cold_log: self.inner.cold.log.stats(),
        }
    }

    /// Stops the background thread; the stores close when the last session is dropped.
    /// Nothing is checkpointed: call [`F2Kv::checkpoint`] first to keep what was written.
    pub fn close(mut self) {
        self.stop_background();
    }

    fn stop_background(&mut self) {
        let Some(thread) = self.background.take() else {
            return;
        };
        *self
            .inner
            .stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        self.inner.wake.notify_all();
        let _ = thread.join();
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Drop for F2Kv<K, V> {
    fn drop(&mut self) {
        self.stop_background();
    }
}

/// Writes the manifest of a new store in `dir`, which must hold none of an F2 store's parts.
fn create_manifest(dir: &Path, chunk_bits: u32) -> Result<F2Manifest, F2Error> {
    check_chunk_bits(chunk_bits)?;
    let entries = std::fs::read_dir(dir)
        .map_err(|source| F2Error::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(Result::ok)
        .count();
    if entries > 0 {
        return Err(F2Error::Manifest {
            path: dir.join(crate::manifest::FILE),
            reason: "missing, and the directory is not empty: not an F2 store, or one whose \
                     manifest was removed"
                .into(),
        });
    }
    let manifest = F2Manifest { chunk_bits };
    manifest.write(dir)?;
    Ok(manifest)
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Inner<K, V> {
    /// Waits up to `check_every` or until told to stop; `true` when stopping.
    pub(crate) fn sleep(&self) -> bool {
        let stop = self
            .stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *stop {
            return true;
        }
        let (stop, _) = self
            .wake
            .wait_timeout(stop, self.settings.check_every)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *stop
    }
}

fn check_chunk_bits(chunk_bits: u32) -> Result<(), F2Error> {
    if (4..=32).contains(&chunk_bits) {
        Ok(())
    } else {
        Err(F2Error::InvalidSetting {
            setting: "cold_index_chunk_bits",
            reason: format!("{chunk_bits} is outside 4..=32"),
        })
    }
}
