//! `faster bench compaction` end to end: a tiny run of the built binary, its JSON samples,
//! and its SVG plot (well-formed XML whose polylines are the JSON's samples).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking; the values come from our own binary"
)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// An element of an XML document: its name and attributes.
#[derive(Debug)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
}

/// Whether `text` holds only well-formed character and entity references.
fn check_references(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        let after = &rest[at + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| format!("unterminated reference in {text:?}"))?;
        let name = &after[..end];
        let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
            || name
                .strip_prefix("#x")
                .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || name
                .strip_prefix('#')
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(format!("bad reference &{name}; in {text:?}"));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.')
}

/// Checks that `doc` is a well-formed XML document (one root element, balanced tags, quoted
/// and unique attributes, valid references, no stray `<`); returns its elements in order.
fn parse_xml(doc: &str) -> Result<Vec<Element>, String> {
    let mut elements = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = doc;
    while !rest.is_empty() {
        let Some(tag) = rest.strip_prefix('<') else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..end];
            if open.is_empty() && !text.trim().is_empty() {
                return Err(format!("text outside the root: {text:?}"));
            }
            check_references(text)?;
            rest = &rest[end..];
            continue;
        };
        if let Some(body) = tag.strip_prefix("?") {
            let end = body
                .find("?>")
                .ok_or("unterminated processing instruction")?;
            rest = &body[end + 2..];
        } else if let Some(body) = tag.strip_prefix("!--") {
            let end = body.find("-->").ok_or("unterminated comment")?;
            rest = &body[end + 3..];
        } else if let Some(body) = tag.strip_prefix('/') {
            let end = body.find('>').ok_or("unterminated end tag")?;
            let name = body[..end].trim_end();
            match open.pop() {
                Some(top) if top == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            rest = &body[end + 1..];
        } else {
            let name_end = tag.find(|c: char| !is_name_char(c)).unwrap_or(tag.len());
            let name = &tag[..name_end];
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                return Err(format!(
                    "bad element name at {:?}",
                    &tag[..tag.len().min(20)]
                ));
            }
            if open.is_empty() {
                roots += 1;
            }
            let mut body = &tag[name_end..];
            let mut attributes: Vec<(String, String)> = Vec::new();
            let closed = loop {
                let trimmed = body.trim_start();
                if let Some(after) = trimmed.strip_prefix("/>") {
                    body = after;
                    break true;
                }
                if let Some(after) = trimmed.strip_prefix('>') {
                    body = after;
                    break false;
                }
                if trimmed.len() == body.len() {
                    return Err(format!("no space before an attribute of <{name}>"));
                }
                let key_end = trimmed.find(|c: char| !is_name_char(c)).unwrap_or(0);
                let key = &trimmed[..key_end];
                let after = trimmed[key_end..]
                    .strip_prefix('=')
                    .ok_or_else(|| format!("attribute {key:?} of <{name}> has no '='"))?;
                let quote = after
                    .chars()
                    .next()
                    .filter(|q| *q == '"' || *q == '\'')
                    .ok_or_else(|| format!("attribute {key} of <{name}> is not quoted"))?;
                let value_end = after[1..]
                    .find(quote)
                    .ok_or_else(|| format!("attribute {key} of <{name}> is not closed"))?;
                let value = &after[1..1 + value_end];
                if key.is_empty() || value.contains('<') {
                    return Err(format!("bad attribute {key:?}={value:?} of <{name}>"));
                }
                check_references(value)?;
                if attributes.iter().any(|(k, _)| k == key) {
                    return Err(format!("attribute {key} repeated in <{name}>"));
                }
                attributes.push((key.to_string(), value.to_string()));
                body = &after[value_end + 2..];
            };
            if !closed {
                open.push(name.to_string());
            }
            elements.push(Element {
                name: name.to_string(),
                attributes,
            });
            rest = body;
        }
    }
    if !open.is_empty() || roots != 1 {
        return Err(format!("{roots} root elements; unclosed: {open:?}"));
    }
    Ok(elements)
}

#[test]
fn the_xml_check_refuses_what_is_not_well_formed() {
    assert!(parse_xml("<a x=\"1\"><b/>t &amp; u</a>").is_ok());
    for bad in [
        "<a><b></a>",
        "<a x=1/>",
        "<a x=\"1\" x=\"2\"/>",
        "<a>&nbsp;</a>",
        "<a/><b/>",
        "<a>",
        "<a x=\"<\"/>",
    ] {
        assert!(parse_xml(bad).is_err(), "{bad}");
    }
}

fn attribute<'a>(element: &'a Element, key: &str) -> Option<&'a str> {
    element
        .attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn run_tiny(dir: &Path) -> Value {
    let json = dir.join("out.json");
    let output = Command::new(env!("CARGO_BIN_EXE_faster"))
        .args(["bench", "compaction", "--keys", "5000", "--duration", "2"])
        .args([
            "--sample",
            "0.2",
            "--page-size-bits",
            "12",
            "--segment-size",
            "65536",
        ])
        .args(["--checkpoint-every", "0.5", "--dir"])
        .arg(dir.join("stores"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "faster bench compaction failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
}

#[test]
fn tiny_run_samples_every_variant_and_compaction_keeps_the_disk_smaller() {
    let dir = tempfile::tempdir().unwrap();
    let report = run_tiny(dir.path());
    let variants = report["variants"].as_array().unwrap();
    let ids: Vec<&str> = variants.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    for v in variants {
        let samples = v["samples"].as_array().unwrap();
        assert!(samples.len() >= 3, "{v:#}");
        let times: Vec<f64> = samples
            .iter()
            .map(|s| s["seconds"].as_f64().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        let ops: Vec<u64> = samples.iter().map(|s| s["ops"].as_u64().unwrap()).collect();
        assert!(ops.windows(2).all(|w| w[0] <= w[1]), "{ops:?}");
        assert!(ops.last().unwrap() > &0);
    }
    let final_disk = |i: usize| variants[i]["summary"]["disk_final_bytes"].as_u64().unwrap();
    assert!(
        final_disk(1) < final_disk(0),
        "(b) {} (a) {}",
        final_disk(1),
        final_disk(0)
    );
    assert!(variants[1]["summary"]["compactions"].as_u64().unwrap() > 0);
    assert!(variants[3]["summary"]["checkpoints"].as_u64().unwrap() > 0);
    assert_eq!(report["scan"]["records"], 5000);
    assert_eq!(report["throughput_ratios"].as_array().unwrap().len(), 2);
    assert_eq!(report["disk_goals"].as_array().unwrap().len(), 2);
    // The variants' directories are removed after their runs.
    let left = std::fs::read_dir(dir.path().join("stores"))
        .unwrap()
        .count();
    assert_eq!(left, 0);

    // The plot: well-formed, and one polyline per variant through its samples, mapped onto
    // the plot area by the axes' ranges.
    let svg = std::fs::read_to_string(dir.path().join("out.json.svg")).unwrap();
    let elements = parse_xml(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    let root = &elements[0];
    assert_eq!(root.name, "svg");
    let range_end = |key: &str| -> f64 {
        let range = attribute(root, key).unwrap();
        let (start, end) = range.split_once(' ').unwrap();
        assert_eq!(start, "0");
        end.parse().unwrap()
    };
    let (seconds_end, mib_end) = (range_end("data-seconds"), range_end("data-mib"));
    let area = elements
        .iter()
        .find(|e| attribute(e, "id") == Some("plot-area"))
        .unwrap();
    let number = |key: &str| -> f64 { attribute(area, key).unwrap().parse().unwrap() };
    let (left, top, width, height) = (number("x"), number("y"), number("width"), number("height"));
    let lines: Vec<&Element> = elements.iter().filter(|e| e.name == "polyline").collect();
    assert_eq!(lines.len(), 4);
    for (line, v) in lines.iter().zip(variants) {
        assert_eq!(attribute(line, "data-variant"), v["id"].as_str());
        let points: Vec<(f64, f64)> = attribute(line, "points")
            .unwrap()
            .split_whitespace()
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        let samples = v["samples"].as_array().unwrap();
        assert_eq!(points.len(), samples.len());
        for ((x, y), s) in points.iter().zip(samples) {
            let seconds = s["seconds"].as_f64().unwrap();
            let mib = s["disk_bytes"].as_f64().unwrap() / f64::from(1u32 << 20);
            let want_x = left + seconds / seconds_end * width;
            let want_y = top + height - mib / mib_end * height;
            assert!(
                (x - want_x).abs() < 0.01 && (y - want_y).abs() < 0.01,
                "point {x},{y}, sample {s}: expected {want_x},{want_y}"
            );
        }
    }
}
