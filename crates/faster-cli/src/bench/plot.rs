//! `faster bench --out FILE`: the JSON report written to FILE and, beside it as FILE.svg, a
//! grouped bar chart of throughput: one group per cell (workload, distribution, threads), one
//! bar per system, its height the cell's Mops/s, written above it to two decimals as the
//! JSON's `mops` rounds to.
//!
//! The chart is drawn from a [`Figure`] taken from the very reports the JSON serialises.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::FontTransform;

use super::report::{self, Report};

/// A colour per system, in the order the systems first appear.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1F, 0x77, 0xB4),
    RGBColor(0xFF, 0x7F, 0x0E),
    RGBColor(0x2C, 0xA0, 0x2C),
    RGBColor(0xD6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xBD),
    RGBColor(0x8C, 0x56, 0x4B),
    RGBColor(0xE3, 0x77, 0xC2),
    RGBColor(0x7F, 0x7F, 0x7F),
    RGBColor(0xBC, 0xBD, 0x22),
    RGBColor(0x17, 0xBE, 0xCF),
];

/// Pixels per group of bars, at least.
const GROUP_PX: u32 = 140;
const HEIGHT: u32 = 560;

/// What the chart shows: the throughput of every system in every cell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Figure {
    /// One label per group (cell), in the order the cells ran.
    pub(crate) groups: Vec<String>,
    /// One name per system, in report order.
    pub(crate) systems: Vec<String>,
    /// `mops[group][system]`: none where the system did not measure the cell.
    pub(crate) mops: Vec<Vec<Option<f64>>>,
}

/// The figure of `reports` (one per memory budget; with several, each group's label starts
/// with its budget): every timed run of every system, the loads left out.
pub(crate) fn figure(reports: &[Report]) -> Figure {
    let mut fig = Figure {
        groups: Vec::new(),
        systems: Vec::new(),
        mops: Vec::new(),
    };
    for report in reports {
        let budget = if reports.len() > 1 {
            let mib = report.settings().memory_budget as f64 / f64::from(1 << 20);
            format!("{mib:.0} MiB: ")
        } else {
            String::new()
        };
        for system in report.systems() {
            for r in system.results.iter().filter(|r| r.workload != "load") {
                let group = format!("{budget}{}|{} {}t", r.workload, r.distribution, r.threads);
                let g = index_of(&mut fig.groups, &group);
                let s = index_of(&mut fig.systems, &system.name);
                if fig.mops.len() <= g {
                    fig.mops.resize(g + 1, Vec::new());
                }
                let row = &mut fig.mops[g];
                if row.len() <= s {
                    row.resize(s + 1, None);
                }
                row[s] = Some(r.mops);
            }
        }
    }
    let systems = fig.systems.len();
    for row in &mut fig.mops {
        row.resize(systems, None);
    }
    fig
}

/// The index of `name` in `names`, added at the end if missing.
fn index_of(names: &mut Vec<String>, name: &str) -> usize {
    names.iter().position(|n| n == name).unwrap_or_else(|| {
        names.push(name.to_string());
        names.len() - 1
    })
}

/// The colour of system `index`.
fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// The chart of `fig` as an SVG document.
///
/// # Errors
/// When plotters fails to draw.
pub(crate) fn svg(fig: &Figure) -> Result<String, String> {
    let err = |e: &dyn std::fmt::Display| format!("plot: {e}");
    let groups = fig.groups.len().max(1);
    let width = (u32::try_from(groups).unwrap_or(u32::MAX))
        .saturating_mul(GROUP_PX)
        .saturating_add(220)
        .max(640);
    let max = fig
        .mops
        .iter()
        .flatten()
        .flatten()
        .copied()
        .fold(0.0f64, f64::max);
    let top = if max > 0.0 { max * 1.2 } else { 1.0 };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (plot, legend) = root.split_horizontally(width - 180);
        let mut chart = ChartBuilder::on(&plot)
            .caption("faster bench: throughput per cell", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..groups as f64, 0f64..top)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            // One decimal: the bars' values have two.
            .y_label_formatter(&|v| format!("{v:.1}"))
            .y_desc("Mops/s")
            .draw()
            .map_err(|e| err(&e))?;
        let systems = fig.systems.len().max(1) as f64;
        let bar = 0.8 / systems;
        let value_font = TextStyle::from(("sans-serif", 10).into_font())
            .transform(FontTransform::Rotate270)
            .color(&BLACK);
        for (g, row) in fig.mops.iter().enumerate() {
            for (s, value) in row.iter().enumerate() {
                let Some(v) = *value else { continue };
                let x0 = g as f64 + 0.1 + s as f64 * bar;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, 0.0), (x0 + bar * 0.9, v)],
                        colour(s).filled(),
                    )))
                    .map_err(|e| err(&e))?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!("{v:.2}"),
                        (x0 + bar * 0.2, v + top * 0.01),
                        value_font.clone(),
                    )))
                    .map_err(|e| err(&e))?;
            }
        }
        // The cells' names under their groups, in two lines.
        let label_font = TextStyle::from(("sans-serif", 11).into_font()).color(&BLACK);
        for (g, label) in fig.groups.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(g as f64 + 0.1, 0.0));
            for (line, text) in label.split('|').enumerate() {
                let at = (px, py + 8 + 14 * i32::try_from(line).unwrap_or(0));
                plot.draw(&Text::new(text.to_string(), at, label_font.clone()))
                    .map_err(|e| err(&e))?;
            }
        }
        for (s, name) in fig.systems.iter().enumerate() {
            let y = 60 + 20 * i32::try_from(s).unwrap_or(0);
            let c = colour(s);
            let style = TextStyle::from(("sans-serif", 13).into_font()).color(&c);
            legend
                .draw(&Text::new(format!("■ {name}"), (10, y), style))
                .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(out)
}

/// The plot's path beside the report at `path`: the same name with the extension `svg`.
pub(crate) fn svg_path(path: &Path) -> PathBuf {
    path.with_extension("svg")
}

/// Writes the JSON of `reports` to `path` (as `--json` prints it) and their chart beside it.
///
/// # Errors
/// When `path` is itself an `.svg` file's name, or a file cannot be written.
pub(crate) fn write_beside(path: &Path, reports: &[Report]) -> Result<(), String> {
    let plot = svg_path(path);
    if plot == path {
        return Err(format!(
            "--out {}: name the JSON report; the plot goes beside it with the extension svg",
            path.display()
        ));
    }
    let json = report::json_text(reports)?;
    std::fs::write(path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    let drawn = svg(&figure(reports))?;
    std::fs::write(&plot, drawn).map_err(|e| format!("{}: {e}", plot.display()))?;
    eprintln!(
        "faster bench: report written to {}, its plot to {}",
        path.display(),
        plot.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bars of `colour` in `svg`, left to right: (x, height) in pixels.
    fn bars(svg: &str, colour: RGBColor) -> Vec<(i64, i64)> {
        let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", colour.0, colour.1, colour.2);
        let attr = |tag: &str, name: &str| -> Option<i64> {
            let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
            tag[at..].split('"').next()?.parse().ok()
        };
        svg.split("<rect")
            .skip(1)
            .map(|t| t.split('>').next().unwrap_or_default())
            .filter(|t| t.contains(&fill))
            .filter_map(|t| Some((attr(t, "x")?, attr(t, "height")?)))
            .collect()
    }

    /// The text of every `<text>` element.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let body = t.split_once('>')?.1;
                Some(body.split("</text>").next()?.trim().to_string())
            })
            .collect()
    }

    #[test]
    fn bar_heights_and_labels_are_the_figures() {
        let fig = Figure {
            groups: vec![
                "100% read|uniform 1t".into(),
                "100% rmw|zipf 0.99 1t".into(),
            ],
            systems: vec!["faster-kv".into(), "scc::HashMap".into()],
            mops: vec![vec![Some(8.0), Some(2.0)], vec![Some(4.0), None]],
        };
        let text = svg(&fig).unwrap_or_else(|e| panic!("{e}"));
        let ours = bars(&text, colour(0));
        let theirs = bars(&text, colour(1));
        assert_eq!(ours.len(), 2, "{ours:?}");
        assert_eq!(theirs.len(), 1, "{theirs:?}");
        // Heights in proportion to Mops/s (pixels are whole: within 1).
        let unit = ours[0].1 as f64 / 8.0;
        assert!(unit > 10.0, "{ours:?}");
        assert!((ours[1].1 as f64 - 4.0 * unit).abs() <= 1.0, "{ours:?}");
        assert!((theirs[0].1 as f64 - 2.0 * unit).abs() <= 1.0, "{theirs:?}");
        // The second system's bar stands beside the first's in the first group.
        assert!(ours[0].0 < theirs[0].0 && theirs[0].0 < ours[1].0);
        let labels = texts(&text);
        for want in ["8.00", "2.00", "4.00", "100% read", "zipf 0.99 1t"] {
            assert!(labels.iter().any(|l| l == want), "{want}: {labels:?}");
        }
        assert!(
            labels.iter().any(|l| l.ends_with("scc::HashMap")),
            "{labels:?}"
        );
    }

    /// A report at `budget` bytes of faster-kv and one peer, each with a load and two cells.
    fn report(budget: &str, ours: [f64; 2], theirs: [f64; 2]) -> Report {
        use crate::bench::report::{RunResult, SystemReport};
        let args = crate::bench::test_args(&["--memory-budget", budget, "--workloads", "rmw"]);
        let plan = crate::bench::plan::Plan::from_args(&args).unwrap_or_else(|e| panic!("{e}"));
        let settings = crate::bench::header::Settings::new(&args, &plan, vec!["scc".into()]);
        let system = |name: &str, mops: [f64; 2]| {
            let mut s = SystemReport::new(name);
            let run = |workload: &str, dist: &str, m: f64| {
                RunResult::new(
                    name.into(),
                    workload,
                    dist,
                    1,
                    (m * 1e6) as u64,
                    1.0,
                    vec![],
                )
            };
            s.results.push(run("load", "shuffled", 9.0));
            s.results.push(run("100% rmw", "uniform", mops[0]));
            s.results.push(run("100% rmw", "zipf 0.99", mops[1]));
            s
        };
        Report::new(
            settings,
            vec![system("faster-kv", ours), system("scc::HashMap", theirs)],
        )
    }

    #[test]
    fn the_figure_holds_every_cell_of_every_report_and_no_load() {
        let one = figure(&[report("67108864", [3.0, 4.0], [5.0, 6.0])]);
        assert_eq!(one.groups, ["100% rmw|uniform 1t", "100% rmw|zipf 0.99 1t"]);
        assert_eq!(one.systems, ["faster-kv", "scc::HashMap"]);
        assert_eq!(one.mops, [[Some(3.0), Some(5.0)], [Some(4.0), Some(6.0)]]);
        // Two budgets: each group is named with its budget.
        let two = figure(&[
            report("67108864", [3.0, 4.0], [5.0, 6.0]),
            report("8388608", [1.0, 2.0], [0.5, 0.25]),
        ]);
        assert_eq!(two.groups.len(), 4);
        assert_eq!(two.groups[0], "64 MiB: 100% rmw|uniform 1t");
        assert_eq!(two.groups[3], "8 MiB: 100% rmw|zipf 0.99 1t");
        assert_eq!(two.mops[3], [Some(2.0), Some(0.25)]);
    }

    #[test]
    fn an_svg_name_is_refused_for_the_report() {
        let err = write_beside(Path::new("/nonexistent/r.svg"), &[]).unwrap_err();
        assert!(err.contains("name the JSON report"), "{err}");
        assert_eq!(svg_path(Path::new("a/b.json")), Path::new("a/b.svg"));
    }
}
