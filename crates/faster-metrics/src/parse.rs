//! A strict reader of the text [`Exposition`](crate::Exposition) writes, for tests and tools
//! that check a page: every sample line is `name{label="value",…} value`, and every metric
//! family has its `# HELP` and `# TYPE` lines before its first sample.

use std::collections::{BTreeMap, BTreeSet};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Sample {
    /// The sample's name (a histogram's carry `_bucket`, `_sum` or `_count`).
    pub name: String,
    /// Its labels, by name.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

/// Reads a page: its samples in order, or the first line that breaks the format (numbered
/// from 1).
///
/// # Errors
/// A description of the first bad line: a malformed sample, a sample of a family without
/// `# HELP` or `# TYPE` before it, an unknown type, a family declared twice.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut helped = BTreeSet::new();
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            check_name(name).map_err(|e| format!("line {n}: {e}"))?;
            if !helped.insert(name.to_string()) {
                return Err(format!("line {n}: a second HELP for {name}"));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| format!("line {n}: TYPE without a type"))?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(format!("line {n}: unknown type {kind}"));
            }
            if typed.insert(name.to_string(), kind.to_string()).is_some() {
                return Err(format!("line {n}: a second TYPE for {name}"));
            }
        } else if line.starts_with('#') || line.trim().is_empty() {
            continue;
        } else {
            let sample = parse_sample(line).map_err(|e| format!("line {n}: {e}"))?;
            let family = family_of(&sample.name, &typed);
            if !helped.contains(family) || !typed.contains_key(family) {
                return Err(format!(
                    "line {n}: {} has no HELP and TYPE before it",
                    sample.name
                ));
            }
            samples.push(sample);
        }
    }
    Ok(samples)
}

/// The family a sample belongs to: its name, or a histogram's name without the suffix.
fn family_of<'a>(name: &'a str, typed: &BTreeMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && typed.get(base).is_some_and(|k| k == "histogram")
        {
            return base;
        }
    }
    name
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("a sample without a value")?;
    let name = &line[..name_end];
    check_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = parse_labels(inner, &mut labels)?;
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or("no space before the value")?
        .trim_end();
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().map_err(|_| format!("bad value {v:?}"))?,
    };
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Reads `label="value",…}` and returns what follows the closing brace.
fn parse_labels<'a>(
    mut text: &'a str,
    labels: &mut BTreeMap<String, String>,
) -> Result<&'a str, String> {
    loop {
        if let Some(after) = text.strip_prefix('}') {
            return Ok(after);
        }
        let (label, after) = text.split_once("=\"").ok_or("a label without =\"")?;
        check_name(label)?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    _ => return Err("a bad escape in a label value".into()),
                },
                Some((_, c)) => value.push(c),
                None => return Err("an unterminated label value".into()),
            }
        };
        if labels.insert(label.to_string(), value).is_some() {
            return Err(format!("label {label} twice"));
        }
        text = &after[end + 1..];
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Exposition, Histogram};

    #[test]
    fn what_the_writer_writes_reads_back() {
        let mut out = Exposition::new();
        out.counters(
            "x_total",
            "X.",
            &[(&[("cause", "a\"b")], 1), (&[("cause", "c")], 2)],
        );
        out.histogram("h_seconds", "H.", &Histogram::new().snapshot());
        let samples = parse(&out.finish()).unwrap();
        assert_eq!(samples[0].label("cause"), Some("a\"b"));
        assert_eq!(samples[1].value, 2.0);
        assert_eq!(
            samples.last().map(|s| s.name.as_str()),
            Some("h_seconds_count")
        );
    }

    #[test]
    fn a_sample_without_help_or_type_or_with_a_bad_value_is_refused() {
        assert!(parse("x_total 1\n").unwrap_err().contains("no HELP"));
        assert!(parse("# HELP x X.\nx 1\n").unwrap_err().contains("no HELP"));
        let bad = "# HELP x X.\n# TYPE x gauge\nx{a=\"1\" 1\n";
        assert!(parse(bad).is_err());
        let bad = "# HELP x X.\n# TYPE x gauge\nx one\n";
        assert!(parse(bad).unwrap_err().contains("bad value"));
    }
}
