//! `faster compact DIR [--until-fraction F]`: compacts the oldest part of a store's log — its
//! live records copied to the tail, the rest dropped — and takes checkpoints until none of the
//! kept ones needs the compacted part, so that its space is given back to the file system.

use std::path::{Path, PathBuf};

use clap::Args;
use faster_kv::checkpoint::inspect;
use faster_kv::{Address, Codec, CompactReport, FasterKvConfig};

use crate::bytes::{ByteJob, dispatch, open_bytes_with, read_manifest};
use crate::usage::{DiskBytes, disk_bytes};

/// Options of `faster compact`.
#[derive(Debug, Args)]
pub(crate) struct CompactArgs {
    /// The store's directory. The store is opened (recovering its newest checkpoint), so no
    /// other process may have it open.
    dir: PathBuf,
    /// How much of the log to compact, from its begin address towards its read-only address:
    /// 1.0 compacts everything up to the read-only address, 0.5 the older half of that.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    until_fraction: f64,
    /// Settings to open the store with: a TOML file of `FasterKvConfig` keys (memory_budget,
    /// read_cache, ...; see docs/operating.md), with `FASTER_*` environment variables over
    /// it. Its `dir` is ignored: DIR is the store's directory.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// What the job did.
struct Outcome {
    report: CompactReport,
    read_only: Address,
    checkpoints: u64,
}

/// `faster compact`: compacts, checkpoints, and prints the report with the disk bytes before
/// and after.
pub(crate) fn run(args: &CompactArgs) -> Result<(), String> {
    let fraction = args.until_fraction;
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(format!(
            "--until-fraction {fraction} is outside (0, 1]: it is the fraction of the log \
             between its begin and read-only addresses to compact"
        ));
    }
    let config = crate::load::config_file(args.config.as_deref())?;
    let manifest = read_manifest(&args.dir)?;
    let before = usage(&args.dir)?;
    let job = Compact {
        dir: &args.dir,
        config: &config,
        fraction,
        checkpoints: manifest.remembered.checkpoint_retention.max(1),
    };
    let outcome = dispatch(&manifest.key, &manifest.value, job)??;
    let after = usage(&args.dir)?;
    let r = &outcome.report;
    println!(
        "compacted {}: log begin {:#x} -> {:#x} (read-only address {:#x}), in {:.2?}\n  \
         records read {}, live records copied {} ({} bytes appended at the tail)\n  \
         checkpoints taken {} (so that no kept checkpoint needs the compacted log)\n  \
         disk bytes before {} (segments {}, checkpoints {})\n  \
         disk bytes after  {} (segments {}, checkpoints {})",
        args.dir.display(),
        r.from.raw(),
        r.until.raw(),
        outcome.read_only.raw(),
        r.elapsed,
        r.records,
        r.copied,
        r.copied_bytes,
        outcome.checkpoints,
        before.total(),
        before.segments,
        before.checkpoints,
        after.total(),
        after.segments,
        after.checkpoints,
    );
    Ok(())
}

fn usage(dir: &Path) -> Result<DiskBytes, String> {
    inspect(dir)
        .map(|inventory| disk_bytes(&inventory))
        .map_err(|e| e.to_string())
}

/// Compacts the store in `dir` up to `fraction` of its log, then takes `checkpoints`
/// checkpoints (the store's retention: by the last one, every checkpoint that needed the
/// compacted part has been removed, and its bytes deleted) — none when there was nothing to
/// compact.
struct Compact<'a> {
    dir: &'a Path,
    config: &'a FasterKvConfig,
    fraction: f64,
    checkpoints: u64,
}

impl ByteJob for Compact<'_> {
    type Output = Result<Outcome, String>;

    fn run<K: Codec + ?Sized, V: Codec + ?Sized>(self) -> Self::Output {
        let store = open_bytes_with::<K, V>(self.dir, self.config)?;
        let regions = store.regions();
        let (begin, read_only) = (regions.begin.raw(), regions.read_only.raw());
        let span = read_only.saturating_sub(begin);
        let until = begin + ((span as f64 * self.fraction) as u64).min(span);
        let report = store
            .compact(Address::from_masked(until))
            .map_err(|e| format!("compaction: {e}"))?;
        // Nothing compacted (less than a page to compact): nothing to give back.
        let checkpoints = if report.until > report.from {
            self.checkpoints
        } else {
            0
        };
        for _ in 0..checkpoints {
            store
                .checkpoint()
                .map_err(|e| format!("checkpoint: {e}"))?
                .wait()
                .map_err(|e| format!("checkpoint: {e}"))?;
        }
        store.close().map_err(|e| format!("closing: {e}"))?;
        Ok(Outcome {
            report,
            read_only: regions.read_only,
            checkpoints,
        })
    }
}
