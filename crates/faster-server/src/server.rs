//! The listener and a server's life: start (bind, start the store workers and the runtime),
//! accept connections up to the limit, and shut down — stop accepting, let every connection
//! answer what it has read, stop the workers, take a final checkpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use faster_kv::CheckpointInfo;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::Durability;
use crate::aof::{Aof, ReplayReport};
use crate::keyops::ByteStore;
use crate::shards::Shards;
use crate::state::Shared;
use crate::{ServerConfig, ServerError};

/// A running server. Stop it with [`Server::shutdown`], with a [`Stopper`], or (when
/// [`ServerConfig::stop_on_signals`] is set) with SIGINT or SIGTERM, then [`Server::wait`].
/// Dropping it shuts it down as [`Server::shutdown`] does, without the report.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    stop: Arc<watch::Sender<bool>>,
    /// Set by [`Server::stop_without_checkpoint`].
    skip_checkpoint: Arc<AtomicBool>,
    /// What the append-only log's replay did at start.
    replayed: Option<ReplayReport>,
    /// `None` once waited for.
    thread: Option<JoinHandle<Result<Option<ShutdownReport>, ServerError>>>,
}

/// Asks a server to shut down; cheap to clone and to send to another thread.
#[derive(Debug, Clone)]
pub struct Stopper(Arc<watch::Sender<bool>>);

impl Stopper {
    /// Starts the shutdown (idempotent).
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// What a shutdown did.
#[derive(Debug, Clone)]
pub struct ShutdownReport {
    /// The final checkpoint.
    pub checkpoint: CheckpointInfo,
    /// Connections accepted over the server's life (refused ones included).
    pub connections: u64,
    /// Commands run over the server's life.
    pub commands: u64,
}

impl Server {
    /// Binds `config.listen`, starts the store workers and the runtime, and serves `store`
    /// on a thread of its own until shut down. The store is the server's from here: the
    /// shutdown takes a final checkpoint and closes it.
    ///
    /// With [`Durability::Log`], the append-only log is opened and replayed into the store
    /// first (before the address is bound).
    ///
    /// # Errors
    /// The append-only log cannot be opened or replayed, the address cannot be bound, the
    /// runtime cannot start, or the store refuses the workers' sessions.
    pub fn start(store: ByteStore, config: ServerConfig) -> Result<Self, ServerError> {
        let aof = match &config.durability {
            Durability::Log(aof) => Some(Arc::new(Aof::open(aof, &store)?)),
            Durability::Checkpoints => None,
        };
        let listener =
            std::net::TcpListener::bind(&config.listen).map_err(|source| ServerError::Bind {
                addr: config.listen.clone(),
                source,
            })?;
        listener.set_nonblocking(true).map_err(ServerError::Io)?;
        let local_addr = listener.local_addr().map_err(ServerError::Io)?;
        // One thread: the server's own thread runs every task (a current-thread runtime),
        // which spares the multi-threaded scheduler's bookkeeping on each poll.
        let mut builder = if config.runtime_threads <= 1 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(config.runtime_threads);
            builder
        };
        let runtime = builder
            .thread_name("faster-server-io")
            .enable_io()
            .enable_time()
            .build()
            .map_err(ServerError::Io)?;
        let store = Arc::new(store);
        let replayed = aof.as_ref().map(|aof| aof.replayed());
        let (shards, workers) = Shards::start(&store, config.workers, aof.clone())?;
        let (stop, stopped) = watch::channel(false);
        let stop = Arc::new(stop);
        let shared = Arc::new(Shared::new(
            Arc::clone(&store),
            shards,
            config,
            local_addr,
            aof.clone(),
        ));
        let stop_for_signals = Arc::clone(&stop);
        let skip_checkpoint = Arc::new(AtomicBool::new(false));
        let skip = Arc::clone(&skip_checkpoint);
        let thread = std::thread::Builder::new()
            .name("faster-server".into())
            .spawn(move || {
                let served = runtime.block_on(async {
                    let listener = TcpListener::from_std(listener)?;
                    if let Some(every) = shared.config.checkpoint_every {
                        tokio::spawn(crate::commands::periodic_checkpoints(
                            Arc::clone(&shared),
                            every,
                            stopped.clone(),
                        ));
                    }
                    if let Some(window) = shared.config.busy_poll {
                        let shared = Arc::clone(&shared);
                        let stopped = stopped.clone();
                        tokio::spawn(async move {
                            let commands = &shared.commands_processed;
                            shared.busy_poll.run(commands, window, stopped).await;
                        });
                    }
                    accept(listener, &shared, stopped, &stop_for_signals).await;
                    Ok::<_, std::io::Error>(())
                });
                let connections = shared.connections_received.load(Ordering::Relaxed);
                let commands = shared.commands_processed.load(Ordering::Relaxed);
                drop(shared);
                runtime.shutdown_timeout(Duration::from_secs(60));
                workers.join();
                served.map_err(ServerError::Io)?;
                if skip.load(Ordering::Acquire) {
                    // As a crash would: the log holds what was committed, no checkpoint.
                    drop(aof);
                    drop(store);
                    return Ok(None);
                }
                let checkpoint = crate::aof::checkpoint(&store, aof.as_deref())
                    .map_err(ServerError::Checkpoint)?;
                drop(aof);
                drop(store);
                Ok(Some(ShutdownReport {
                    checkpoint,
                    connections,
                    commands,
                }))
            })
            .map_err(ServerError::Io)?;
        Ok(Self {
            local_addr,
            stop,
            skip_checkpoint,
            replayed,
            thread: Some(thread),
        })
    }

    /// The address the server listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// What replaying the append-only log did at start (`None` without a log).
    pub fn replayed(&self) -> Option<ReplayReport> {
        self.replayed
    }

    /// A handle that stops the server.
    pub fn stopper(&self) -> Stopper {
        Stopper(Arc::clone(&self.stop))
    }

    /// Stops the server and waits for its shutdown; see [`Server::wait`].
    ///
    /// # Errors
    /// As [`Server::wait`].
    pub fn shutdown(mut self) -> Result<ShutdownReport, ServerError> {
        self.stop.send_replace(true);
        self.join()
    }

    /// Waits until the server has stopped (by a [`Stopper`] or a signal): it has stopped
    /// accepting, answered what its connections had sent, stopped its workers and taken its
    /// final checkpoint; the store is closed.
    ///
    /// # Errors
    /// The final checkpoint failed, or the server's thread failed.
    pub fn wait(mut self) -> Result<ShutdownReport, ServerError> {
        self.join()
    }

    /// Stops the server as [`Server::shutdown`] does but takes no final checkpoint and does
    /// not commit the append-only log: the directory is left as a crash would leave it
    /// after the connections were answered. Reopening recovers the last checkpoint and
    /// replays the log. For tests of recovery.
    ///
    /// # Errors
    /// The server's thread failed.
    pub fn stop_without_checkpoint(mut self) -> Result<(), ServerError> {
        self.skip_checkpoint.store(true, Ordering::Release);
        self.stop.send_replace(true);
        self.join_thread().map(|_| ())
    }

    fn join(&mut self) -> Result<ShutdownReport, ServerError> {
        // `None` only after `stop_without_checkpoint`, which consumed the server.
        self.join_thread()?.ok_or(ServerError::Panicked)
    }

    fn join_thread(&mut self) -> Result<Option<ShutdownReport>, ServerError> {
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| ServerError::Panicked)?,
            None => Err(ServerError::Panicked),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop.send_replace(true);
            if let Err(e) = self.join() {
                tracing::warn!("faster-server: shutting down: {e}");
            }
        }
    }
}

/// Accepts connections until `stopped` turns true (or a signal comes), then waits for every
/// connection to end.
async fn accept(
    listener: TcpListener,
    shared: &Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
    stop: &watch::Sender<bool>,
) {
    let mut connections = JoinSet::new();
    let signal = crate::signals::wait(shared.config.stop_on_signals);
    tokio::pin!(signal);
    loop {
        if *stopped.borrow() {
            break;
        }
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections_received.fetch_add(1, Ordering::Relaxed);
                    if shared.clients.load(Ordering::Acquire) >= shared.config.max_clients {
                        shared.connections_rejected.fetch_add(1, Ordering::Relaxed);
                        connections.spawn(async move {
                            let mut stream = stream;
                            let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
                            let _ = stream.shutdown().await;
                        });
                    } else {
                        shared.clients.fetch_add(1, Ordering::AcqRel);
                        let shared = Arc::clone(shared);
                        let stopped = stopped.clone();
                        connections.spawn(async move {
                            crate::connection::serve(stream, Arc::clone(&shared), stopped).await;
                            shared.clients.fetch_sub(1, Ordering::AcqRel);
                        });
                    }
                }
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!("faster-server: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = stopped.changed() => {}
            () = &mut signal => {
                stop.send_replace(true);
            }
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}
