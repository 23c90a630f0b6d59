//! Checkpoint and recovery costs: how long checkpoints of each kind take on a loaded store, and
//! how fast recovery replays the log (bytes of log per second), beside a plain sequential read
//! of the same log files in the same run.
//!
//! Run with `cargo xtask bench checkpoint [MiB]` (default 512 MiB of log).

use std::time::Instant;

use faster_device::{AlignedBuf, Device, DeviceExt, FileDevice};
use faster_kv::{CheckpointOptions, CheckpointToken, FasterKv, FasterKvBuilder, LogCheckpointKind};

fn builder(dir: &std::path::Path) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir)
        .memory_budget(256 << 20)
        .index_buckets(1 << 22)
}

fn main() {
    let mib: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    let keys = (mib << 20) / 24;
    let dir = tempfile::tempdir().expect("tempdir");
    let store: FasterKv<u64, u64> = builder(dir.path())
        .checkpoint_retention(8)
        .open()
        .expect("open");
    // An index snapshot of the empty store: the log-only checkpoint below then has to replay
    // the whole log at recovery.
    store
        .checkpoint_index()
        .expect("index checkpoint")
        .wait()
        .expect("index checkpoint");
    let start = Instant::now();
    {
        let mut s = store.session().expect("session");
        let mut p = s.pin();
        for k in 0..keys {
            p.upsert(&k.wrapping_mul(0x9E37_79B9_7F4A_7C15), &k)
                .expect("upsert");
        }
    }
    let load = start.elapsed();
    println!(
        "faster-kv checkpoints: {keys} keys, {mib} MiB of log, loaded in {:.1} s",
        load.as_secs_f64()
    );
    println!("{:<44} {:>10}", "checkpoint", "seconds");
    let mut recover_token = CheckpointToken::new(0);
    for (name, options) in [
        (
            "fold-over, log only",
            CheckpointOptions {
                log: LogCheckpointKind::FoldOver,
                index: false,
            },
        ),
        (
            "snapshot, log only",
            CheckpointOptions {
                log: LogCheckpointKind::Snapshot,
                index: false,
            },
        ),
        (
            "incremental snapshot, log only",
            CheckpointOptions {
                log: LogCheckpointKind::IncrementalSnapshot,
                index: false,
            },
        ),
        (
            "fold-over, log only (recovered below)",
            CheckpointOptions {
                log: LogCheckpointKind::FoldOver,
                index: false,
            },
        ),
        (
            "full (fold-over + index of 2^22 buckets)",
            CheckpointOptions {
                log: LogCheckpointKind::FoldOver,
                index: true,
            },
        ),
    ] {
        let t = Instant::now();
        let info = store
            .checkpoint_with(options)
            .expect("start")
            .wait()
            .expect("checkpoint");
        println!("{name:<44} {:>10.3}", t.elapsed().as_secs_f64());
        if name.contains("recovered") {
            // A log-only checkpoint over the empty index: recovering it replays the whole log.
            recover_token = info.token;
        }
    }
    let info_token = recover_token;
    drop(store);

    // Drop the page cache's copy of the log where possible, so both reads below hit the disk.
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "1");
    let t = Instant::now();
    let (store, recovered) = builder(dir.path())
        .checkpoint_retention(8)
        .recover::<u64, u64>(Some(info_token))
        .expect("recover");
    let seconds = t.elapsed().as_secs_f64();
    let replayed = recovered.replayed_bytes as f64 / (1 << 20) as f64;
    println!(
        "recovery: {:.2} s, {replayed:.0} MiB of log replayed: {:.0} MiB/s, {:.2} s per GiB",
        seconds,
        replayed / seconds,
        seconds / (replayed / 1024.0)
    );
    drop(store);

    let _ = std::fs::write("/proc/sys/vm/drop_caches", "1");
    let device = FileDevice::builder(dir.path())
        .prefix("log")
        .open()
        .expect("log files");
    let mut buf = AlignedBuf::zeroed(4 << 20);
    let total = recovered.replayed_bytes;
    let t = Instant::now();
    let mut offset = 0;
    while offset < total {
        device.read_blocking(offset, &mut buf).expect("read");
        offset += buf.len() as u64;
    }
    let raw = offset as f64 / (1 << 20) as f64 / t.elapsed().as_secs_f64();
    println!("raw sequential read of the same log files, 4 MiB reads: {raw:.0} MiB/s");
    let _ = device.geometry();
}
