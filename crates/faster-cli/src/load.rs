//! `faster load DUMP DIR`: creates a store in `DIR` with the codecs a dump records and loads
//! the dump's records into it, with byte codecs; the program that owns the data then opens the
//! store with its own types.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use clap::Args;
use faster_kv::dump::{DumpReader, LoadSummary, load_from};
use faster_kv::{CheckpointToken, Codec, FasterKv, FasterKvConfig};

use crate::bar::bytes_bar;
use crate::bytes::{ByteJob, dispatch};

/// Options of `faster load`.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// The dump file (written by `faster dump` or `faster_kv::dump::dump`).
    dump: PathBuf,
    /// The directory of the new store: missing or empty (a directory that holds a store is
    /// refused).
    dir: PathBuf,
    /// Settings of the new store: a TOML file of `FasterKvConfig` keys (memory_budget,
    /// page_size_bits, read_cache, ...; see docs/operating.md), with `FASTER_*` environment
    /// variables over it. Its `dir` is ignored: DIR is the store's directory.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// The settings file named by `--config` (none: the defaults), checked as the builder
/// checks them.
pub(crate) fn config_file(path: Option<&Path>) -> Result<FasterKvConfig, String> {
    let Some(path) = path else {
        return Ok(FasterKvConfig::default());
    };
    let config = FasterKvConfig::load(path).map_err(|e| e.to_string())?;
    config
        .check()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(config)
}

/// `faster load`: creates the store, loads the dump, takes a checkpoint. On failure after the
/// store was created, the directory is left as it was found (removed, or emptied).
pub(crate) fn run(args: &LoadArgs) -> Result<(), String> {
    let config = config_file(args.config.as_deref())?;
    let file = File::open(&args.dump).map_err(|e| format!("{}: {e}", args.dump.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = DumpReader::new(BufReader::with_capacity(1 << 20, file))
        .map_err(|e| format!("{}: {e}", args.dump.display()))?;
    let header = reader.header().clone();
    let existed = args.dir.exists();
    let job = Load {
        dir: &args.dir,
        config: &config,
        reader,
        len,
    };
    let (summary, token) = match dispatch(&header.key, &header.value, job)? {
        Ok(done) => done,
        Err(Failed { message, created }) => {
            if created {
                undo(&args.dir, existed);
            }
            return Err(format!("{}: {message}", args.dump.display()));
        }
    };
    println!(
        "loaded {} records ({} bytes of keys and values) from {} into {}; keys {}, values {}; \
         checkpoint {token}",
        summary.records,
        summary.data_bytes,
        args.dump.display(),
        args.dir.display(),
        header.key,
        header.value,
    );
    Ok(())
}

/// Why a load failed, and whether it had created the store.
struct Failed {
    message: String,
    created: bool,
}

/// Loads `reader` into a new store in `dir`.
struct Load<'a, R: Read> {
    dir: &'a Path,
    config: &'a FasterKvConfig,
    reader: DumpReader<R>,
    len: u64,
}

impl<R: Read> ByteJob for Load<'_, R> {
    type Output = Result<(LoadSummary, CheckpointToken), Failed>;

    fn run<K: Codec + ?Sized, V: Codec + ?Sized>(self) -> Self::Output {
        let header = self.reader.header().clone();
        let store: FasterKv<K, V> = self
            .config
            .apply(FasterKv::builder())
            .dir(self.dir)
            .record_codecs(header.key, header.value)
            .create_new()
            .map_err(|e| Failed {
                message: e.to_string(),
                created: false,
            })?;
        let failed = |message: String| Failed {
            message,
            created: true,
        };
        let bar = bytes_bar("load", self.len);
        let summary = load_from(&store, self.reader, |p| {
            bar.set_position(p.bytes);
            bar.set_message(format!("{} records", p.records));
        });
        bar.finish_and_clear();
        let summary = summary.map_err(|e| failed(e.to_string()))?;
        let info = store
            .checkpoint()
            .map_err(|e| failed(format!("checkpoint: {e}")))?
            .wait()
            .map_err(|e| failed(format!("checkpoint: {e}")))?;
        Ok((summary, info.token))
    }
}

/// Leaves `dir` as it was before a failed load: removed if it did not exist, else emptied
/// (creating a store needs an empty directory, so everything in it is the load's).
fn undo(dir: &Path, existed: bool) {
    if !existed {
        let _ = std::fs::remove_dir_all(dir);
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}
