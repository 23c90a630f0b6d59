//! A checkpoint is recovered only over the log it was taken of: never a checkpoint of another
//! store, never over log bytes of another incarnation, never with log segments gone. And an
//! I/O error is not damage: it is returned, and nothing is given up for it.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{FOLD_OVER, small};
use faster_device::{Device, DeviceError, FileDevice};
use faster_kv::{FasterKv, OpenError};

/// Writes keys `0..n` (value `k + add`) and takes a fold-over checkpoint: the log's bytes are
/// then on the device, in several segment files.
fn fill(store: &FasterKv<u64, u64>, n: u64, add: u64) -> u64 {
    let mut s = store.session().unwrap();
    for k in 0..n {
        s.upsert(&k, &(k + add)).unwrap();
    }
    store
        .checkpoint_with(FOLD_OVER)
        .unwrap()
        .wait()
        .unwrap()
        .token
        .get()
}

#[test]
fn a_checkpoint_directory_of_another_store_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let (a, b, checkpoints) = (
        root.path().join("a"),
        root.path().join("b"),
        root.path().join("checkpoints"),
    );
    let store: FasterKv<u64, u64> = small().dir(&a).checkpoint_dir(&checkpoints).open().unwrap();
    fill(&store, 2_000, 0);
    drop(store);
    // Another store pointed at the same checkpoint directory.
    let err = small()
        .dir(&b)
        .checkpoint_dir(&checkpoints)
        .open::<u64, u64>()
        .unwrap_err();
    assert!(matches!(err, OpenError::NotAStore { .. }), "{err}");
    // The store's own directory recreated from scratch next to its old checkpoints.
    std::fs::remove_dir_all(&a).unwrap();
    let err = small()
        .dir(&a)
        .checkpoint_dir(&checkpoints)
        .open::<u64, u64>()
        .unwrap_err();
    assert!(matches!(err, OpenError::NotAStore { .. }), "{err}");
}

#[test]
fn a_checkpoint_copied_from_another_store_is_refused() {
    let (x, y) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store: FasterKv<u64, u64> = small().dir(x.path()).open().unwrap();
    fill(&store, 1_000, 0);
    drop(store);
    let store: FasterKv<u64, u64> = small().dir(y.path()).open().unwrap();
    let token = fill(&store, 1_000, 5);
    drop(store);
    // y's newest checkpoint, copied into x under a newer token.
    let name = |t: u64| format!("checkpoint-{t:020}");
    let to = x.path().join("checkpoints").join(name(token + 10));
    std::fs::create_dir_all(&to).unwrap();
    let from = y.path().join("checkpoints").join(name(token));
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    // Its metadata names its own token (y's), not its directory's: that is damage, so x's
    // own checkpoint is recovered and the copy is passed over.
    let store = FasterKv::<u64, u64>::open(x.path()).unwrap();
    let recovered = store.opened().recovered().cloned().unwrap();
    assert_eq!(
        recovered.skipped[0].0.get(),
        token + 10,
        "{:?}",
        recovered.skipped
    );
    assert_eq!(store.session().unwrap().read(&5).unwrap(), Some(5));
    drop(store);
    // Under its own token it is a checkpoint of another store.
    std::fs::remove_dir_all(&to).unwrap();
    let own = x.path().join("checkpoints").join(name(token));
    let _ = std::fs::remove_dir_all(&own);
    std::fs::create_dir_all(&own).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), own.join(entry.file_name())).unwrap();
    }
    let err = FasterKv::<u64, u64>::open(x.path()).unwrap_err();
    assert!(matches!(err, OpenError::Foreign { .. }), "{err}");
    assert!(err.to_string().contains("not of this store"), "{err}");
}

#[test]
fn a_log_rewritten_by_another_store_is_refused() {
    let (x, y) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store: FasterKv<u64, u64> = small().dir(x.path()).open().unwrap();
    fill(&store, 4_000, 0);
    drop(store);
    let store: FasterKv<u64, u64> = small().dir(y.path()).open().unwrap();
    fill(&store, 4_000, 9);
    drop(store);
    // x's segment files replaced by y's: another log under the same names.
    for entry in std::fs::read_dir(y.path()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("log.") {
            std::fs::copy(entry.path(), x.path().join(&name)).unwrap();
        }
    }
    let err = FasterKv::<u64, u64>::open(x.path()).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::Segments {
                source: DeviceError::ForeignSegment { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_checkpoint_over_another_device_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let checkpoints = root.path().join("checkpoints");
    let device = |dir: &Path| -> Arc<dyn Device> {
        Arc::new(
            FileDevice::builder(dir)
                .prefix("log")
                .segment_size(1 << 16)
                .open()
                .unwrap(),
        )
    };
    let first = root.path().join("first");
    let store: FasterKv<u64, u64> = small()
        .device(device(&first))
        .checkpoint_dir(&checkpoints)
        .open()
        .unwrap();
    fill(&store, 4_000, 0);
    drop(store);
    // The same checkpoints over a fresh device: the log they need is not on it.
    let err = small()
        .device(device(&root.path().join("second")))
        .checkpoint_dir(&checkpoints)
        .open::<u64, u64>()
        .unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::Foreign { .. } | OpenError::LogMissing { .. }
        ),
        "{err}"
    );
    // Over the device it was taken of, it recovers.
    let store: FasterKv<u64, u64> = small()
        .device(device(&first))
        .checkpoint_dir(&checkpoints)
        .open()
        .unwrap();
    assert_eq!(store.session().unwrap().read(&3_999).unwrap(), Some(3_999));
}

#[test]
fn a_deleted_log_segment_below_a_checkpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = small().dir(dir.path()).open().unwrap();
    fill(&store, 20_000, 0);
    drop(store);
    let victim = dir.path().join("log.00000001");
    std::fs::remove_file(&victim).unwrap();
    let err = FasterKv::<u64, u64>::open(dir.path()).unwrap_err();
    assert!(matches!(err, OpenError::LogMissing { .. }), "{err}");
    assert!(err.to_string().contains("log.00000001"), "{err}");
    // Nothing was given up: the checkpoint still has its completion marker.
    let complete = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("COMPLETE").exists())
        .count();
    assert_eq!(complete, 1);
}

#[test]
fn an_unreadable_checkpoint_is_an_io_error_and_recovers_once_readable() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = small().dir(dir.path()).open().unwrap();
    let first = fill(&store, 1_000, 0);
    let second = fill(&store, 1_000, 1);
    assert!(second > first);
    drop(store);
    // meta.dat of the newest checkpoint cannot be read (a directory stands in its place:
    // reading fails with EISDIR even for root, which ignores permission bits).
    let meta = dir
        .path()
        .join("checkpoints")
        .join(format!("checkpoint-{second:020}"))
        .join("meta.dat");
    let saved = std::fs::read(&meta).unwrap();
    std::fs::remove_file(&meta).unwrap();
    std::fs::create_dir(&meta).unwrap();
    for _ in 0..2 {
        let err = FasterKv::<u64, u64>::open(dir.path()).unwrap_err();
        match &err {
            OpenError::Io { path, .. } => assert_eq!(path, &meta),
            other => panic!("{other}"),
        }
        assert!(!err.is_damage());
    }
    std::fs::remove_dir(&meta).unwrap();
    std::fs::write(&meta, saved).unwrap();
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    assert_eq!(store.opened().recovered().unwrap().token.get(), second);
    assert_eq!(store.session().unwrap().read(&5).unwrap(), Some(6));
}
