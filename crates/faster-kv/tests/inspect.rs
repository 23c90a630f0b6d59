//! `inspect` lists what a store directory holds; `verify` checks every checksum and names the
//! first bad byte range of each damaged file.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use faster_kv::checkpoint::{inspect, verify};
use faster_kv::{CheckpointOptions, FasterKv, LogCheckpointKind};

#[test]
fn inspect_lists_and_verify_locates_damage() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .dir(dir.path())
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .segment_size(1 << 16)
        .index_buckets(64)
        .checkpoint_retention(4)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    for k in 0..3_000u64 {
        s.upsert(&k, &k).unwrap();
    }
    let first = store
        .checkpoint_with(CheckpointOptions {
            log: LogCheckpointKind::FoldOver,
            index: true,
        })
        .unwrap()
        .wait()
        .unwrap();
    for k in 0..100u64 {
        s.upsert(&k, &(k + 1)).unwrap();
    }
    let second = store
        .checkpoint_with(CheckpointOptions {
            log: LogCheckpointKind::Snapshot,
            index: true,
        })
        .unwrap()
        .wait()
        .unwrap();
    drop(s);
    drop(store);

    let inventory = inspect(dir.path()).unwrap();
    assert!(inventory.segments.len() > 1, "{:?}", inventory.segments);
    let tokens: Vec<u64> = inventory.checkpoints.iter().map(|c| c.token).collect();
    assert_eq!(tokens, vec![first.token, second.token]);
    assert!(
        inventory
            .checkpoints
            .iter()
            .all(|c| c.meta.is_some() && c.problem.is_none())
    );
    assert_eq!(verify(dir.path()).unwrap(), vec![]);

    let second_dir = dir
        .path()
        .join("checkpoints")
        .join(format!("checkpoint-{:020}", second.token));
    // A byte in the last chunk of the snapshot file.
    let snapshot = second_dir.join("snapshot.dat");
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 0xff;
    std::fs::write(&snapshot, &bytes).unwrap();
    // A byte in the data of the first checkpoint's index snapshot.
    let first_dir = dir
        .path()
        .join("checkpoints")
        .join(format!("checkpoint-{:020}", first.token));
    let index = first_dir.join("index.00000000");
    let mut bytes = std::fs::read(&index).unwrap();
    // The snapshot follows the device's segment header in the file.
    let flipped = faster_device::SEGMENT_HEADER_BYTES as usize + 5_000;
    bytes[flipped] ^= 0x01;
    std::fs::write(&index, &bytes).unwrap();

    let findings = verify(dir.path()).unwrap();
    assert_eq!(findings.len(), 2, "{findings:#?}");
    let snap = findings.iter().find(|f| f.file == snapshot).unwrap();
    assert!(
        snap.range.start > 32 && snap.range.start <= at as u64 && at as u64 <= snap.range.end,
        "{snap:?}"
    );
    let idx = findings.iter().find(|f| f.file == index).unwrap();
    let flipped = flipped as u64;
    assert!(
        idx.range.start <= flipped && flipped < idx.range.end,
        "{idx:?}"
    );
    assert!(idx.problem.contains("checksum"), "{idx:?}");
}
