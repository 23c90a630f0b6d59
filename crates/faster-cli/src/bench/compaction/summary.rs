//! What a run measured: the settings, every variant's samples and their summary, the ratios
//! the goals name, and the scan measurement — the JSON report is these types serialised.

use serde::Serialize;

use super::scan::ScanResult;
use super::workload::Variant;

/// The goal of both throughput ratios: at least this.
pub(super) const THROUGHPUT_GOAL: f64 = 0.8;

/// The benchmark's settings, defaults worked out.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Settings {
    pub(super) keys: u64,
    pub(super) value_size: usize,
    pub(super) threads: usize,
    /// Seconds each variant runs (unless stopped at the disk cap).
    pub(super) duration: f64,
    /// Bytes of one record in the log.
    pub(super) record_bytes: u64,
    /// `keys × record_bytes`: the live data.
    pub(super) live_bytes: u64,
    pub(super) memory_budget: u64,
    /// The bytes of pages the store keeps for that budget: a power-of-two number of pages.
    pub(super) memory_pages_bytes: u64,
    /// Automatic compaction's log budget (variants b and d).
    pub(super) log_budget: u64,
    pub(super) segment_size: u64,
    pub(super) page_size_bits: u32,
    pub(super) index_buckets: u64,
    /// Seconds between samples.
    pub(super) sample: f64,
    /// Seconds between fold-over checkpoints (variants c and d).
    pub(super) checkpoint_every: f64,
    /// The disk cap as a multiple of the live data, and in bytes.
    pub(super) disk_cap: f64,
    pub(super) disk_cap_bytes: u64,
    pub(super) seed: u64,
    /// Where the variants' directories were made.
    pub(super) dir: std::path::PathBuf,
    pub(super) variants: Vec<String>,
}

/// The store and its directory at one moment of a run.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct Sample {
    /// Since the upserts started.
    pub(super) seconds: f64,
    /// Upserts completed (counted per batch of 256).
    pub(super) ops: u64,
    /// Bytes on disk of every file of the store's directory.
    pub(super) disk_bytes: u64,
    /// ... of which under its `checkpoints` directory.
    pub(super) checkpoint_bytes: u64,
    /// Tail − begin address.
    pub(super) log_bytes: u64,
    /// `stats().compaction`.
    pub(super) compactions: u64,
    pub(super) compaction_records_read: u64,
    pub(super) compaction_copied: u64,
    pub(super) compaction_bytes_dropped: u64,
    pub(super) compactions_skipped: u64,
    /// `stats().throttled`: waits of sessions for a compaction.
    pub(super) throttled: u64,
}

impl Sample {
    /// One line of progress.
    pub(super) fn progress_line(&self, s: &Settings, samples: &[Sample]) -> String {
        format!(
            "{:.0} s: {:.2} Mops/s so far, disk {:.2} × live, log {:.2} × live, {} compactions, \
             {} throttle waits",
            self.seconds,
            mops_between(samples, 0.0, self.seconds),
            self.disk_bytes as f64 / s.live_bytes as f64,
            self.log_bytes as f64 / s.live_bytes as f64,
            self.compactions,
            self.throttled
        )
    }
}

/// Upserts completed at `t` seconds, interpolated between the samples around it (clamped to
/// the first and last).
pub(super) fn ops_at(samples: &[Sample], t: f64) -> f64 {
    let Some(first) = samples.first() else {
        return 0.0;
    };
    if t <= first.seconds {
        return first.ops as f64;
    }
    for pair in samples.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if t <= b.seconds {
            let span = (b.seconds - a.seconds).max(1e-12);
            return a.ops as f64 + (b.ops as f64 - a.ops as f64) * (t - a.seconds) / span;
        }
    }
    samples.last().map_or(0.0, |l| l.ops as f64)
}

/// Mops/s between `from` and `to` seconds.
pub(super) fn mops_between(samples: &[Sample], from: f64, to: f64) -> f64 {
    if to <= from {
        return 0.0;
    }
    (ops_at(samples, to) - ops_at(samples, from)) / (to - from) / 1e6
}

/// A variant's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct Summary {
    /// Length of the run (to the last sample).
    pub(super) seconds: f64,
    pub(super) ops: u64,
    /// Over the whole run, and over its second half.
    pub(super) mops: f64,
    pub(super) mops_last_half: f64,
    /// Disk usage over the samples (the first is taken right after the load), in bytes and
    /// as multiples of the live data.
    pub(super) disk_min_bytes: u64,
    pub(super) disk_max_bytes: u64,
    pub(super) disk_final_bytes: u64,
    pub(super) disk_min_x: f64,
    pub(super) disk_max_x: f64,
    pub(super) disk_final_x: f64,
    pub(super) checkpoint_final_bytes: u64,
    pub(super) log_max_bytes: u64,
    pub(super) log_max_x: f64,
    pub(super) compactions: u64,
    pub(super) throttled: u64,
    pub(super) checkpoints: usize,
}

/// One variant's run.
#[derive(Debug, Clone, Serialize)]
pub(super) struct VariantRun {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) compaction: bool,
    pub(super) checkpoints: bool,
    /// Seconds the (untimed) load took, and the log's size after it.
    pub(super) load_seconds: f64,
    pub(super) loaded_log_bytes: u64,
    /// When the run stopped at the disk cap, if it did.
    pub(super) stopped_at: Option<f64>,
    /// Checkpoints completed during the run (the store's background ones).
    pub(super) checkpoints_taken: u64,
    /// `/proc/loadavg` before the load and after the run.
    pub(super) loadavg_before: Option<String>,
    pub(super) loadavg_after: Option<String>,
    pub(super) summary: Summary,
    pub(super) samples: Vec<Sample>,
}

impl VariantRun {
    pub(super) fn new(variant: &Variant, loadavg: Option<String>) -> Self {
        Self {
            id: variant.id.to_string(),
            name: variant.describe(),
            compaction: variant.compaction,
            checkpoints: variant.checkpoints,
            load_seconds: 0.0,
            loaded_log_bytes: 0,
            stopped_at: None,
            checkpoints_taken: 0,
            loadavg_before: loadavg,
            loadavg_after: None,
            summary: Summary::default(),
            samples: Vec::new(),
        }
    }

    /// Works out the summary from the samples.
    pub(super) fn settle(&mut self, s: &Settings) {
        let live = s.live_bytes.max(1) as f64;
        let samples = &self.samples;
        let Some(last) = samples.last() else {
            return;
        };
        let end = last.seconds;
        let disk = samples.iter().map(|x| x.disk_bytes);
        let (min, max) = (disk.clone().min().unwrap_or(0), disk.max().unwrap_or(0));
        let log_max = samples.iter().map(|x| x.log_bytes).max().unwrap_or(0);
        self.summary = Summary {
            seconds: end,
            ops: last.ops,
            mops: mops_between(samples, 0.0, end),
            mops_last_half: mops_between(samples, end / 2.0, end),
            disk_min_bytes: min,
            disk_max_bytes: max,
            disk_final_bytes: last.disk_bytes,
            disk_min_x: min as f64 / live,
            disk_max_x: max as f64 / live,
            disk_final_x: last.disk_bytes as f64 / live,
            checkpoint_final_bytes: last.checkpoint_bytes,
            log_max_bytes: log_max,
            log_max_x: log_max as f64 / live,
            compactions: last.compactions,
            throttled: last.throttled,
            checkpoints: self.checkpoints_taken as usize,
        };
    }

    /// The seconds over which this run's throughput compares with another's: until it
    /// stopped at the disk cap, or its whole length.
    pub(super) fn window(&self) -> f64 {
        self.stopped_at.unwrap_or(self.summary.seconds)
    }

    /// The line printed when the run ends.
    pub(super) fn summary_line(&self) -> String {
        let m = &self.summary;
        let stopped = self.stopped_at.map_or_else(String::new, |t| {
            format!(" (stopped at the disk cap at {t:.1} s)")
        });
        format!(
            "{:.1} s{stopped}, {:.2} Mops/s, disk final {:.2} × live (max {:.2}), \
             {} compactions, {} throttle waits, {} checkpoints",
            m.seconds,
            m.mops,
            m.disk_final_x,
            m.disk_max_x,
            m.compactions,
            m.throttled,
            m.checkpoints
        )
    }
}

/// A throughput ratio and its goal.
#[derive(Debug, Clone, Serialize)]
pub(super) struct ThroughputRatio {
    /// "b/a" or "d/b".
    pub(super) name: String,
    /// The ratio is over `[0, seconds]` of both runs.
    pub(super) seconds: f64,
    pub(super) numerator_mops: f64,
    pub(super) denominator_mops: f64,
    pub(super) ratio: f64,
    pub(super) goal: f64,
    pub(super) met: bool,
}

impl ThroughputRatio {
    /// `top` ÷ `bottom` over the time both ran (up to a disk-cap stop).
    fn of(top: &VariantRun, bottom: &VariantRun) -> Self {
        let seconds = top.window().min(bottom.window());
        let (t, b) = (
            mops_between(&top.samples, 0.0, seconds),
            mops_between(&bottom.samples, 0.0, seconds),
        );
        let ratio = if b > 0.0 { t / b } else { 0.0 };
        Self {
            name: format!("{}/{}", top.id, bottom.id),
            seconds,
            numerator_mops: t,
            denominator_mops: b,
            ratio,
            goal: THROUGHPUT_GOAL,
            met: ratio >= THROUGHPUT_GOAL,
        }
    }
}

/// A variant's final disk usage against 2 × live data + two segments + the checkpoints it
/// retains (the bytes of its checkpoint directory at the end).
#[derive(Debug, Clone, Serialize)]
pub(super) struct DiskGoal {
    pub(super) variant: String,
    pub(super) final_bytes: u64,
    pub(super) checkpoint_bytes: u64,
    pub(super) target_bytes: u64,
    pub(super) met: bool,
}

impl DiskGoal {
    fn of(run: &VariantRun, s: &Settings) -> Self {
        let m = &run.summary;
        let target = 2 * s.live_bytes + 2 * s.segment_size + m.checkpoint_final_bytes;
        Self {
            variant: run.id.clone(),
            final_bytes: m.disk_final_bytes,
            checkpoint_bytes: m.checkpoint_final_bytes,
            target_bytes: target,
            met: m.disk_final_bytes <= target,
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Report {
    pub(super) settings: Settings,
    pub(super) variants: Vec<VariantRun>,
    /// (b)/(a) and (d)/(b), for the variants that ran.
    pub(super) throughput_ratios: Vec<ThroughputRatio>,
    /// (b) and (d).
    pub(super) disk_goals: Vec<DiskGoal>,
    /// After (b)'s run.
    pub(super) scan: Option<ScanResult>,
}

impl Report {
    pub(super) fn new(
        settings: Settings,
        variants: Vec<VariantRun>,
        scan: Option<ScanResult>,
    ) -> Self {
        let find = |id: &str| variants.iter().find(|v| v.id == id);
        let throughput_ratios = [("b", "a"), ("d", "b")]
            .iter()
            .filter_map(|(top, bottom)| Some(ThroughputRatio::of(find(top)?, find(bottom)?)))
            .collect();
        let disk_goals = ["b", "d"]
            .iter()
            .filter_map(|id| Some(DiskGoal::of(find(id)?, &settings)))
            .collect();
        Self {
            settings,
            variants,
            throughput_ratios,
            disk_goals,
            scan,
        }
    }
}
