//! `faster dump DIR [-o FILE]`: writes the live records of the store in `DIR` to a dump
//! (`faster_kv::dump`, `docs/formats.md` "Dump file"), opening the store with byte codecs.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use faster_kv::Codec;
use faster_kv::dump::{DumpProgress, DumpSummary, dump};

use crate::bar::bytes_bar;
use crate::bytes::{ByteJob, dispatch, open_bytes, read_manifest};

/// Options of `faster dump`.
#[derive(Debug, Args)]
pub(crate) struct DumpArgs {
    /// The store's directory. The store is opened (recovering its newest checkpoint), so no
    /// other process may have it open.
    dir: PathBuf,
    /// Write the dump to this file (created, or replaced) rather than to standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// `faster dump`: the dump to the file or standard output, a progress bar and a closing line
/// on standard error.
pub(crate) fn run(args: &DumpArgs) -> Result<(), String> {
    let manifest = read_manifest(&args.dir)?;
    let (summary, to) = match &args.output {
        Some(path) => {
            let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let job = Dump {
                dir: &args.dir,
                out: &file,
            };
            let done = dispatch(&manifest.key, &manifest.value, job)
                .and_then(|r| r)
                .and_then(|s| {
                    file.sync_all()
                        .map(|()| s)
                        .map_err(|e| format!("{}: {e}", path.display()))
                });
            if done.is_err() {
                // A dump without its trailer cannot be loaded: leave nothing behind.
                let _ = std::fs::remove_file(path);
            }
            (done?, path.display().to_string())
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(
                    "refusing to write a dump to a terminal: give -o FILE, or redirect \
                            standard output"
                        .into(),
                );
            }
            let job = Dump {
                dir: &args.dir,
                out: BufWriter::with_capacity(1 << 20, stdout.lock()),
            };
            let summary = dispatch(&manifest.key, &manifest.value, job)??;
            (summary, "standard output".to_string())
        }
    };
    eprintln!(
        "dumped {} records ({} bytes of keys and values) from {} to {to}: {} bytes",
        summary.records,
        summary.data_bytes,
        args.dir.display(),
        summary.bytes
    );
    Ok(())
}

/// Dumps the store in `dir` to `out`.
struct Dump<'a, W: Write> {
    dir: &'a Path,
    out: W,
}

impl<W: Write> ByteJob for Dump<'_, W> {
    type Output = Result<DumpSummary, String>;

    fn run<K: Codec + ?Sized, V: Codec + ?Sized>(self) -> Self::Output {
        let store = open_bytes::<K, V>(self.dir)?;
        let bar = bytes_bar("dump", 0);
        let show = |p: DumpProgress| {
            if let Some(scan) = p.scan {
                bar.set_length(scan.end.raw().saturating_sub(scan.begin.raw()));
                bar.set_position(scan.next.raw().saturating_sub(scan.begin.raw()));
                bar.set_message(format!("{} records", p.records));
            }
        };
        let summary = dump(&store, self.out, show).map_err(|e| format!("dump: {e}"));
        bar.finish_and_clear();
        summary
    }
}
