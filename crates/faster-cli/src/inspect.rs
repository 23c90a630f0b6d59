//! `faster inspect DIR` and `faster verify DIR`: what a store directory holds, and whether every
//! checksum in it is right — without opening the store.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use clap::Args;
use faster_kv::LogCheckpointKind;
use faster_kv::checkpoint::{CheckpointEntry, Finding, Inventory, inspect, verify};

/// Options of `faster inspect` and `faster verify`.
#[derive(Debug, Args)]
pub(crate) struct DirArgs {
    /// The store's directory (the one given to `FasterKv::open` or the builder's `dir`).
    dir: PathBuf,
}

/// `faster inspect`: prints the log segments and every checkpoint with its log regions.
pub(crate) fn run_inspect(args: &DirArgs) -> Result<(), String> {
    let inventory = list(&args.dir)?;
    print!("{}", describe(&inventory));
    Ok(())
}

/// `faster verify`: checks every checkpoint's checksums; an error (exit status 1) naming the
/// first bad byte range of each damaged file, if there is one.
pub(crate) fn run_verify(args: &DirArgs) -> Result<(), String> {
    let inventory = list(&args.dir)?;
    let findings = verify(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    if findings.is_empty() {
        println!(
            "{}: ok: {} checkpoint(s) checked, every checksum valid",
            args.dir.display(),
            inventory.checkpoints.len()
        );
        return Ok(());
    }
    print!("{}", findings_text(&findings));
    Err(format!(
        "{}: {} damaged file(s)",
        args.dir.display(),
        findings.len()
    ))
}

fn list(dir: &Path) -> Result<Inventory, String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    inspect(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// One line per finding: file, byte range, problem.
fn findings_text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let _ = writeln!(
            out,
            "{}: bytes {}..{}: {}",
            f.file.display(),
            f.range.start,
            f.range.end,
            f.problem
        );
    }
    out
}

/// The inventory as text.
fn describe(inventory: &Inventory) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "store directory {}", inventory.dir.display());
    let total: u64 = inventory.segments.iter().map(|(_, b)| b).sum();
    match (inventory.segments.first(), inventory.segments.last()) {
        (Some((first, _)), Some((last, _))) => {
            let _ = writeln!(
                out,
                "log: {} segment file(s), log.{first:08} ..= log.{last:08}, {}",
                inventory.segments.len(),
                bytes(total)
            );
        }
        _ => {
            let _ = writeln!(out, "log: no segment files");
        }
    }
    if inventory.checkpoints.is_empty() {
        let _ = writeln!(out, "checkpoints: none");
        return out;
    }
    let _ = writeln!(
        out,
        "checkpoints ({}, oldest first):",
        inventory.checkpoints.len()
    );
    for c in &inventory.checkpoints {
        checkpoint_text(&mut out, c);
    }
    if let Some(latest) = inventory
        .checkpoints
        .iter()
        .rev()
        .find(|c| c.meta.is_some())
    {
        let _ = writeln!(
            out,
            "recovery without a token takes checkpoint {}",
            latest.token
        );
    } else {
        let _ = writeln!(out, "no checkpoint is recoverable");
    }
    out
}

fn checkpoint_text(out: &mut String, c: &CheckpointEntry) {
    let Some(meta) = &c.meta else {
        let _ = writeln!(
            out,
            "  {:>6}  not recoverable ({}): {}",
            c.token,
            bytes(c.bytes),
            c.problem.as_deref().unwrap_or("no metadata")
        );
        return;
    };
    let created = UNIX_EPOCH + Duration::from_millis(meta.created_unix_ms);
    let age = created.elapsed().map_or_else(
        |_| "in the future".to_string(),
        |d| format!("{}s ago", d.as_secs()),
    );
    let log = meta.log.as_ref().map_or_else(
        || "no log part (index only)".to_string(),
        |l| {
            let kind = match l.kind {
                LogCheckpointKind::FoldOver => "fold-over",
                LogCheckpointKind::Snapshot => "snapshot",
                LogCheckpointKind::IncrementalSnapshot => "incremental snapshot",
            };
            let mut text = format!(
                "{kind}; log begin {:#x}, final {:#x} ({} of log)",
                l.begin,
                l.final_address,
                bytes(l.final_address.saturating_sub(l.begin))
            );
            if l.kind != LogCheckpointKind::FoldOver {
                let _ = write!(text, ", snapshot from {:#x}", l.snapshot_start);
            }
            if !l.base_chain.is_empty() {
                let _ = write!(text, ", on top of checkpoint(s) {:?}", l.base_chain);
            }
            text
        },
    );
    let index = if meta.index.is_some() {
        format!("own index snapshot ({} buckets)", meta.index_meta.buckets)
    } else {
        format!("index from checkpoint {}", meta.index_token)
    };
    let _ = writeln!(
        out,
        "  {:>6}  version {}, {} session(s), {}, {age}\n          {log}\n          {index}",
        c.token,
        meta.version,
        meta.sessions.len(),
        bytes(c.bytes),
    );
}

/// A byte count for people.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::{describe, findings_text, list};
    use faster_kv::checkpoint::{Finding, verify};
    use faster_kv::{CheckpointOptions, FasterKv, LogCheckpointKind};

    /// Both kinds of log checkpoint and an incomplete one, as `faster inspect` lists them.
    #[test]
    fn describe_lists_kinds_regions_and_the_checkpoint_recovery_takes() {
        let dir = tempfile::tempdir().unwrap();
        let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
        let mut s = store.session().unwrap();
        (0..500u64).for_each(|k| s.upsert(&k, &k).unwrap());
        let fold_over = CheckpointOptions {
            log: LogCheckpointKind::FoldOver,
            index: true,
        };
        let first = store.checkpoint_with(fold_over).unwrap().wait().unwrap();
        // The default kind: a snapshot.
        let options = CheckpointOptions {
            index: false,
            ..CheckpointOptions::default()
        };
        let second = store.checkpoint_with(options).unwrap().wait().unwrap();
        drop((s, store));
        // A directory without its completion marker does not count.
        let unfinished = dir
            .path()
            .join("checkpoints")
            .join(format!("checkpoint-{:020}", 99));
        std::fs::create_dir_all(&unfinished).unwrap();

        let text = describe(&list(dir.path()).unwrap());
        for want in [
            format!("  {:>6}  version", first.token),
            "fold-over; log begin".to_string(),
            "own index snapshot".to_string(),
            "snapshot; log begin".to_string(),
            format!("index from checkpoint {}", first.token),
            "    99  not recoverable".to_string(),
            format!("recovery without a token takes checkpoint {}", second.token),
        ] {
            assert!(text.contains(&want), "no `{want}` in:\n{text}");
        }
        assert!(
            verify(dir.path())
                .unwrap()
                .iter()
                .all(|f| f.file.starts_with(&unfinished))
        );
    }

    #[test]
    fn findings_name_the_file_and_byte_range() {
        let f = Finding {
            file: "x/meta.dat".into(),
            range: 3..9,
            problem: "bad checksum".into(),
        };
        assert_eq!(
            findings_text(&[f]),
            "x/meta.dat: bytes 3..9: bad checksum\n"
        );
    }

    #[test]
    fn a_missing_directory_is_a_clear_error() {
        let err = list(std::path::Path::new("/nonexistent/faster-store")).unwrap_err();
        assert!(err.contains("not a directory"), "{err}");
    }
}
