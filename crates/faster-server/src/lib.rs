//! faster-server: a Redis-protocol server over faster-kv, so that any Redis client — a
//! library, `redis-cli`, a benchmark — can use the store.
//!
//! # Shape
//!
//! - [`resp`]: RESP2 and RESP3 frames, parsed incrementally from a byte buffer (partial input
//!   asks for more, never panics), inline commands, and limits with Redis's error texts.
//! - Connections run on a small tokio runtime (two threads by default). A connection reads
//!   what arrived, parses every complete request, and writes every reply of the pipeline with
//!   one write.
//! - Store workers: faster-kv sessions are a thread's context and block when a record is on
//!   the device, so they live on threads of their own, outside the runtime. Each key belongs
//!   to one worker (by its hash); a connection sends the key operations of a pipeline to their
//!   workers in one message each and awaits the replies. The operations on one key therefore
//!   run one at a time, in order: per-key atomicity without locks.
//! - Commands on the whole store (`DBSIZE`, `SCAN`, `FLUSHDB`, `SAVE`, `INFO`) wait for the
//!   earlier commands of their pipeline and run on the runtime's blocking threads.
//! - Shutdown stops accepting, lets each connection answer what it had read, stops the
//!   workers and takes a final checkpoint; reopening the directory recovers it.
//! - Durability ([`ServerConfig::durability`]): checkpoints only, or also an append-only log
//!   of every write's post-image in a faster-log log ([`aof`]), committed before the reply
//!   (`appendfsync always`, group commits) or every second, and replayed at start.
//!
//! `docs/server.md` lists the commands, what differs from Redis, and the design.
//!
//! # Example
//!
//! ```
//! use faster_server::{Server, ServerConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let store = faster_server::ByteStore::open(dir.path())?;
//! let config = ServerConfig { listen: "127.0.0.1:0".into(), ..ServerConfig::default() };
//! let server = Server::start(store, config)?;
//! println!("listening on {}", server.local_addr());
//! let report = server.shutdown()?; // the final checkpoint
//! println!("checkpoint {}", report.checkpoint.token);
//! # Ok(())
//! # }
//! ```
//!
//! The crate has no `unsafe` code.

#![forbid(unsafe_code)]

pub mod aof;
mod busy_poll;
mod commands;
mod connection;
mod glob;
mod info;
mod keyops;
pub mod resp;
mod scan;
mod server;
mod shards;
mod signals;
mod state;
mod ttl;

pub use aof::{AofConfig, AofError, Durability, Fsync, ReplayReport};
pub use keyops::ByteStore;
pub use server::{Server, ShutdownReport, Stopper};

/// A server's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address to listen on. Default: `127.0.0.1:6379`; port 0 lets the system choose
    /// ([`Server::local_addr`] tells which).
    pub listen: String,
    /// Connections served at once; one more is answered `-ERR max number of clients
    /// reached` and closed. Default: 10 000.
    pub max_clients: usize,
    /// Store workers (threads with a session each). Default: 2. With 0, operations run
    /// inline on the connections' runtime threads through one shared session: no hand-over
    /// between threads per request (the fastest for data in memory), but an operation that
    /// reads the device stalls the other clients meanwhile (`shards.rs`, `docs/server.md`).
    pub workers: usize,
    /// Threads of the runtime that serves the connections. Default: 2.
    pub runtime_threads: usize,
    /// What a client may send.
    pub limits: resp::Limits,
    /// Shut down on SIGINT or SIGTERM. Default: off (a library does not take the process's
    /// signals unless asked).
    pub stop_on_signals: bool,
    /// What makes an acknowledged write durable. Default: [`Durability::Checkpoints`].
    pub durability: Durability,
    /// Take a checkpoint this often (from the end of the previous one), which also truncates
    /// the append-only log. Default: none (the store's own automatic checkpoints, if its
    /// settings ask for them, still run, but do not truncate the log).
    pub checkpoint_every: Option<std::time::Duration>,
    /// Busy polling: while a request has come within this window, one runtime thread polls
    /// the sockets instead of sleeping (`busy_poll.rs`). It saves the wake-up that each
    /// request otherwise pays when clients send one request at a time, at the price of that
    /// thread's CPU while requests keep coming; an idle server still sleeps. Meant for
    /// `runtime_threads` 1 and `workers` 0, where that thread is the one that does all the
    /// work. Default: off.
    pub busy_poll: Option<std::time::Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:6379".into(),
            max_clients: 10_000,
            workers: 2,
            runtime_threads: 2,
            limits: resp::Limits::default(),
            stop_on_signals: false,
            durability: Durability::Checkpoints,
            checkpoint_every: None,
            busy_poll: None,
        }
    }
}

/// Why a server could not start, or did not shut down cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// The runtime or a thread could not start, or the listener failed.
    #[error("{0}")]
    Io(std::io::Error),
    /// The store refused the workers' sessions.
    #[error("store sessions: {0}")]
    Session(#[from] faster_kv::SessionError),
    /// The append-only log could not be opened or replayed.
    #[error("{0}")]
    Aof(#[from] AofError),
    /// The final checkpoint failed.
    #[error("final checkpoint: {0}")]
    Checkpoint(String),
    /// The server's thread panicked.
    #[error("the server's thread panicked")]
    Panicked,
}
