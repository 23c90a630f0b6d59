//! faster-kv, the system under test: opened the way the options say, measured in this
//! process (alone, or beside a second store taking checkpoints), and its memory budget.

use faster_kv::{CheckpointOptions, FasterKv};

use super::plan::Plan;
use super::report::SystemReport;
use super::systems::{FasterStore, FasterSystem, System};
use super::{BenchArgs, CHECKPOINTING, runner};

/// Benchmarks faster-kv in this process.
pub(super) fn bench_faster(args: &BenchArgs, plan: &Plan) -> Result<SystemReport, String> {
    let (system, dir) = open_faster(args, None)?;
    let mut report = measure_alone(&system, plan)?;
    report.memory = Some(system.memory());
    drop(system);
    drop(dir);
    report.settle();
    Ok(report)
}

/// Measures `system` alone in this process, with a progress bar: its report, timed, not yet
/// settled.
pub(super) fn measure_alone(system: &dyn System, plan: &Plan) -> Result<SystemReport, String> {
    let name = system.name();
    let mut report = SystemReport::new(&name);
    let mut progress = runner::Progress::new(&name, plan, false);
    let started = std::time::Instant::now();
    let measured = runner::measure(system, plan, &mut |event| {
        progress.on(plan, &event);
        report.apply(event);
    });
    progress.finish();
    measured?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Benchmarks two faster-kv stores in this process, loaded the same way: one plain, one
/// taking checkpoints with `options` during the timed runs (as the system named
/// [`CHECKPOINTING`]), each run of the first followed at once by the same run of the second.
pub(super) fn bench_faster_pair(
    args: &BenchArgs,
    plan: &Plan,
    checkpointing: &Plan,
    options: CheckpointOptions,
) -> Result<(SystemReport, SystemReport), String> {
    let (plan_a, plan_b) = (plan, checkpointing);
    let (plain, dir_a) = open_faster(args, Some("faster-kv"))?;
    let (mut with, dir_b) = open_faster(args, Some("faster-kv-ckpt"))?;
    with.name = CHECKPOINTING.into();
    with.checkpoint = Some(options);
    let group = indicatif::MultiProgress::new();
    let mut reports = (
        SystemReport::new(&plain.name),
        SystemReport::new(&with.name),
    );
    let mut progress = (
        runner::Progress::in_group(&group, &plain.name, plan_a),
        runner::Progress::in_group(&group, &with.name, plan_b),
    );
    let started = std::time::Instant::now();
    let measured = runner::measure_pair(
        (&plain, plan_a, &mut |event| {
            progress.0.on(plan_a, &event);
            reports.0.apply(event);
        }),
        (&with, plan_b, &mut |event| {
            progress.1.on(plan_b, &event);
            reports.1.apply(event);
        }),
    );
    progress.0.finish();
    progress.1.finish();
    measured?;
    // The two ran interleaved: each report gets the pair's wall time.
    let seconds = started.elapsed().as_secs_f64();
    for report in [&mut reports.0, &mut reports.1] {
        report.seconds = seconds;
        report.settle();
    }
    reports.0.memory = Some(plain.memory());
    reports.1.memory = Some(with.memory());
    drop((plain, with, dir_a, dir_b));
    Ok(reports)
}

/// The size of the loaded data and the log's memory budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogBudget {
    /// Bytes of the records of every key once.
    pub(crate) data_bytes: u64,
    /// Bytes of log pages in memory.
    pub(crate) memory_bytes: u64,
}

/// `--memory-budget`, or twice the loaded data (eight times with `--checkpoint-every`: after
/// each checkpoint every updated key is copied to the tail once, so the log grows by up to
/// the data's size per checkpoint; both stores get the same budget). At least 64 MiB.
pub(crate) fn log_budget(args: &BenchArgs) -> LogBudget {
    let record = 8
        + 8
        + if args.value_size == 8 {
            8
        } else {
            16 + args.value_size.div_ceil(8) * 8
        };
    let data_bytes = args.keys.saturating_mul(record as u64);
    LogBudget {
        data_bytes,
        memory_bytes: args.memory_budget.unwrap_or_else(|| {
            let factor = if args.checkpoint_every.is_some() {
                8
            } else {
                2
            };
            data_bytes.saturating_mul(factor).max(64 << 20)
        }),
    }
}

/// `--index-buckets`, or half the next power of two above `--keys` (at least 64).
pub(crate) fn index_buckets(args: &BenchArgs) -> u64 {
    args.index_buckets
        .unwrap_or_else(|| (args.keys.next_power_of_two() / 2).max(64))
}

/// The store under test, and the temporary directory that holds it (if any).
fn open_faster(
    args: &BenchArgs,
    subdir: Option<&str>,
) -> Result<(FasterSystem, Option<tempfile::TempDir>), String> {
    let mut builder = super::settings_file::apply(args, FasterKv::builder())
        .memory_budget(log_budget(args).memory_bytes)
        .page_size_bits(args.page_size_bits)
        .index_buckets(index_buckets(args));
    if let Some(bytes) = args.read_cache {
        builder = builder.read_cache(bytes);
    }
    let mut temp = None;
    if !args.memory {
        let dir = match &args.dir {
            Some(dir) => subdir.map_or_else(|| dir.clone(), |s| dir.join(s)),
            None => {
                let t = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
                let path = t.path().to_path_buf();
                temp = Some(t);
                path
            }
        };
        if args.direct_io {
            check_direct_io(&dir)?;
        }
        builder = builder.dir(dir).direct_io(args.direct_io);
    }
    let store = if args.value_size == 8 {
        FasterStore::Word(builder.open().map_err(|e| e.to_string())?)
    } else {
        FasterStore::Bytes(builder.open().map_err(|e| e.to_string())?, args.value_size)
    };
    let system = FasterSystem {
        name: if args.read_cache.is_some() {
            "faster-kv rc".into()
        } else {
            "faster-kv".into()
        },
        store,
        prefetch_depth: args.prefetch_depth,
        io_depth: args.io_depth,
        checkpoint: None,
    };
    Ok((system, temp))
}

/// Whether files in `dir` (created if missing) can be opened with `O_DIRECT`: a probe file is
/// created, opened that way and removed.
fn check_direct_io(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;

    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let probe = dir.join(".direct-io-probe");
    let flags = rustix::fs::OFlags::DIRECT.bits();
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(i32::try_from(flags).map_err(|e| e.to_string())?)
        .open(&probe);
    let _ = std::fs::remove_file(&probe);
    opened.map(drop).map_err(|e| {
        format!(
            "--direct-io: the file system of {} refuses O_DIRECT ({e}); use --dir on one \
             that accepts it",
            dir.display()
        )
    })
}
