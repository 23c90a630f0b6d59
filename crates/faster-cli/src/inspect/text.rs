//! The text `faster inspect` and `faster verify` print: the manifest, the lock, the log's
//! segment files, the checkpoints and recovery's choice, then verify's findings.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use faster_kv::LogCheckpointKind;
use faster_kv::checkpoint::{CheckpointEntry, Finding, Inventory, SegmentEntry};
use faster_kv::manifest::Manifest;

use super::live::Live;
use crate::usage::{DiskBytes, recovered_log};

/// The inventory as text.
pub(crate) fn describe(inventory: &Inventory) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "store directory {}", inventory.dir.display());
    match &inventory.manifest {
        Ok(Some(m)) => manifest(&mut out, m),
        Ok(None) => {
            let _ = writeln!(out, "manifest: none");
        }
        Err(e) => {
            let _ = writeln!(out, "manifest: cannot be used: {e}");
        }
    }
    let _ = match &inventory.open_by {
        Ok(Some(pid)) => writeln!(
            out,
            "open by process {pid} (read without its lock: files may change while this runs)"
        ),
        Ok(None) => writeln!(out, "not open"),
        Err(e) => writeln!(out, "open: unknown ({e})"),
    };
    segments(&mut out, &inventory.segments);
    if inventory.checkpoints.is_empty() {
        let _ = writeln!(
            out,
            "checkpoints: none in {}",
            inventory.checkpoint_dir.display()
        );
    } else {
        let _ = writeln!(
            out,
            "checkpoints ({}, oldest first) in {}:",
            inventory.checkpoints.len(),
            inventory.checkpoint_dir.display()
        );
        for c in &inventory.checkpoints {
            checkpoint(&mut out, c);
        }
    }
    let _ = match &inventory.recovery {
        Ok(Some(token)) => writeln!(out, "recovery would take checkpoint {token}"),
        Ok(None) => writeln!(
            out,
            "nothing to recover: no checkpoint completed (an open starts the store empty)"
        ),
        Err(e) => writeln!(out, "recovery would fail: {e}"),
    };
    out
}

fn manifest(out: &mut String, m: &Manifest) {
    let _ = writeln!(
        out,
        "manifest: keys {}, values {}\n  page size {} (2^{}), segment size {}, record format {}\n  \
         store {:032x}, log {:032x}, created {}",
        m.key,
        m.value,
        bytes(1 << m.page_size_bits),
        m.page_size_bits,
        bytes(m.segment_size),
        m.record_format,
        m.store_id,
        m.log_id,
        age(m.created_unix_ms),
    );
}

/// One line per run of valid segment files, one per file with a problem.
fn segments(out: &mut String, segments: &[SegmentEntry]) {
    let total: u64 = segments.iter().map(|s| s.bytes).sum();
    if segments.is_empty() {
        let _ = writeln!(out, "log: no segment files");
        return;
    }
    let _ = writeln!(
        out,
        "log: {} segment file(s), {}:",
        segments.len(),
        bytes(total)
    );
    let mut run: Vec<&SegmentEntry> = Vec::new();
    let flush = |out: &mut String, run: &mut Vec<&SegmentEntry>| {
        if let (Some(first), Some(last)) = (run.first(), run.last()) {
            let size: u64 = run.iter().map(|s| s.bytes).sum();
            let names = if run.len() == 1 {
                format!("log.{:08}", first.index)
            } else {
                format!("log.{:08} ..= log.{:08}", first.index, last.index)
            };
            let _ = writeln!(out, "  {names}: {}, ok", bytes(size));
        }
        run.clear();
    };
    for s in segments {
        if s.state == faster_kv::checkpoint::SegmentState::Valid
            && run.last().is_none_or(|l| l.index + 1 == s.index)
        {
            run.push(s);
            continue;
        }
        flush(out, &mut run);
        if s.state == faster_kv::checkpoint::SegmentState::Valid {
            run.push(s);
        } else {
            let _ = writeln!(out, "  log.{:08}: {}, {}", s.index, bytes(s.bytes), s.state);
        }
    }
    flush(out, &mut run);
}

fn checkpoint(out: &mut String, c: &CheckpointEntry) {
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
                let chain: Vec<u64> = l.base_chain.iter().map(|t| t.get()).collect();
                let _ = write!(text, ", on top of checkpoint(s) {chain:?}");
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
        "  {:>6}  version {}, {} session(s), {}, {}\n          {log}\n          {index}",
        c.token,
        meta.version,
        meta.sessions.len(),
        bytes(c.bytes),
        age(meta.created_unix_ms),
    );
    if let Some(problem) = &c.problem {
        let _ = writeln!(out, "          not recoverable: {problem}");
    }
}

/// The bytes of log the checkpoint recovery would take spans, and the bytes on disk.
pub(crate) fn space(inventory: &Inventory, disk: &DiskBytes) -> String {
    let mut out = String::new();
    let _ = match recovered_log(inventory) {
        Some((begin, end)) => writeln!(
            out,
            "log bytes: {} ({begin:#x} to {end:#x}, the log of the checkpoint recovery would take)",
            bytes(end.saturating_sub(begin))
        ),
        None => writeln!(out, "log bytes: none (no checkpoint to recover)"),
    };
    let _ = writeln!(
        out,
        "disk bytes: {} (segment files {}, checkpoints {})",
        bytes(disk.total()),
        bytes(disk.segments),
        bytes(disk.checkpoints)
    );
    out
}

/// The live records against the log they occupy.
pub(crate) fn live(inventory: &Inventory, live: &Live) -> String {
    let log = recovered_log(inventory).map_or(0, |(begin, end)| end.saturating_sub(begin));
    let share = if log == 0 {
        String::new()
    } else {
        format!(
            ", {:.1}% of the log bytes",
            live.bytes as f64 * 100.0 / log as f64
        )
    };
    format!(
        "live: {} records, live bytes {} of keys and values against log bytes {}{share}\n",
        live.records,
        bytes(live.bytes),
        bytes(log)
    )
}

/// One line per finding: file, byte range, problem.
pub(crate) fn findings(findings: &[Finding]) -> String {
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

fn age(unix_ms: u64) -> String {
    let created = UNIX_EPOCH + Duration::from_millis(unix_ms);
    created.elapsed().map_or_else(
        |_| "in the future".to_string(),
        |d| format!("{}s ago", d.as_secs()),
    )
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
    use super::{describe, findings};
    use faster_kv::checkpoint::{Finding, inspect};
    use faster_kv::{CheckpointOptions, FasterKv, LogCheckpointKind};

    /// Both kinds of log checkpoint and an incomplete one, as `faster inspect` lists them.
    #[test]
    fn describe_lists_manifest_kinds_regions_and_the_checkpoint_recovery_takes() {
        let dir = tempfile::tempdir().unwrap();
        let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
        let mut s = store.session().unwrap();
        (0..500u64).for_each(|k| s.upsert(&k, &k).unwrap());
        let fold_over = CheckpointOptions {
            log: LogCheckpointKind::FoldOver,
            index: true,
        };
        let first = store.checkpoint_with(fold_over).unwrap().wait().unwrap();
        let options = CheckpointOptions {
            index: false,
            ..CheckpointOptions::default()
        };
        let second = store.checkpoint_with(options).unwrap().wait().unwrap();
        drop((s, store));
        let unfinished = dir
            .path()
            .join("checkpoints")
            .join(format!("checkpoint-{:020}", 99));
        std::fs::create_dir_all(&unfinished).unwrap();

        let inventory = inspect(dir.path()).unwrap();
        let manifest = inventory.manifest.clone().unwrap().unwrap();
        let text = describe(&inventory);
        for want in [
            "manifest: keys u64".to_string(),
            "page size 4.0 MiB (2^22)".to_string(),
            format!("log {:032x}", manifest.log_id),
            "not open".to_string(),
            "log.00000000: ".to_string(),
            format!("  {:>6}  version", first.token),
            "fold-over; log begin".to_string(),
            "own index snapshot".to_string(),
            "snapshot; log begin".to_string(),
            format!("index from checkpoint {}", first.token),
            "    99  not recoverable".to_string(),
            format!("recovery would take checkpoint {}", second.token),
        ] {
            assert!(text.contains(&want), "no `{want}` in:\n{text}");
        }
    }

    #[test]
    fn findings_name_the_file_and_byte_range() {
        let f = Finding {
            file: "x/meta.dat".into(),
            range: 3..9,
            problem: "bad checksum".into(),
        };
        assert_eq!(findings(&[f]), "x/meta.dat: bytes 3..9: bad checksum\n");
    }
}
