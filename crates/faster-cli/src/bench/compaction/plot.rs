//! The SVG plot: disk usage (MiB) over time, one polyline per variant, with axes, ticks, a
//! legend, and dashed lines for the disk goal and the disk cap.
//!
//! The root element carries the axes' ranges (`data-seconds`, `data-mib`: `0 END`) and the
//! plot area is the rectangle `id="plot-area"`, so a reader can map every polyline point
//! back to the sample it shows.

use std::fmt::Write as _;

use super::summary::Report;

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 540.0;
/// The plot area.
const LEFT: f64 = 80.0;
const TOP: f64 = 50.0;
const PLOT_W: f64 = 640.0;
const PLOT_H: f64 = 420.0;
const MIB: f64 = (1u64 << 20) as f64;

/// A colour per variant.
fn colour(id: &str) -> &'static str {
    match id {
        "a" => "#d62728",
        "b" => "#1f77b4",
        "c" => "#ff7f0e",
        _ => "#2ca02c",
    }
}

/// A round step (1, 2 or 5 × a power of ten) that cuts `0..max` into at most 8 parts.
pub(super) fn tick_step(max: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let raw = max / 8.0;
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power)
}

/// `max` rounded up to a whole number of `step`s.
fn axis_end(max: f64, step: f64) -> f64 {
    ((max / step).ceil() * step).max(step)
}

/// Text with `&`, `<`, `>` and `"` escaped.
pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The plot of `report`.
pub(super) fn render(report: &Report) -> String {
    let s = &report.settings;
    let live_mib = s.live_bytes as f64 / MIB;
    let goal_mib = (2 * s.live_bytes + 2 * s.segment_size) as f64 / MIB;
    let cap_mib = s.disk_cap_bytes as f64 / MIB;
    let samples = report.variants.iter().flat_map(|v| v.samples.iter());
    let t_max = samples
        .clone()
        .map(|p| p.seconds)
        .fold(s.duration, f64::max);
    let disk_max = samples
        .map(|p| p.disk_bytes as f64 / MIB)
        .fold(goal_mib, f64::max);
    let (x_step, y_step) = (tick_step(t_max), tick_step(disk_max));
    let (x_end, y_end) = (axis_end(t_max, x_step), axis_end(disk_max, y_step));
    let x = |t: f64| LEFT + t / x_end * PLOT_W;
    let y = |mib: f64| TOP + PLOT_H - mib / y_end * PLOT_H;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\" \
         data-seconds=\"0 {x_end}\" data-mib=\"0 {y_end}\">"
    );
    let _ = writeln!(
        out,
        "<rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"white\"/>\n<text x=\"{}\" y=\"28\" \
         text-anchor=\"middle\" font-size=\"15\">{}</text>",
        LEFT + PLOT_W / 2.0,
        escape(&format!(
            "Disk usage under sustained updates: {} keys, {} B values, {:.0} MiB live, {} \
             thread(s)",
            s.keys, s.value_size, live_mib, s.threads
        )),
    );
    // Grid, ticks and tick labels.
    let mut t = 0.0;
    while t <= x_end + x_step / 1e6 {
        let _ = writeln!(
            out,
            "<line x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{1}\" stroke=\"#e0e0e0\"/>\
             <line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"black\"/>\
             <text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>",
            x(t),
            TOP + PLOT_H,
            TOP + PLOT_H + 5.0,
            TOP + PLOT_H + 19.0,
            number(t),
        );
        t += x_step;
    }
    let mut m = 0.0;
    while m <= y_end + y_step / 1e6 {
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\" stroke=\"#e0e0e0\"/>\
             <line x1=\"{2}\" y1=\"{0:.1}\" x2=\"{LEFT}\" y2=\"{0:.1}\" stroke=\"black\"/>\
             <text x=\"{3}\" y=\"{4:.1}\" text-anchor=\"end\">{5}</text>",
            y(m),
            LEFT + PLOT_W,
            LEFT - 5.0,
            LEFT - 8.0,
            y(m) + 4.0,
            number(m),
        );
        m += y_step;
    }
    let _ = writeln!(
        out,
        "<rect id=\"plot-area\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{PLOT_W}\" height=\"{PLOT_H}\" \
         fill=\"none\" stroke=\"black\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">seconds since the \
         updates started</text>\n<text x=\"20\" y=\"{}\" text-anchor=\"middle\" \
         transform=\"rotate(-90 20 {})\">disk usage (MiB)</text>",
        LEFT + PLOT_W / 2.0,
        TOP + PLOT_H + 42.0,
        TOP + PLOT_H / 2.0,
        TOP + PLOT_H / 2.0,
    );
    // Reference lines, inside the area when they fit.
    for (mib, label) in [
        (goal_mib, "goal: 2 × live + 2 segments"),
        (cap_mib, "disk cap"),
    ] {
        if mib <= y_end {
            let _ = writeln!(
                out,
                "<line x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\" stroke=\"#555\" \
                 stroke-dasharray=\"6 4\"/><text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\" \
                 fill=\"#555\">{4}</text>",
                y(mib),
                LEFT + PLOT_W,
                LEFT + PLOT_W - 4.0,
                y(mib) - 4.0,
                escape(label),
            );
        }
    }
    // The data.
    for v in &report.variants {
        let points: Vec<String> = v
            .samples
            .iter()
            .map(|p| format!("{:.2},{:.2}", x(p.seconds), y(p.disk_bytes as f64 / MIB)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline data-variant=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" \
             stroke-linejoin=\"round\" points=\"{}\"/>",
            escape(&v.id),
            colour(&v.id),
            points.join(" "),
        );
    }
    // Legend.
    let lx = LEFT + PLOT_W + 20.0;
    for (i, v) in report.variants.iter().enumerate() {
        let ly = TOP + 10.0 + 22.0 * i as f64;
        let _ = writeln!(
            out,
            "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{}\" \
             stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">{}</text>",
            lx + 22.0,
            colour(&v.id),
            lx + 28.0,
            ly + 4.0,
            escape(&format!("({}) {}", v.id, v.name.replace("fold-over ", ""))),
        );
    }
    out.push_str("</svg>\n");
    out
}

/// A tick label: no trailing zeros.
fn number(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(60.0), 10.0);
        assert_eq!(tick_step(2.2), 0.5);
        assert_eq!(tick_step(2600.0), 500.0);
        assert_eq!(tick_step(0.0), 1.0);
        assert_eq!(axis_end(61.0, 10.0), 70.0);
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(20.0), "20");
        assert_eq!(escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
    }
}
