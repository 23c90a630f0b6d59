//! `faster serve DIR`: the store in DIR behind a Redis-protocol server (faster-server) until
//! SIGINT or SIGTERM, then a final checkpoint; opening DIR again recovers it. With
//! `--appendfsync always|everysec` every write also goes to an append-only log in `DIR/aof`,
//! replayed at the next start; with `no` (the default) a log left there by an earlier run is
//! replayed, checkpointed and removed first.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use faster_config::Span;
use faster_kv::{FasterKvConfig, Opened};
use faster_server::{AofConfig, Durability, Fsync, Server, ServerConfig};
use serde::Deserialize;

/// The append-only log's directory inside the store's.
const AOF_DIR: &str = "aof";

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
    /// Store worker threads (each owns a session; keys are spread over them by hash). 0 (the
    /// default): none, every operation runs on the connection's own thread through one
    /// shared session, as in redis-server — the fastest while the data mostly fits the
    /// memory budget; a device read stalls the other clients meanwhile, which store workers
    /// avoid for data far larger than memory.
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Threads that serve the connections (read, parse, reply; and, with `--workers 0`, run
    /// the operations too). With 1, the server's own thread runs them all.
    #[arg(long, default_value_t = 1)]
    io_threads: usize,
    /// Also write every write to an append-only log in DIR/aof: `always` replies only after
    /// the write is flushed (writes arriving together share one flush), `everysec` flushes
    /// every second and replies at once, `no` relies on checkpoints alone. Default: the
    /// settings file's `[server] appendfsync`, else `no`.
    #[arg(long, value_enum)]
    appendfsync: Option<AppendFsync>,
    /// Take a checkpoint this often (`90s`, `5m`, `1h`); each also truncates the append-only
    /// log. Default: the settings file's `[server] checkpoint_every`, else none.
    #[arg(long, value_parser = parse_span)]
    checkpoint_every: Option<Duration>,
    /// Busy polling, in microseconds: while a request has come within this window, one I/O
    /// thread polls the sockets instead of sleeping, which saves a wake-up per request when
    /// clients send one request at a time; it costs that thread's CPU while requests keep
    /// coming (an idle server still sleeps). Meant for `--workers 0 --io-threads 1`.
    /// Default: the settings file's `[server] busy_poll_us`, else 0 (off).
    #[arg(long, value_name = "MICROSECONDS")]
    busy_poll_us: Option<u64>,
    /// A settings file (TOML, with `FASTER_*` environment overrides) for the store's builder,
    /// checked before anything opens, and a `[server]` table with `appendfsync`,
    /// `checkpoint_every` and `busy_poll_us`; DIR and the flags win over the file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// `--appendfsync` and `[server] appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
enum AppendFsync {
    /// Flush before the reply.
    Always,
    /// Flush every second.
    Everysec,
    /// No log.
    No,
}

/// The `[server]` table of the settings file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ServerSection {
    appendfsync: Option<AppendFsync>,
    checkpoint_every: Option<Span>,
    busy_poll_us: Option<u64>,
}

/// The settings file: the store's keys, and `[server]`.
#[derive(Debug, Deserialize)]
struct ServeFile {
    #[serde(default)]
    server: ServerSection,
    #[serde(flatten)]
    store: toml::Table,
}

fn parse_span(text: &str) -> Result<Duration, String> {
    Span::parse(text).map(|span| span.0)
}

/// The settings file named by `--config` (none: the defaults), checked as the builder
/// checks them.
fn settings(path: Option<&Path>) -> Result<(FasterKvConfig, ServerSection), String> {
    let Some(path) = path else {
        return Ok((FasterKvConfig::default(), ServerSection::default()));
    };
    let mut keys = FasterKvConfig::KEYS.to_vec();
    keys.push("server");
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file: ServeFile = faster_config::load(path, &keys).map_err(|e| e.to_string())?;
    let store: FasterKvConfig = toml::Value::Table(file.store)
        .try_into()
        .map_err(|e| named(&e))?;
    store.check().map_err(|e| named(&e))?;
    Ok((store, file.server))
}

/// Runs the server until a signal.
pub(crate) fn run(args: &ServeArgs) -> Result<(), String> {
    let (config, section) = settings(args.config.as_deref())?;
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
    let aof_dir = args.dir.join(AOF_DIR);
    let fsync = match args.appendfsync.or(section.appendfsync) {
        Some(AppendFsync::Always) => Some(Fsync::Always),
        Some(AppendFsync::Everysec) => Some(Fsync::EverySecond),
        Some(AppendFsync::No) | None => None,
    };
    let durability = match fsync {
        Some(fsync) => Durability::Log(AofConfig {
            dir: aof_dir,
            fsync,
        }),
        None => {
            let retired =
                faster_server::aof::retire(&store, &aof_dir).map_err(|e| e.to_string())?;
            if let Some(report) = retired {
                eprintln!(
                    "replayed {} entries of {} into a checkpoint and removed it",
                    report.entries,
                    aof_dir.display()
                );
            }
            Durability::Checkpoints
        }
    };
    let config = ServerConfig {
        listen: args.listen.clone(),
        max_clients: args.max_clients,
        workers: args.workers,
        runtime_threads: args.io_threads,
        stop_on_signals: true,
        durability,
        checkpoint_every: args
            .checkpoint_every
            .or(section.checkpoint_every.map(|span| span.0)),
        busy_poll: args
            .busy_poll_us
            .or(section.busy_poll_us)
            .filter(|&us| us > 0)
            .map(Duration::from_micros),
        ..ServerConfig::default()
    };
    let server = Server::start(store, config).map_err(|e| e.to_string())?;
    if let Some(report) = server.replayed() {
        eprintln!(
            "replayed {} entries of the append-only log ({} puts, {} deletes)",
            report.entries, report.puts, report.dels
        );
    }
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
