//! The peers measured beside faster-kv (feature `peers`), each in its own child process:
//! oxifaster and feoxdb, stores with the same job; sled, fjall and redb, persistent stores on
//! files, with a cache of faster-kv's memory budget; `scc::HashMap`, the ceiling of a plain
//! concurrent hash map; and `dashmap`. Two hidden peers exist to exercise the child process
//! handling: `sleep-forever` never starts, `crash` panics; a third, `crawl`, loads and reads
//! back at once but takes a minute over every batch of a timed run.

#[cfg(feature = "peers")]
mod calls;
#[cfg(feature = "peers")]
mod feoxdb;
#[cfg(feature = "peers")]
mod fjall;
#[cfg(feature = "peers")]
mod maps;
#[cfg(feature = "peers")]
mod oxifaster;
#[cfg(feature = "peers")]
mod redb;
#[cfg(feature = "peers")]
mod sled;

#[cfg(feature = "peers")]
use std::path::PathBuf;
#[cfg(feature = "peers")]
use std::sync::Mutex;
#[cfg(feature = "peers")]
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "peers")]
use calls::CallsSystem;
use std::time::Duration;

use super::BenchArgs;
use super::systems::{Found, Op, System, Worker};

/// The peers `--peers` accepts, in the order they run by default.
#[cfg(feature = "peers")]
pub(crate) const ALL: &[&str] = &[
    "oxifaster",
    "feoxdb",
    "sled",
    "fjall",
    "redb",
    "scc",
    "dashmap",
];
/// The peers `--peers` accepts (none: the `peers` feature is off).
#[cfg(not(feature = "peers"))]
pub(crate) const ALL: &[&str] = &[];

/// Peers that test the child process handling, accepted but not listed.
const TEST_PEERS: &[&str] = &["sleep-forever", "crash", "crawl"];

/// The name of `peer` in reports.
pub(crate) fn display_name(peer: &str) -> &str {
    match peer {
        "scc" => "scc::HashMap",
        other => other,
    }
}

/// Checks that every name of `--peers` is a peer.
pub(crate) fn check_names(names: &[String]) -> Result<(), String> {
    match names
        .iter()
        .find(|n| !ALL.contains(&n.as_str()) && !TEST_PEERS.contains(&n.as_str()))
    {
        Some(unknown) if ALL.is_empty() => Err(format!(
            "unknown peer `{unknown}`: this build has no peers (cargo feature `peers`)"
        )),
        Some(unknown) => Err(format!("unknown peer `{unknown}` ({})", ALL.join(", "))),
        None => Ok(()),
    }
}

/// A peer opened in this (child) process, with the directory that holds its files, if any.
pub(crate) struct Opened {
    /// Declared first so that it drops before its directory.
    pub(crate) system: Box<dyn System>,
    _dir: Option<tempfile::TempDir>,
}

impl Opened {
    /// Ends the peer just before the process ends: its files are removed, but the system is
    /// not torn down (millions of entries, and perhaps background threads that would not
    /// stop): the process's exit reclaims it.
    pub(crate) fn finish(self) {
        let Self { system, _dir: dir } = self;
        std::mem::forget(system);
        drop(dir);
    }
}

/// Failed operations of a peer, counted from all its threads.
#[cfg(feature = "peers")]
#[derive(Debug, Default)]
pub(crate) struct FailureLog {
    count: AtomicU64,
    first: Mutex<Option<String>>,
}

#[cfg(feature = "peers")]
impl FailureLog {
    /// Counts one failure; keeps the description of the first.
    pub(crate) fn record(&self, describe: impl FnOnce() -> String) {
        if self.count.fetch_add(1, Ordering::Relaxed) == 0
            && let Ok(mut first) = self.first.lock()
        {
            *first = Some(describe());
        }
    }

    /// The number of failures and the first one's description.
    pub(crate) fn snapshot(&self) -> (u64, Option<String>) {
        let first = self.first.lock().ok().and_then(|f| f.clone());
        (self.count.load(Ordering::Relaxed), first)
    }
}

/// Opens `peer` for the benchmark `args` describes.
pub(crate) fn open(peer: &str, args: &BenchArgs) -> Result<Opened, String> {
    #[cfg(feature = "peers")]
    if let Some(opened) = open_real(peer, args)? {
        return Ok(opened);
    }
    #[cfg(not(feature = "peers"))]
    let _ = args;
    match peer {
        "sleep-forever" => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        "crash" => panic!("the `crash` peer panics on purpose"),
        "crawl" => Ok(Opened {
            system: Box::new(Crawl),
            _dir: None,
        }),
        other => Err(format!("unknown peer `{other}`")),
    }
}

/// The `crawl` peer: its load stores nothing, every key reads back as its own number, and
/// every batch of a timed run takes a minute.
struct Crawl;

impl System for Crawl {
    fn name(&self) -> String {
        "crawl".into()
    }

    fn worker(&self) -> Result<Box<dyn Worker + '_>, String> {
        Ok(Box::new(Crawl))
    }
}

impl Worker for Crawl {
    fn run(&mut self, _: &[Op], _: usize, _: &mut Vec<u32>) -> Result<(), String> {
        std::thread::sleep(Duration::from_secs(60));
        Ok(())
    }

    fn load(&mut self, _: &[u64]) -> Result<(), String> {
        Ok(())
    }

    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String> {
        for (key, slot) in (first..).zip(out.iter_mut()) {
            *slot = Found::Value(key);
        }
        Ok(())
    }
}

#[cfg(feature = "peers")]
fn open_real(peer: &str, args: &BenchArgs) -> Result<Option<Opened>, String> {
    let (system, dir): (Box<dyn System>, _) = match peer {
        "scc" => (Box::new(maps::SccSystem::new(args.keys)), None),
        "dashmap" => (Box::new(maps::DashSystem::new(args.keys)), None),
        "feoxdb" => (Box::new(feoxdb::FeoxdbSystem::new()?), None),
        "oxifaster" => {
            let budget = super::log_budget(args);
            let mut config = oxifaster::Config {
                log_memory_bytes: budget.memory_bytes,
                page_size_bits: args.page_size_bits,
                index_buckets: super::index_buckets(args),
            };
            if args.memory {
                // NullDisk drops what is evicted to it: hold every record in memory.
                config.log_memory_bytes = config.log_memory_bytes.max(8 * budget.data_bytes);
                (Box::new(oxifaster::in_memory(config)), None)
            } else {
                let (path, temp) = files_dir(args, peer)?;
                (Box::new(oxifaster::on_file(config, &path)?), temp)
            }
        }
        // On files whatever `--memory` says, with a cache of faster-kv's log budget.
        "sled" | "fjall" | "redb" => {
            let (path, temp) = files_dir(args, peer)?;
            let cache_bytes = super::log_budget(args).memory_bytes;
            let system: Box<dyn System> = match peer {
                "sled" => Box::new(CallsSystem::new(
                    "sled",
                    self::sled::Sled::open(&path, cache_bytes)?,
                )),
                "fjall" => Box::new(CallsSystem::new(
                    "fjall",
                    self::fjall::Fjall::open(&path, cache_bytes)?,
                )),
                _ => Box::new(CallsSystem::new(
                    "redb",
                    self::redb::Redb::open(&path, cache_bytes)?,
                )),
            };
            (system, temp)
        }
        _ => return Ok(None),
    };
    Ok(Some(Opened { system, _dir: dir }))
}

/// The directory for `peer`'s files: `--dir`'s subdirectory named after it, or else a fresh
/// temporary directory, returned too (removed when it drops).
#[cfg(feature = "peers")]
fn files_dir(args: &BenchArgs, peer: &str) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    match &args.dir {
        Some(dir) => {
            let path = dir.join(peer);
            std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((path, None))
        }
        None => {
            let temp = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}
