//! `faster stats DIR [--prometheus | --listen ADDR]`: opens a faster-kv store, an F2 store or
//! a FasterLog in DIR (recovering it; the store's types are read as byte codecs) and prints its
//! statistics as a table, or as Prometheus text with `--prometheus`, or serves that text at
//! `http://ADDR/metrics` while the store stays open (`--listen`, [`crate::stats_http`]).
//!
//! Counters count from the open, so in a fresh process they show what recovery did; the
//! addresses, the index's fill and the memory describe the store as it is. A process that
//! embeds the store exports live counters with the same renderers (`Stats::to_prometheus`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use faster_f2::{F2Kv, F2Stats};
use faster_kv::{Codec, MemoryUse, Opened, Stats};
use faster_log::{FasterLog, LogStats};

use crate::bytes::{ByteJob, dispatch, open_bytes, read_manifest};
use crate::stats_http::{Limits, parse_listen, serve};

/// Options of `faster stats`.
#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// The directory of a faster-kv store, an F2 store or a FasterLog. It is opened
    /// (recovered), so no other process may have it open.
    dir: PathBuf,
    /// Print the Prometheus text exposition format instead of a table.
    #[arg(long)]
    prometheus: bool,
    /// Keep the store open and serve its statistics as Prometheus text at
    /// http://ADDR/metrics (plain HTTP/1.1), read afresh for each request, until stopped
    /// (Ctrl-C, --for or --requests). ADDR is a PORT, on 127.0.0.1, or IP:PORT; port 0 takes
    /// a free port. The address served is printed first.
    #[arg(long, value_name = "ADDR", conflicts_with = "prometheus")]
    listen: Option<String>,
    /// With --listen: stop after this many seconds.
    #[arg(long = "for", value_name = "SECONDS", requires = "listen")]
    serve_for: Option<f64>,
    /// With --listen: stop after answering this many requests.
    #[arg(long, value_name = "N", requires = "listen")]
    requests: Option<u64>,
}

/// How the statistics leave the process.
#[derive(Debug, Clone, Copy)]
enum Output {
    Table,
    Prometheus,
    Serve(std::net::SocketAddr, Limits),
}

impl Output {
    fn of(args: &StatsArgs) -> Result<Self, String> {
        let Some(listen) = &args.listen else {
            return Ok(if args.prometheus {
                Self::Prometheus
            } else {
                Self::Table
            });
        };
        let serve_for = match args.serve_for {
            Some(secs) => Some(
                Duration::try_from_secs_f64(secs)
                    .map_err(|_| format!("--for {secs}: expected a number of seconds"))?,
            ),
            None => None,
        };
        let limits = Limits {
            serve_for,
            requests: args.requests,
        };
        Ok(Self::Serve(parse_listen(listen)?, limits))
    }

    /// Prints `table()` or `prometheus()`, or serves `prometheus()` afresh per request.
    fn emit(
        self,
        table: impl FnOnce() -> String,
        mut prometheus: impl FnMut() -> String,
    ) -> Result<(), String> {
        match self {
            Self::Table => print!("{}", table()),
            Self::Prometheus => print!("{}", prometheus()),
            Self::Serve(addr, limits) => {
                serve(addr, limits, prometheus)?;
            }
        }
        Ok(())
    }
}

/// F2's background thread never looks at the logs while `faster stats` has the store open:
/// no migration or cold compaction runs behind the numbers it reports.
const F2_CHECK_EVERY: Duration = Duration::from_secs(365 * 24 * 3600);

/// What a directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Kv,
    F2,
    Log,
}

/// `faster stats`.
pub(crate) fn run(args: &StatsArgs) -> Result<(), String> {
    let dir = &args.dir;
    if !dir.is_dir() {
        return Err(format!("{}: no such directory", dir.display()));
    }
    let output = Output::of(args)?;
    match kind(dir) {
        Kind::Kv => {
            let manifest = read_manifest(dir)?;
            let job = KvJob { dir, output };
            dispatch(&manifest.key, &manifest.value, job)?
        }
        Kind::F2 => {
            let hot = read_manifest(&dir.join("hot"))?;
            let job = F2Job {
                dir,
                page_size_bits: hot.page_size_bits,
                hot_memory: hot.remembered.memory_bytes,
                output,
            };
            dispatch(&hot.key, &hot.value, job)?
        }
        Kind::Log => {
            let log = FasterLog::builder_in_dir(dir)
                .open()
                .map_err(|e| format!("opening {}: {e}", dir.display()))?;
            let table = || {
                let mut table = Table::default();
                table.row("log", format!("{} (FasterLog)", dir.display()));
                log_rows(&mut table, "", &log.stats());
                table.finish()
            };
            output.emit(table, || log.stats().to_prometheus())
        }
    }
}

/// An F2 store has an `F2` manifest; a FasterLog's `MANIFEST` opens with its magic; anything
/// else is taken for a faster-kv store (whose manifest is then read and checked).
fn kind(dir: &Path) -> Kind {
    if dir.join("F2").is_file() {
        return Kind::F2;
    }
    let magic = faster_log::manifest::MANIFEST_MAGIC;
    match std::fs::read(dir.join(faster_log::manifest::MANIFEST_FILE)) {
        Ok(bytes) if bytes.starts_with(&magic) => Kind::Log,
        _ => Kind::Kv,
    }
}

/// Opens a faster-kv store with byte codecs and shows its statistics.
struct KvJob<'a> {
    dir: &'a Path,
    output: Output,
}

impl ByteJob for KvJob<'_> {
    type Output = Result<(), String>;

    fn run<K: Codec + ?Sized, V: Codec + ?Sized>(self) -> Self::Output {
        let store = open_bytes::<K, V>(self.dir)?;
        let table = || kv_table(self.dir, &store.stats(), &store.opened(), &store.memory());
        self.output.emit(table, || store.stats().to_prometheus())
    }
}

/// Opens an F2 store with byte codecs for its hot store and shows its statistics.
struct F2Job<'a> {
    dir: &'a Path,
    page_size_bits: u32,
    hot_memory: u64,
    output: Output,
}

impl ByteJob for F2Job<'_> {
    type Output = Result<(), String>;

    fn run<K: Codec + ?Sized, V: Codec + ?Sized>(self) -> Self::Output {
        let store: F2Kv<K, V> = F2Kv::builder(self.dir)
            .page_size_bits(self.page_size_bits)
            .hot_memory(self.hot_memory)
            .check_every(F2_CHECK_EVERY)
            .hot_store(|hot| hot.byte_codecs(true))
            .open()
            .map_err(|e| format!("opening {}: {e}", self.dir.display()))?;
        let shown = self.output.emit(
            || f2_table(self.dir, &store.stats()),
            || store.stats().to_prometheus(),
        );
        store.close();
        shown
    }
}

/// Rows of two columns, the first padded to the widest.
#[derive(Default)]
struct Table {
    rows: Vec<(String, String)>,
}

impl Table {
    fn row(&mut self, name: impl Into<String>, value: impl ToString) {
        self.rows.push((name.into(), value.to_string()));
    }

    fn finish(self) -> String {
        let width = self.rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        self.rows
            .iter()
            .map(|(name, value)| format!("{name:<width$}  {value}\n"))
            .collect()
    }
}

fn opened_text(opened: &Opened) -> String {
    match opened {
        Opened::Created => "created".into(),
        Opened::Empty => "no checkpoint had completed: started empty".into(),
        Opened::Recovered(r) => format!(
            "recovered checkpoint {} (version {}) in {:.2?}, {} bytes of log replayed",
            r.token, r.version, r.duration, r.replayed_bytes
        ),
        _ => "opened".into(),
    }
}

fn kv_table(dir: &Path, stats: &Stats, opened: &Opened, memory: &MemoryUse) -> String {
    let mut t = Table::default();
    t.row("store", format!("{} (faster-kv)", dir.display()));
    t.row("opened", opened_text(opened));
    kv_rows(&mut t, "", stats);
    t.row("memory: log budget", memory.log_budget);
    t.row("memory: log page frames", memory.log_bytes);
    t.row("memory: index", memory.index_bytes);
    t.row("memory: read cache", memory.read_cache_bytes);
    t.finish()
}

/// The rows of a faster-kv store's statistics, each name after `prefix`.
fn kv_rows(t: &mut Table, prefix: &str, s: &Stats) {
    let mut row = |name: &str, value: String| t.row(format!("{prefix}{name}"), value);
    row("sessions", s.live_sessions.to_string());
    row(
        "operations",
        format!(
            "reads {} (found {}), upserts {}, rmws {}, deletes {}",
            s.reads, s.reads_found, s.upserts, s.rmws, s.deletes
        ),
    );
    row(
        "records",
        format!(
            "in place {}, appended {}, pending {}, device reads {}",
            s.in_place_updates, s.appends, s.pending, s.device_reads
        ),
    );
    let r = &s.retry_causes;
    row(
        "retries",
        format!(
            "{} (index growth {}, page turn {}, lost race {}, fuzzy region {}, \
             record locked {}); throttled {}",
            s.retries,
            r.index_growth,
            r.page_turn,
            r.lost_race,
            r.fuzzy_region,
            r.record_locked,
            s.throttled
        ),
    );
    let c = &s.compaction;
    row(
        "compactions",
        format!(
            "{} (records read {}, copied {}, bytes dropped {}, skipped {})",
            c.runs, c.records_read, c.copied, c.bytes_dropped, c.skipped
        ),
    );
    row(
        "checkpoints",
        format!(
            "completed {}, failed {}",
            s.checkpoints.completed, s.checkpoints.failed
        ),
    );
    if let Some(g) = &s.regions {
        row(
            "log addresses",
            format!(
                "begin {:#x}, head {:#x}, read-only {:#x}, flushed {:#x}, tail {:#x}",
                g.begin.raw(),
                g.head.raw(),
                g.read_only.raw(),
                g.flushed_until.raw(),
                g.tail.raw()
            ),
        );
        row(
            "log size",
            format!("{} bytes", g.tail.raw().saturating_sub(g.begin.raw())),
        );
    }
    if let Some(i) = &s.index {
        row(
            "index",
            format!(
                "{} buckets, {} entries, {} overflow buckets, {} bytes",
                i.buckets, i.used_entries, i.overflow_buckets, i.memory_bytes
            ),
        );
    }
    if let Some(c) = &s.read_cache {
        row(
            "read cache",
            format!(
                "{} bytes; hits {}, misses {}, inserts {}, evictions {}",
                c.bytes, c.hits, c.misses, c.inserts, c.evictions
            ),
        );
    }
}

/// The rows of a FasterLog's statistics, each name after `prefix`.
fn log_rows(t: &mut Table, prefix: &str, s: &LogStats) {
    let mut row = |name: &str, value: String| t.row(format!("{prefix}{name}"), value);
    row(
        "addresses",
        format!(
            "begin {:#x}, committed {:#x}, tail {:#x}",
            s.begin_address.raw(),
            s.committed_until.raw(),
            s.tail_address.raw()
        ),
    );
    row(
        "bytes",
        format!(
            "appended {}, committed {}",
            s.bytes_appended, s.bytes_committed
        ),
    );
    let latency = &s.commit_latency;
    let latencies = if latency.count == 0 {
        "no latency yet".to_string()
    } else {
        format!(
            "latency p50 {} us, p99 {} us, p999 {} us, max {} us",
            latency.p50_micros, latency.p99_micros, latency.p999_micros, latency.max_micros
        )
    };
    row(
        "commits",
        format!("{} ({} in the log); {latencies}", s.commits, s.fast_commits),
    );
}

fn f2_table(dir: &Path, s: &F2Stats) -> String {
    let mut t = Table::default();
    t.row("store", format!("{} (F2)", dir.display()));
    kv_rows(&mut t, "hot: ", &s.hot);
    log_rows(&mut t, "cold log: ", &s.cold_log);
    t.row("cold log size", format!("{} bytes", s.cold_log_bytes));
    t.row(
        "cold index memory",
        format!(
            "index {} bytes, chunk log {} bytes",
            s.cold_index_bytes, s.cold_index_log_bytes
        ),
    );
    t.row(
        "migrations",
        format!("{} ({} records)", s.migrations, s.migrated_records),
    );
    t.row(
        "cold compactions",
        format!("{} ({} records kept)", s.cold_compactions, s.cold_kept),
    );
    t.row("background failures", s.failures);
    t.finish()
}
