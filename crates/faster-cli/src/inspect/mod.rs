//! `faster inspect DIR` and `faster verify DIR`: what a store directory holds, which
//! checkpoint recovery would take, and whether every header, checksum and needed log byte in
//! it is right — without opening the store, taking its lock or writing anything, so both run
//! while the store is open.
//!
//! What is found and checked comes from [`faster_kv::checkpoint::inspect`] and
//! [`faster_kv::checkpoint::verify`]; this module only prints it ([`text`]). The one
//! exception is `faster inspect --live`, which opens the store to count its live records
//! ([`live`]).

mod f2;
mod live;
mod text;

use std::path::PathBuf;

use clap::Args;
use faster_kv::checkpoint::{Inventory, inspect, verify};

use crate::usage::disk_bytes;

/// Options of `faster inspect` and `faster verify`.
#[derive(Debug, Args)]
pub(crate) struct DirArgs {
    /// The store's directory (the one given to `FasterKv::open` or the builder's `dir`).
    dir: PathBuf,
}

/// Options of `faster inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    #[command(flatten)]
    dir: DirArgs,
    /// Also open the store (recovering its newest checkpoint, so not while another process
    /// has it open) and count its live records and their bytes with a scan.
    #[arg(long)]
    live: bool,
}

/// `faster inspect`: for an F2 directory, its manifest and each part (below); otherwise prints the manifest, whether the store is open, the log segments, every
/// checkpoint, the one recovery would take, and the bytes of log and on disk; with `--live`,
/// the live records too. An error (exit status 1) for a path that is not a store's directory.
pub(crate) fn run_inspect(args: &InspectArgs) -> Result<(), String> {
    if let Some(manifest) = f2::manifest(&args.dir.dir)? {
        return f2::each_part(&args.dir.dir, manifest, |part| {
            run_inspect(&InspectArgs {
                dir: DirArgs {
                    dir: part.dir.clone(),
                },
                live: false,
            })
        });
    }
    let inventory = list(&args.dir)?;
    print!("{}", text::describe(&inventory));
    print!("{}", text::space(&inventory, &disk_bytes(&inventory)));
    if args.live {
        let live = live::count(&args.dir.dir)?;
        print!("{}", text::live(&inventory, &live));
    }
    Ok(())
}

/// `faster verify`: prints what `inspect` prints, then checks everything; an error (exit
/// status 1) naming each problem's file and byte range, or recovery's error, if there is one.
pub(crate) fn run_verify(args: &DirArgs) -> Result<(), String> {
    if let Some(manifest) = f2::manifest(&args.dir)? {
        return f2::each_part(&args.dir, manifest, run_verify);
    }
    let inventory = list(args)?;
    let findings = verify(&args.dir).map_err(|e| e.to_string())?;
    print!("{}", text::describe(&inventory));
    print!("{}", text::space(&inventory, &disk_bytes(&inventory)));
    if !findings.is_empty() {
        println!("verify: {} problem(s):", findings.len());
        print!("{}", text::findings(&findings));
        return Err(format!(
            "{}: {} problem(s) found",
            args.dir.display(),
            findings.len()
        ));
    }
    if let Err(e) = &inventory.recovery {
        return Err(format!(
            "{}: every file checks out, but recovery would fail: {e}",
            args.dir.display()
        ));
    }
    println!(
        "verify: ok: manifest, {} segment file(s) and {} checkpoint(s) checked; every header, \
         checksum and needed log byte is valid",
        inventory.segments.len(),
        inventory.checkpoints.len()
    );
    Ok(())
}

/// The inventory of a store's directory; an error for anything that is not one.
fn list(args: &DirArgs) -> Result<Inventory, String> {
    let inventory = inspect(&args.dir).map_err(|e| e.to_string())?;
    if let Ok(None) = inventory.manifest {
        return Err(format!(
            "{} holds no store: it has no MANIFEST (the directory is empty)",
            args.dir.display()
        ));
    }
    Ok(inventory)
}

#[cfg(test)]
mod tests {
    use super::{DirArgs, list};

    #[test]
    fn a_missing_or_empty_directory_is_a_clear_error() {
        let missing = DirArgs {
            dir: "/nonexistent/faster-store".into(),
        };
        let err = list(&missing).unwrap_err();
        assert!(err.contains("no such directory"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = list(&DirArgs {
            dir: empty.path().to_path_buf(),
        })
        .unwrap_err();
        assert!(err.contains("holds no store"), "{err}");
    }
}
