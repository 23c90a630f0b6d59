//! The report for people: every run, every system's checks and status, then faster-kv's
//! throughput divided by each peer's, cell by cell, and where faster-kv wins or loses.

use std::fmt::Write as _;

use super::CHECKPOINTING;
use super::header::{Mode, Settings, latency_note};
use super::report::{Ratio, Status, SystemReport, ratios};

/// Prints the whole report on stdout.
pub(crate) fn print(systems: &[SystemReport], settings: &Settings) {
    print!("{}", render(systems, &latency_note(settings)));
}

/// The report; `latency` says what the latency samples measure (under the runs when some
/// cell ran pipelined).
fn render(systems: &[SystemReport], latency: &str) -> String {
    let mut out = String::new();
    runs(&mut out, systems, latency);
    checks(&mut out, systems);
    memory(&mut out, systems);
    checkpoint_table(&mut out, systems);
    ratio_table(&mut out, systems, &ratios(systems));
    out
}

/// One row per run; `mode` says whether its operations ran pipelined or one at a time, the
/// last column whether the system's values read back right.
fn runs(out: &mut String, systems: &[SystemReport], latency: &str) {
    let _ = writeln!(
        out,
        "{:<14} {:<11} {:<10} {:>3} {:<9} {:>9} {:>8} {:>8}  data",
        "system", "workload", "dist", "thr", "mode", "Mops/s", "p50 ns", "p99 ns"
    );
    let show = |v: Option<u32>| v.map_or_else(|| "-".to_string(), |n| n.to_string());
    for system in systems {
        for r in &system.results {
            let _ = writeln!(
                out,
                "{:<14} {:<11} {:<10} {:>3} {:<9} {:>9.2} {:>8} {:>8}  {}",
                r.system,
                r.workload,
                r.distribution,
                r.threads,
                r.mode.label(),
                r.mops,
                show(r.p50_ns),
                show(r.p99_ns),
                system.data_mark(),
            );
        }
        if system.status != Status::Ok && system.status != Status::WrongData {
            let _ = writeln!(out, "{:<14} ({})", system.name, system.status.label());
        }
    }
    let pipelined = systems
        .iter()
        .flat_map(|s| &s.results)
        .any(|r| r.mode == Mode::Pipelined);
    if pipelined {
        let _ = writeln!(out, "Latency: {latency}.");
    }
}

/// What faster-kv held in memory beside its budget.
fn memory(out: &mut String, systems: &[SystemReport]) {
    for s in systems {
        if let Some(m) = &s.memory {
            let _ = writeln!(out, "\nMemory of {}: {}", s.name, m.line());
        }
    }
}

/// Each system's status and what reading every key back found.
fn checks(out: &mut String, systems: &[SystemReport]) {
    let _ = writeln!(
        out,
        "\nChecks (every key read back after the load, and after the runs):"
    );
    for s in systems {
        let _ = write!(
            out,
            "  {:<14} {} ({:.0} s)",
            s.name,
            s.status.label(),
            s.seconds
        );
        let mut notes = Vec::new();
        for (when, v) in [
            ("after the load", &s.after_load),
            ("after the runs", &s.after_runs),
        ] {
            match v {
                Some(v) => notes.push(format!("{when}: {}", v.summary())),
                None if matches!(s.status, Status::Hung | Status::TooSlow | Status::Crashed) => {
                    notes.push(format!("{when}: not reached"));
                }
                None => {}
            }
        }
        if s.failed_ops > 0 {
            notes.push(format!(
                "{} operations failed (first: {})",
                s.failed_ops,
                s.first_failure.as_deref().unwrap_or("?")
            ));
        }
        if let Some(detail) = &s.detail {
            notes.push(detail.replace('\n', " | "));
        }
        if !notes.is_empty() {
            let _ = write!(out, ": {}", notes.join("; "));
        }
        let _ = writeln!(out);
    }
}

/// The checkpointing store's runs beside the same runs without checkpoints: how many
/// checkpoints each run took, how long they lasted, and throughput with ÷ without.
fn checkpoint_table(out: &mut String, systems: &[SystemReport]) {
    let (Some(plain), Some(ckpt)) = (
        systems.first(),
        systems.iter().find(|s| s.name == CHECKPOINTING),
    ) else {
        return;
    };
    let _ = writeln!(
        out,
        "\nCheckpoints during the timed runs ({CHECKPOINTING}; durations from start to durable):"
    );
    let _ = writeln!(
        out,
        "{:<11} {:<10} {:>3} {:>6} {:>10} {:>8}  Mops/s with ÷ without",
        "workload", "dist", "thr", "ckpts", "median s", "max s"
    );
    // Cells in which no checkpoint happened measure nothing of checkpoints: listed, but left
    // out of the summary.
    let mut cells = Vec::new();
    let mut without = 0;
    for r in ckpt.results.iter().filter(|r| r.workload != "load") {
        let mut d = r.checkpoint_seconds.clone();
        d.sort_by(f64::total_cmp);
        let show = |v: Option<&f64>| v.map_or_else(|| "-".to_string(), |s| format!("{s:.3}"));
        let ratio = plain
            .results
            .iter()
            .find(|p| p.same_cell(r))
            .map(|p| r.mops / p.mops.max(1e-12));
        if d.is_empty() {
            without += 1;
        } else if let Some(ratio) = ratio {
            cells.push((
                ratio,
                format!("{} {} {} thr", r.workload, r.distribution, r.threads),
            ));
        }
        let _ = writeln!(
            out,
            "{:<11} {:<10} {:>3} {:>6} {:>10} {:>8}  {}",
            r.workload,
            r.distribution,
            r.threads,
            d.len(),
            show(d.get(d.len() / 2)),
            show(d.last()),
            ratio.map_or_else(|| "-".to_string(), |x| format!("{x:.2}")),
        );
    }
    let left_out = if without > 0 {
        format!(" ({without} cells without a checkpoint left out)")
    } else {
        String::new()
    };
    if let Some((lowest, cell)) = cells.iter().min_by(|a, b| a.0.total_cmp(&b.0)) {
        let within = cells.iter().filter(|(r, _)| *r >= 0.8).count();
        let _ = writeln!(
            out,
            "with checkpoints ÷ without: within 20% in {within} of {} cells with a checkpoint; \
             lowest {lowest:.2} ({cell}){left_out}",
            cells.len()
        );
    } else if without > 0 {
        let _ = writeln!(
            out,
            "with checkpoints ÷ without: no cell took a checkpoint (runs shorter than \
             --checkpoint-every?)"
        );
    }
}

/// faster-kv ÷ each peer, one column per peer, then a plain summary per peer.
fn ratio_table(out: &mut String, systems: &[SystemReport], ratios: &[Ratio]) {
    let Some((faster, peers)) = systems.split_first() else {
        return;
    };
    let peers: Vec<&SystemReport> = peers
        .iter()
        .filter(|p| !p.results.is_empty() && p.name != CHECKPOINTING)
        .collect();
    if peers.is_empty() || faster.results.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nfaster-kv Mops/s ÷ peer Mops/s (above 1: faster-kv is faster; * the peer returned wrong data):"
    );
    let _ = write!(out, "{:<11} {:<10} {:>3}", "workload", "dist", "thr");
    for p in &peers {
        let _ = write!(out, " {:>16}", format!("/ {}", p.name));
    }
    let _ = writeln!(out);
    for ours in &faster.results {
        let _ = write!(
            out,
            "{:<11} {:<10} {:>3}",
            ours.workload, ours.distribution, ours.threads
        );
        for p in &peers {
            let cell = ratios
                .iter()
                .find(|r| {
                    r.peer == p.name
                        && r.workload == ours.workload
                        && r.distribution == ours.distribution
                        && r.threads == ours.threads
                })
                .map_or_else(
                    || "-".to_string(),
                    |r| {
                        format!(
                            "{:.2}{}",
                            r.ratio,
                            if r.peer_wrong_data { "*" } else { " " }
                        )
                    },
                );
            let _ = write!(out, " {cell:>16}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out);
    for p in &peers {
        let cells: Vec<&Ratio> = ratios.iter().filter(|r| r.peer == p.name).collect();
        let name = |r: &&Ratio| format!("{} {} {} thr", r.workload, r.distribution, r.threads);
        let (wins, losses): (Vec<&Ratio>, Vec<&Ratio>) = cells.iter().partition(|r| r.ratio > 1.0);
        let listed = |v: &[&Ratio]| v.iter().map(name).collect::<Vec<_>>().join(", ");
        let mut line = format!("faster-kv vs {}: ", p.name);
        if losses.is_empty() {
            let _ = write!(line, "faster in all {} cells", cells.len());
        } else if wins.is_empty() {
            let _ = write!(line, "slower in all {} cells", cells.len());
        } else if losses.len() <= wins.len() {
            let _ = write!(
                line,
                "faster in {} of {} cells, slower in {}: {}",
                wins.len(),
                cells.len(),
                losses.len(),
                listed(&losses)
            );
        } else {
            let _ = write!(
                line,
                "slower in {} of {} cells, faster in {}: {}",
                losses.len(),
                cells.len(),
                wins.len(),
                listed(&wins)
            );
        }
        if p.wrong_data() {
            line.push_str("; this peer returned wrong data");
        }
        let ended = match p.status {
            Status::Hung => Some("hung"),
            Status::TooSlow => Some("was too slow for its time limit"),
            Status::Crashed => Some("crashed"),
            Status::Ok | Status::WrongData | Status::Skipped => None,
        };
        if let Some(ended) = ended {
            let _ = write!(line, "; this peer {ended} before finishing");
        }
        let _ = writeln!(out, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{RunResult, Verification};

    fn system(name: &str, mops: &[f64], wrong: u64) -> SystemReport {
        let mut report = SystemReport::new(name);
        for (i, &m) in mops.iter().enumerate() {
            report.results.push(RunResult::new(
                name.into(),
                "100% read",
                "uniform",
                i + 1,
                (m * 1e6) as u64,
                1.0,
                vec![100, 200],
            ));
        }
        report.after_load = Some(Verification {
            keys: 10,
            checked: 10,
            ..Verification::default()
        });
        report.after_runs = Some(Verification {
            keys: 10,
            checked: 10,
            wrong,
            ..Verification::default()
        });
        report.settle();
        report
    }

    #[test]
    fn faster_kv_memory_is_printed_beside_its_budget() {
        let mut ours = system("faster-kv", &[1.0], 0);
        ours.memory = Some(crate::bench::report::MemoryReport {
            log_budget: 3 << 20,
            log_bytes: 2 << 20,
            index_bytes: 32 << 20,
            read_cache_bytes: 16 << 20,
            read_cache_hits: Some((90, 10)),
            peak_rss_bytes: crate::bench::report::peak_rss(),
        });
        let text = render(&[ours, system("peer", &[1.0], 0)], "NOTE");
        assert!(
            text.contains("Memory of faster-kv: log pages 2.0 MiB of a 3.0 MiB budget"),
            "{text}"
        );
        assert!(
            text.contains("read cache 16.0 MiB outside it (90 hits, 10 misses)"),
            "{text}"
        );
        assert!(text.contains("index 32.0 MiB outside it"), "{text}");
        assert!(text.contains("peak RSS of the process "), "{text}");
        assert!(!text.contains("Memory of peer"), "{text}");
    }

    #[test]
    fn ratios_say_where_faster_kv_wins_and_flag_wrong_peers() {
        let systems = [
            system("faster-kv", &[2.0, 3.0], 0),
            system("fast-peer", &[4.0, 1.5], 0),
            system("wrong-peer", &[1.0, 1.0], 2),
        ];
        let text = render(&systems, "NOTE");
        assert!(text.contains("faster-kv vs fast-peer: faster in 1 of 2 cells, slower in 1: 100% read uniform 1 thr"), "{text}");
        assert!(
            text.contains(
                "faster-kv vs wrong-peer: faster in all 2 cells; this peer returned wrong data"
            ),
            "{text}"
        );
        assert!(text.contains("0.50 "), "{text}");
        assert!(text.contains("3.00*"), "{text}");
        assert!(text.contains("wrong-peer     WRONG DATA"), "{text}");
        let row = text
            .lines()
            .find(|l| l.starts_with("wrong-peer "))
            .unwrap_or_default();
        assert!(row.ends_with("WRONG"), "{row}");
    }

    #[test]
    fn rows_say_their_mode_and_a_pipelined_table_explains_its_latencies() {
        let mut ours = system("faster-kv", &[2.0], 0);
        ours.results[0].mode = Mode::Pipelined;
        let text = render(&[ours, system("peer", &[1.0], 0)], "NOTE");
        let header = text.lines().next().unwrap_or_default();
        assert!(header.contains(" dist "), "{header}");
        assert!(!header.contains("keys"), "{header}");
        let row = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_default()
                .to_string()
        };
        assert!(row("faster-kv ").contains(" pipelined "), "{text}");
        assert!(row("peer ").contains(" single "), "{text}");
        assert!(text.contains("\nLatency: NOTE.\n"), "{text}");
        let single = render(&[system("faster-kv", &[2.0], 0)], "NOTE");
        assert!(!single.contains("Latency:"), "{single}");
    }

    #[test]
    fn cells_without_a_checkpoint_are_left_out_of_the_checkpoint_summary() {
        let plain = system("faster-kv", &[1.0, 1.0], 0);
        let mut with = system(CHECKPOINTING, &[0.5, 0.1], 0);
        with.results[0].checkpoint_seconds = vec![0.2];
        // The second cell took no checkpoint: its 0.10 says nothing of checkpoints.
        let text = render(&[plain, with], "NOTE");
        assert!(
            text.contains(
                "within 20% in 0 of 1 cells with a checkpoint; lowest 0.50 (100% read uniform 1 \
                 thr) (1 cells without a checkpoint left out)"
            ),
            "{text}"
        );
        assert!(!text.contains("lowest 0.10"), "{text}");
    }
}
