//! Device throughput: sequential write and read (1 MiB requests, 8 in flight) and 4 KiB
//! random reads at queue depth 1 and 32, for each device, with `fio` on the same disk beside
//! them when it is installed.
//!
//! ```text
//! cargo bench -p faster-device --all-features --bench device -- [--device NAME] [--size-mib N]
//!     [--seconds S] [--dir PATH] [--no-fio]
//! ```
//! `NAME` is `mem`, `file`, `file-direct`, `uring-direct` or `all` (default). The data lives
//! in a fresh directory under `--dir` (default: the system temp dir, which must be a real
//! disk, not tmpfs). Buffered file data is evicted from the page cache (`POSIX_FADV_DONTNEED`)
//! before each read phase, so buffered reads measure the disk too.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faster_device::{AlignedBuf, CompletionQueue, Device, FileDevice, MemDevice};

const SEQ_REQUEST: usize = 1 << 20;
const SEQ_IN_FLIGHT: usize = 8;
const RAND_REQUEST: usize = 4096;

type Res<T> = Result<T, Box<dyn Error>>;

struct Args {
    device: String,
    size: u64,
    seconds: f64,
    dir: PathBuf,
    fio: bool,
}

fn parse_args() -> Res<Args> {
    let mut args = Args {
        device: "all".to_owned(),
        size: 1 << 30,
        seconds: 3.0,
        dir: std::env::temp_dir(),
        fio: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--device" => args.device = it.next().ok_or("--device needs a value")?,
            "--size-mib" => {
                args.size = it
                    .next()
                    .ok_or("--size-mib needs a value")?
                    .parse::<u64>()?
                    << 20
            }
            "--seconds" => args.seconds = it.next().ok_or("--seconds needs a value")?.parse()?,
            "--dir" => args.dir = it.next().ok_or("--dir needs a value")?.into(),
            "--no-fio" => args.fio = false,
            // `cargo bench` passes `--bench`; ignore it and anything unknown.
            _ => {}
        }
    }
    args.size = args.size.max(SEQ_REQUEST as u64 * SEQ_IN_FLIGHT as u64);
    Ok(args)
}

/// One row of the table.
#[derive(Default)]
struct Row {
    name: String,
    seq_write_mbs: f64,
    seq_read_mbs: f64,
    qd1_iops: f64,
    qd32_iops: f64,
}

/// Keeps `depth` requests in flight over `count` requests; `submit(slot, i)` starts request
/// `i` in buffer `slot` with the completion `done`. Returns the elapsed time.
fn pipeline(
    depth: usize,
    count: u64,
    deadline: Option<Instant>,
    mut submit: impl FnMut(usize, u64, faster_device::Completion) -> Res<()>,
) -> Res<(Duration, u64)> {
    let queue = CompletionQueue::new();
    let start = Instant::now();
    let mut next = 0u64;
    let mut in_flight = 0usize;
    for slot in 0..depth {
        if next == count {
            break;
        }
        submit(slot, next, queue.completion(slot))?;
        next += 1;
        in_flight += 1;
    }
    let mut finished = 0u64;
    while in_flight > 0 {
        let (slot, result) = queue
            .pop_blocking(Duration::from_secs(60))
            .ok_or("a completion did not arrive within 60 s")?;
        result?;
        in_flight -= 1;
        finished += 1;
        let expired = deadline.is_some_and(|d| Instant::now() >= d);
        if next < count && !expired {
            submit(slot, next, queue.completion(slot))?;
            next += 1;
            in_flight += 1;
        }
    }
    Ok((start.elapsed(), finished))
}

fn mbs(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64() / 1e6
}

/// A cheap deterministic generator for random offsets.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn evict_page_cache(files: &[PathBuf]) {
    for path in files {
        if let Ok(file) = std::fs::File::open(path) {
            use std::os::fd::AsRawFd;
            // SAFETY: rule D11 — `file` is an open descriptor for the call's duration; the
            // advice changes no memory of ours.
            let _ =
                unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        }
    }
}

fn bench_device(name: &str, device: &Arc<dyn Device>, files: &[PathBuf], args: &Args) -> Res<Row> {
    let mut row = Row {
        name: name.to_owned(),
        ..Row::default()
    };
    let mut bufs: Vec<AlignedBuf> = (0..SEQ_IN_FLIGHT)
        .map(|i| {
            let mut b = AlignedBuf::zeroed(SEQ_REQUEST);
            b.fill(i as u8 + 1);
            b
        })
        .collect();
    let requests = args.size / SEQ_REQUEST as u64;

    let (elapsed, _) = pipeline(SEQ_IN_FLIGHT, requests, None, |slot, i, done| {
        // SAFETY: rule D9 — `bufs` outlives the pipeline, which waits for every completion; a
        // slot is reused only after its completion was popped.
        unsafe {
            device.write_raw(
                i * SEQ_REQUEST as u64,
                bufs[slot].as_ptr(),
                SEQ_REQUEST,
                done,
            )
        }?;
        Ok(())
    })?;
    row.seq_write_mbs = mbs(requests * SEQ_REQUEST as u64, elapsed);
    device.flush()?;

    evict_page_cache(files);
    let (elapsed, _) = pipeline(SEQ_IN_FLIGHT, requests, None, |slot, i, done| {
        let ptr = bufs[slot].as_mut_ptr();
        // SAFETY: rule D9 — as above; each slot's buffer is used by one request at a time.
        unsafe { device.read_raw(i * SEQ_REQUEST as u64, ptr, SEQ_REQUEST, done) }?;
        Ok(())
    })?;
    row.seq_read_mbs = mbs(requests * SEQ_REQUEST as u64, elapsed);

    let blocks = args.size / RAND_REQUEST as u64;
    for depth in [1usize, 32] {
        evict_page_cache(files);
        let mut small: Vec<AlignedBuf> = (0..depth)
            .map(|_| AlignedBuf::zeroed(RAND_REQUEST))
            .collect();
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D ^ depth as u64);
        let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
        let (elapsed, done_count) = pipeline(depth, u64::MAX, Some(deadline), |slot, _, done| {
            let offset = (rng.next() % blocks) * RAND_REQUEST as u64;
            let ptr = small[slot].as_mut_ptr();
            // SAFETY: rule D9 — as above.
            unsafe { device.read_raw(offset, ptr, RAND_REQUEST, done) }?;
            Ok(())
        })?;
        let iops = done_count as f64 / elapsed.as_secs_f64();
        if depth == 1 {
            row.qd1_iops = iops;
        } else {
            row.qd32_iops = iops;
        }
    }
    Ok(row)
}

fn file_device(
    dir: &Path,
    direct: bool,
    uring: bool,
    size: u64,
) -> Res<(Arc<dyn Device>, Vec<PathBuf>)> {
    let builder = FileDevice::builder(dir)
        .segment_size(size.next_power_of_two().clamp(1 << 20, 1 << 30))
        .direct_io(direct)
        .preallocate(true);
    let segments = size.div_ceil(size.next_power_of_two().clamp(1 << 20, 1 << 30));
    let device: Arc<dyn Device> = if uring {
        #[cfg(feature = "io-uring")]
        {
            Arc::new(builder.open_uring()?)
        }
        #[cfg(not(feature = "io-uring"))]
        return Err("uring-direct needs --features io-uring".into());
    } else {
        Arc::new(builder.open()?)
    };
    let files = (0..segments)
        .map(|s| dir.join(format!("segment.{s:08}")))
        .collect();
    Ok((device, files))
}

/// Runs fio with `args` and returns (`bw_bytes`, `iops`) of the `section` ("read"/"write").
fn fio(section: &str, file: &Path, args: &[String]) -> Res<(f64, f64)> {
    let out = Command::new("fio")
        .arg("--name=bench")
        .arg(format!("--filename={}", file.display()))
        .arg("--output-format=json")
        .arg("--direct=1")
        .arg("--ioengine=io_uring")
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(format!("fio failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let json = String::from_utf8_lossy(&out.stdout);
    let at = json
        .find(&format!("\"{section}\" : {{"))
        .ok_or("fio output has no such section")?;
    let field = |key: &str| -> Res<f64> {
        let rest = &json[at..];
        let k = rest
            .find(&format!("\"{key}\" : "))
            .ok_or("fio output lacks a field")?;
        let value: String = rest[k + key.len() + 5..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        Ok(value.parse()?)
    };
    Ok((field("bw_bytes")?, field("iops")?))
}

fn fio_row(dir: &Path, args: &Args) -> Res<Row> {
    let file = dir.join("fio.dat");
    let size = format!("--size={}", args.size);
    let runtime = format!("--runtime={}", args.seconds.ceil() as u64);
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let (w, _) = fio(
        "write",
        &file,
        &[
            s(&["--rw=write", "--bs=1M", "--iodepth=8"]),
            vec![size.clone()],
        ]
        .concat(),
    )?;
    let (r, _) = fio(
        "read",
        &file,
        &[
            s(&["--rw=read", "--bs=1M", "--iodepth=8"]),
            vec![size.clone()],
        ]
        .concat(),
    )?;
    let rand = |depth: &str| {
        fio(
            "read",
            &file,
            &[
                s(&["--rw=randread", "--bs=4k", "--time_based=1", depth]),
                vec![size.clone(), runtime.clone()],
            ]
            .concat(),
        )
    };
    let (_, qd1) = rand("--iodepth=1")?;
    let (_, qd32) = rand("--iodepth=32")?;
    let _ = std::fs::remove_file(&file);
    Ok(Row {
        name: "fio (io_uring, direct)".to_owned(),
        seq_write_mbs: w / 1e6,
        seq_read_mbs: r / 1e6,
        qd1_iops: qd1,
        qd32_iops: qd32,
    })
}

fn main() -> Res<()> {
    let args = parse_args()?;
    let all = args.device == "all";
    let want = |name: &str| all || args.device == name;
    let mut rows = Vec::new();
    if want("mem") {
        let device: Arc<dyn Device> = Arc::new(MemDevice::new());
        rows.push(bench_device("mem", &device, &[], &args)?);
    }
    let mut file_kinds = vec![("file", false, false), ("file-direct", true, false)];
    if cfg!(feature = "io-uring") {
        file_kinds.push(("uring-direct", true, true));
    }
    for (name, direct, uring) in file_kinds {
        if !want(name) {
            continue;
        }
        let dir = tempfile::Builder::new()
            .prefix("faster-device-bench")
            .tempdir_in(&args.dir)?;
        let (device, files) = file_device(dir.path(), direct, uring, args.size)?;
        rows.push(bench_device(name, &device, &files, &args)?);
    }
    if args.fio && which_fio() {
        let dir = tempfile::Builder::new()
            .prefix("faster-device-fio")
            .tempdir_in(&args.dir)?;
        match fio_row(dir.path(), &args) {
            Ok(row) => rows.push(row),
            Err(e) => eprintln!("fio: {e}"),
        }
    }
    println!(
        "data: {} MiB in {}; seq = 1 MiB requests x {SEQ_IN_FLIGHT} in flight; rand = 4 KiB for {} s",
        args.size >> 20,
        args.dir.display(),
        args.seconds
    );
    println!(
        "{:<24} {:>15} {:>15} {:>17} {:>18}",
        "device", "seq write MB/s", "seq read MB/s", "rand 4K QD1 IOPS", "rand 4K QD32 IOPS"
    );
    for row in rows {
        println!(
            "{:<24} {:>15.0} {:>15.0} {:>17.0} {:>18.0}",
            row.name, row.seq_write_mbs, row.seq_read_mbs, row.qd1_iops, row.qd32_iops
        );
    }
    Ok(())
}

fn which_fio() -> bool {
    Command::new("fio")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
