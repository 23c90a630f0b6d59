//! The report for people: the settings, a row per variant, the goals with their figures, and
//! the scan beside the sequential read. Tables are Markdown, to paste as they are.

use std::fmt::Write as _;

use super::summary::Report;
use super::{binary, mb};

/// The whole report.
pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.settings;
    let _ = writeln!(
        out,
        "\nCompaction under sustained updates: {} keys, {} B values ({} B records, {} MB \
         live), {} thread(s) of uniform upserts, {} s per variant\nmemory budget {} MB ({} of \
         pages), log budget {} MB, segments of {}, pages of {}, fold-over checkpoints every {} s in (c) \
         and (d), disk cap {} × live ({} MB)\n",
        s.keys,
        s.value_size,
        s.record_bytes,
        mb(s.live_bytes),
        s.threads,
        s.duration,
        mb(s.memory_budget),
        binary(s.memory_pages_bytes),
        mb(s.log_budget),
        binary(s.segment_size),
        binary(1 << s.page_size_bits),
        s.checkpoint_every,
        s.disk_cap,
        mb(s.disk_cap_bytes),
    );
    variants(&mut out, report);
    goals(&mut out, report);
    scan(&mut out, report);
    out
}

fn variants(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "| variant | seconds | Mops/s | Mops/s, last half | disk min | disk max | disk final \
         | log max | compactions | throttle waits | checkpoints |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    let live = report.settings.live_bytes.max(1) as f64;
    for v in &report.variants {
        let m = &v.summary;
        let seconds = match v.stopped_at {
            Some(t) => format!("{t:.1} (disk cap)"),
            None => format!("{:.1}", m.seconds),
        };
        let _ = writeln!(
            out,
            "| ({}) {} | {seconds} | {:.2} | {:.2} | {:.2}× | {:.2}× | {:.2}× | {} MB ({:.2}×) \
             | {} | {} | {} |",
            v.id,
            v.name,
            m.mops,
            m.mops_last_half,
            m.disk_min_x,
            m.disk_max_x,
            m.disk_final_x,
            mb(m.log_max_bytes),
            m.log_max_bytes as f64 / live,
            m.compactions,
            m.throttled,
            m.checkpoints,
        );
    }
    let _ = writeln!(
        out,
        "\nDisk usage is a multiple of the live data ({} MB); \"final\" is at the end of the run.",
        mb(report.settings.live_bytes)
    );
    let show = |l: &Option<String>| l.clone().unwrap_or_else(|| "unknown".into());
    for v in &report.variants {
        let _ = writeln!(
            out,
            "Load average of the machine (1, 5, 15 min) for ({}): {} before its load, {} after \
             its run.",
            v.id,
            show(&v.loadavg_before),
            show(&v.loadavg_after),
        );
    }
}

fn met(yes: bool) -> &'static str {
    if yes { "met" } else { "NOT met" }
}

fn goals(out: &mut String, report: &Report) {
    let _ = writeln!(out, "\nGoals:");
    for r in &report.throughput_ratios {
        let window = match r.name.as_str() {
            "b/a" => "while (a) was under its disk cap",
            _ => "the time both ran",
        };
        let _ = writeln!(
            out,
            "- throughput ({}) over the first {:.1} s ({window}): {:.2} / {:.2} Mops/s = {:.2}; \
             goal ≥ {}: {}",
            r.name.replace('/', ")/("),
            r.seconds,
            r.numerator_mops,
            r.denominator_mops,
            r.ratio,
            r.goal,
            met(r.met),
        );
    }
    for g in &report.disk_goals {
        let _ = writeln!(
            out,
            "- final disk usage of ({}): {} MB; 2 × live + 2 segments + retained checkpoints \
             ({} MB) = {} MB; goal at or below: {}",
            g.variant,
            mb(g.final_bytes),
            mb(g.checkpoint_bytes),
            mb(g.target_bytes),
            met(g.met),
        );
    }
}

fn scan(out: &mut String, report: &Report) {
    let Some(scan) = &report.scan else {
        return;
    };
    let _ = writeln!(
        out,
        "\nScan after (b): {} live records ({} MB of live data) in {:.2} s: {:.0} MB/s of live \
         data ({} MB of log walked: {:.0} MB/s); starting it took {:.2} s",
        scan.records,
        mb(scan.live_bytes),
        scan.seconds,
        scan.live_mb_per_s,
        mb(scan.log_bytes),
        scan.log_mb_per_s,
        scan.open_seconds,
    );
    let _ = writeln!(
        out,
        "Sequential read of the same segment files (plain buffered reads of 1 MiB, holes \
         skipped{}): {} MB in {:.2} s: {:.0} MB/s; scan ÷ sequential read: {:.2} (live data), \
         {:.2} (log)",
        if scan.cache_dropped {
            ", cached pages dropped first"
        } else {
            "; the cached pages could NOT be dropped"
        },
        mb(scan.raw_bytes),
        scan.raw_seconds,
        scan.raw_mb_per_s,
        scan.live_mb_per_s / scan.raw_mb_per_s.max(1e-9),
        scan.log_mb_per_s / scan.raw_mb_per_s.max(1e-9),
    );
}
