//! `faster bench compaction`: disk usage and throughput of a long update-heavy run on a fixed
//! key set larger than memory, with and without automatic compaction and fold-over
//! checkpoints.
//!
//! Every key is loaded once (untimed); then `threads` threads, each with its own session and
//! pinned batches, upsert uniformly random keys for the run's duration. Four variants run one
//! after the other, each in a fresh directory: (a) no compaction, no checkpoints; (b)
//! automatic compaction; (c) a fold-over checkpoint (with an index snapshot) every few
//! seconds, no compaction; (d) both. Every sample interval records the time, the operations
//! completed, the directory's bytes on disk (allocated blocks, so the holes compaction punches
//! below the begin address count as freed), the log's size (tail − begin) and the store's
//! compaction counters. A run stops early when the directory passes the disk cap, so that
//! the log of a store that does not compact cannot fill the disk.
//!
//! After (b)'s run, its live records are scanned ([`faster_kv::FasterKv::scan`]) and its
//! segment files read sequentially with plain buffered reads, both with the files' cached
//! pages dropped first, so the scan's rate can be compared with the device's.
//!
//! The report: a table per variant, the ratios the goals name, the scan rates; `--json FILE`
//! writes every sample, and an SVG plot of disk usage over time goes next to it.

mod disk;
mod plot;
mod scan;
mod summary;
mod table;
mod workload;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use summary::{Report, Settings};
use workload::Variant;

/// Options of `faster bench compaction`.
#[derive(Debug, Clone, Args)]
pub(crate) struct CompactionArgs {
    /// Number of keys (u64), loaded once before the runs.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Value size in bytes (values are byte strings).
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Threads upserting, each with its own session.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seconds each variant runs.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Bytes of log pages in memory. Default: a tenth of the live data (at least 4 pages;
    /// the store rounds it down to a power-of-two number of pages).
    #[arg(long, value_name = "BYTES")]
    memory_budget: Option<u64>,
    /// Log budget of automatic compaction (`CompactionPolicy::with_budget`), in bytes.
    /// Default: 2.5 × the live data.
    #[arg(long, value_name = "BYTES")]
    log_budget: Option<u64>,
    /// Size of the log's segment files in bytes (a power of two).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    segment_size: u64,
    /// Log page size as a power of two.
    #[arg(long, default_value_t = 20)]
    page_size_bits: u32,
    /// Directory for the stores (each variant in a fresh subdirectory, removed after its
    /// run unless --keep). Default: a temporary directory in the system's temp directory when
    /// that is on the current directory's file system and not tmpfs, else in the current
    /// directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep each variant's store directory after its run.
    #[arg(long)]
    keep: bool,
    /// Seconds between two samples of disk usage.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    sample: f64,
    /// Seconds between two fold-over checkpoints in variants (c) and (d).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    checkpoint_every: f64,
    /// A run stops early once its directory takes more than this many times the live data on
    /// disk.
    #[arg(long, value_name = "TIMES", default_value_t = 20.0)]
    disk_cap: f64,
    /// Variants to run, comma-separated, among a, b, c, d (the ratios need a and b, and b
    /// and d).
    #[arg(long, value_delimiter = ',', default_value = "a,b,c,d")]
    variants: Vec<String>,
    /// Write the samples and the report as JSON to FILE (and the plot to FILE.svg).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the SVG plot of disk usage over time to FILE (default: the JSON file's name
    /// with `.svg` appended, when --json is given).
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Seed of the load order and the key choices.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Bytes of one record of a `u64` key and a `value_size`-byte value in the log: the header
/// word, the lengths word, the key, the value's sequence word and the value padded to 8
/// bytes (faster-kv's record layout for a fixed-size key and a variable-size value).
pub(crate) fn record_bytes(value_size: usize) -> u64 {
    8 + 8 + 8 + 8 + value_size.div_ceil(8) as u64 * 8
}

/// Checks the options and works out the defaults.
fn settings(args: &CompactionArgs) -> Result<Settings, String> {
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if args.keys == 0 || args.threads == 0 {
        return Err("--keys and --threads must be at least 1".into());
    }
    if !(positive(args.duration) && positive(args.sample) && positive(args.checkpoint_every)) {
        return Err("--duration, --sample and --checkpoint-every must be positive seconds".into());
    }
    if !positive(args.disk_cap) {
        return Err("--disk-cap must be a positive multiple of the live data".into());
    }
    if !(12..=30).contains(&args.page_size_bits) {
        return Err("--page-size-bits must be in 12..=30".into());
    }
    let page = 1u64 << args.page_size_bits;
    if !args.segment_size.is_power_of_two() || args.segment_size < page {
        return Err(format!(
            "--segment-size {} must be a power of two of at least a page ({page} bytes)",
            args.segment_size
        ));
    }
    let record = record_bytes(args.value_size);
    if record > page {
        return Err(format!(
            "a record of {record} bytes does not fit in a page of {page} bytes"
        ));
    }
    let mut variants = Vec::new();
    for name in &args.variants {
        let v = Variant::named(name).ok_or_else(|| format!("unknown variant {name:?}"))?;
        if !variants.contains(&v) {
            variants.push(v);
        }
    }
    variants.sort_by_key(|v| v.id);
    let live = args.keys.saturating_mul(record);
    let memory_budget = args.memory_budget.unwrap_or((live / 10).max(4 * page));
    let pages = memory_budget / page;
    if pages < 4 {
        return Err(format!(
            "--memory-budget {memory_budget} holds fewer than 4 pages of {page} bytes"
        ));
    }
    Ok(Settings {
        keys: args.keys,
        value_size: args.value_size,
        threads: args.threads,
        duration: args.duration,
        record_bytes: record,
        live_bytes: live,
        memory_budget,
        memory_pages_bytes: (1 << pages.ilog2()) * page,
        log_budget: args.log_budget.unwrap_or(live.saturating_mul(5) / 2),
        segment_size: args.segment_size,
        page_size_bits: args.page_size_bits,
        index_buckets: (args.keys.next_power_of_two() / 2).max(64),
        sample: args.sample,
        checkpoint_every: args.checkpoint_every,
        disk_cap: args.disk_cap,
        disk_cap_bytes: (live as f64 * args.disk_cap) as u64,
        seed: args.seed,
        dir: PathBuf::new(),
        variants: variants.iter().map(|v| v.id.to_string()).collect(),
    })
}

/// Runs the benchmark and prints its report.
pub(crate) fn run(args: &CompactionArgs) -> Result<(), String> {
    let mut settings = settings(args)?;
    let variants: Vec<Variant> = settings
        .variants
        .iter()
        .filter_map(|id| Variant::named(id))
        .collect();
    let base = disk::Base::new(args.dir.as_deref(), args.keep)?;
    settings.dir = base.path().to_path_buf();
    let memory_note = if settings.memory_pages_bytes >= settings.live_bytes {
        " (not smaller than the live data: the run is not larger than memory)"
    } else {
        ""
    };
    eprintln!(
        "bench compaction: {} keys of {} B values, {} MB live ({} B records), memory budget \
         {} MB ({} of pages){memory_note}, log budget {} MB, segments of {}, {} thread(s), {} s per variant, \
         in {} ({})",
        settings.keys,
        settings.value_size,
        mb(settings.live_bytes),
        settings.record_bytes,
        mb(settings.memory_budget),
        binary(settings.memory_pages_bytes),
        mb(settings.log_budget),
        binary(settings.segment_size),
        settings.threads,
        settings.duration,
        base.path().display(),
        base.describe(),
    );
    let mut runs = Vec::new();
    let mut scan = None;
    for variant in &variants {
        let dir = base.variant_dir(variant.dir_name())?;
        let (run, store) = workload::run_variant(&settings, variant, &dir)?;
        if variant.id == "b" {
            scan = Some(scan::measure(&store, &dir, settings.record_bytes)?);
        }
        drop(store);
        base.done_with(&dir)?;
        runs.push(run);
    }
    let report = Report::new(settings, runs, scan);
    print!("{}", table::render(&report));
    write_outputs(args, &report)
}

/// Writes the JSON and the plot, where asked.
fn write_outputs(args: &CompactionArgs, report: &Report) -> Result<(), String> {
    let plot_path = args.plot.clone().or_else(|| {
        args.json.as_ref().map(|json| {
            let mut name = json.clone().into_os_string();
            name.push(".svg");
            PathBuf::from(name)
        })
    });
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        write(path, &text)?;
    }
    if let Some(path) = &plot_path {
        write(path, &plot::render(report))?;
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Bytes as decimal megabytes, for messages.
pub(crate) fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

/// A power-of-two size in the largest binary unit that divides it: "64 MiB", "4 KiB".
pub(crate) fn binary(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// `d` as seconds, for messages.
pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `faster bench compaction` options parsed from `list` (tests).
#[cfg(test)]
fn test_args(list: &[&str]) -> CompactionArgs {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CompactionArgs,
    }
    let argv = std::iter::once("compaction").chain(list.iter().copied());
    Cli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{e}"))
        .args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_live_data() {
        let s = settings(&test_args(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.record_bytes, 136);
        assert_eq!(s.live_bytes, 136_000_000);
        assert_eq!(s.memory_budget, 13_600_000);
        assert_eq!(s.memory_pages_bytes, 8 << 20);
        assert_eq!(s.log_budget, 340_000_000);
        assert_eq!(s.disk_cap_bytes, 2_720_000_000);
        assert_eq!(s.segment_size, 64 << 20);
        assert_eq!(s.index_buckets, 1 << 19);
        assert_eq!(s.variants, ["a", "b", "c", "d"]);
    }

    #[test]
    fn bad_options_are_refused() {
        for bad in [
            &["--keys", "0"][..],
            &["--duration", "0"],
            &["--sample=-1"],
            &["--segment-size", "1000"],
            &["--page-size-bits", "12", "--value-size", "5000"],
            &["--variants", "a,e"],
            &["--disk-cap", "NaN"],
            &["--memory-budget", "3000000"],
        ] {
            assert!(settings(&test_args(bad)).is_err(), "{bad:?}");
        }
        // A tiny budget is raised to four pages.
        let s = settings(&test_args(&["--keys", "10", "--page-size-bits", "12"]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.memory_budget, 4 << 12);
    }
}
