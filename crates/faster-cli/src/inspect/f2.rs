//! `faster inspect` and `faster verify` of an F2 directory: its manifest, then each part —
//! the hot store and the cold index as faster-kv store directories, the cold log's files.

use std::path::Path;

use faster_f2::format::F2Manifest;

use super::DirArgs;

/// The F2 manifest of `dir`, if `dir` is an F2 store's directory; an error for a damaged one.
pub(super) fn manifest(dir: &Path) -> Result<Option<F2Manifest>, String> {
    let path = dir.join("F2");
    match std::fs::read(&path) {
        Ok(bytes) => F2Manifest::decode(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Describes the parts of the F2 store in `dir`, running `part` on each faster-kv part.
pub(super) fn each_part(
    dir: &Path,
    manifest: F2Manifest,
    part: impl Fn(&DirArgs) -> Result<(), String>,
) -> Result<(), String> {
    println!(
        "F2 store: cold index of 2^{} chunks of 32 slots",
        manifest.chunk_bits
    );
    let mut failed = Vec::new();
    for (name, what) in [("hot", "hot store"), ("cold-index", "cold index")] {
        println!("\n== {what} ({name}/)");
        if let Err(e) = part(&DirArgs {
            dir: dir.join(name),
        }) {
            println!("{what}: {e}");
            failed.push(e);
        }
    }
    println!("\n== cold log (cold-log/)");
    let log = dir.join("cold-log");
    let mut bytes = 0;
    let mut files = 0;
    let entries = std::fs::read_dir(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    for entry in entries.filter_map(Result::ok) {
        if let Ok(meta) = entry.metadata() {
            files += 1;
            bytes += meta.len();
        }
    }
    println!(
        "{files} file(s), {:.1} MiB; its entries are checked (checksums) as they are read",
        bytes as f64 / f64::from(1 << 20)
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}
