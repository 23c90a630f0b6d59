//! What every connection of a server shares: the store, its workers, the settings, counters
//! for `INFO`, and the open `SCAN` iterations.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::ServerConfig;
use crate::aof::Aof;
use crate::busy_poll::BusyPoll;
use crate::keyops::ByteStore;
use crate::scan::Cursors;
use crate::shards::Shards;

/// The server's shared state.
pub(crate) struct Shared {
    pub(crate) store: Arc<ByteStore>,
    pub(crate) shards: Shards,
    pub(crate) config: ServerConfig,
    pub(crate) local_addr: SocketAddr,
    pub(crate) started: Instant,
    /// Connections open now.
    pub(crate) clients: AtomicUsize,
    /// The identifier of the next connection (`CLIENT ID`), from 1.
    pub(crate) next_client_id: AtomicU64,
    pub(crate) connections_received: AtomicU64,
    pub(crate) connections_rejected: AtomicU64,
    pub(crate) commands_processed: AtomicU64,
    /// Unix time of the last checkpoint that completed (`LASTSAVE`); the start time before.
    pub(crate) last_save: AtomicU64,
    /// A `SAVE` or `BGSAVE` is running.
    pub(crate) saving: Arc<AtomicBool>,
    pub(crate) scans: Mutex<Cursors>,
    /// The append-only log, when the server keeps one.
    pub(crate) aof: Option<Arc<Aof>>,
    /// The busy poller's state (used when `config.busy_poll` is set).
    pub(crate) busy_poll: BusyPoll,
}

/// Seconds since the Unix epoch now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Shared {
    pub(crate) fn new(
        store: Arc<ByteStore>,
        shards: Shards,
        config: ServerConfig,
        local_addr: SocketAddr,
        aof: Option<Arc<Aof>>,
    ) -> Self {
        Self {
            store,
            shards,
            config,
            local_addr,
            started: Instant::now(),
            clients: AtomicUsize::new(0),
            next_client_id: AtomicU64::new(1),
            connections_received: AtomicU64::new(0),
            connections_rejected: AtomicU64::new(0),
            commands_processed: AtomicU64::new(0),
            last_save: AtomicU64::new(unix_now()),
            saving: Arc::new(AtomicBool::new(false)),
            scans: Mutex::new(Cursors::default()),
            aof,
            busy_poll: BusyPoll::default(),
        }
    }

    /// Counts `n` commands processed, and wakes the busy poller if it is parked.
    pub(crate) fn count_commands(&self, n: u64) {
        // Sequentially consistent: the busy poller's handshake relies on it (`busy_poll.rs`).
        self.commands_processed.fetch_add(n, Ordering::SeqCst);
        if self.config.busy_poll.is_some() {
            self.busy_poll.activity();
        }
    }
}
