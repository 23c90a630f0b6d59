//! `faster serve DIR`: the store in DIR behind a Redis-protocol server (faster-server) until
//! SIGINT or SIGTERM, then a final checkpoint; opening DIR again recovers it.

use std::path::PathBuf;

use clap::Args;
use faster_kv::Opened;
use faster_server::{Server, ServerConfig};

/// `faster serve` arguments.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The store's directory: created when empty or missing, recovered otherwise. The store
    /// must have byte-string keys and values (what the server creates).
    dir: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:6379")]
    listen: String,
    /// Connections served at once; one more is answered `-ERR max number of clients reached`.
    #[arg(long, default_value_t = 10_000)]
    max_clients: usize,
    /// Bytes of log pages the store keeps in memory (default: faster-kv's, 256 MiB; a
    /// reopened store keeps the budget it was created with unless this is given).
    #[arg(long)]
    memory_budget: Option<u64>,
    /// Store worker threads (each owns a session; keys are spread over them by hash).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// A settings file (TOML, with `FASTER_*` environment overrides) for the store's builder,
    /// checked before anything opens; DIR and --memory-budget win over its `dir` and
    /// `memory_budget`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Runs the server until a signal.
pub(crate) fn run(args: &ServeArgs) -> Result<(), String> {
    let config = crate::load::config_file(args.config.as_deref())?;
    let mut builder = config.builder().dir(&args.dir);
    if let Some(bytes) = args.memory_budget {
        builder = builder.memory_budget(bytes);
    }
    let store: faster_server::ByteStore = builder
        .open()
        .map_err(|e| format!("{}: {e}", args.dir.display()))?;
    match store.opened() {
        Opened::Recovered(recovered) => {
            eprintln!("recovered checkpoint {}", recovered.token);
        }
        other => eprintln!("opened {}: {other:?}", args.dir.display()),
    }
    let config = ServerConfig {
        listen: args.listen.clone(),
        max_clients: args.max_clients,
        workers: args.workers,
        stop_on_signals: true,
        ..ServerConfig::default()
    };
    let server = Server::start(store, config).map_err(|e| e.to_string())?;
    eprintln!(
        "listening on {} (redis-cli -p {}); SIGINT or SIGTERM stops",
        server.local_addr(),
        server.local_addr().port()
    );
    let report = server.wait().map_err(|e| e.to_string())?;
    eprintln!(
        "stopped after {} connections and {} commands; final checkpoint {}",
        report.connections, report.commands, report.checkpoint.token
    );
    Ok(())
}
