//! `faster inspect` and `faster verify` on an F2 directory: each part is listed and checked,
//! and a damaged part or manifest fails `verify`.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::Path;
use std::process::Command;

use faster_f2::F2Kv;

fn faster(args: &[&str], dir: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_faster"))
        .args(args)
        .arg(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn an_f2_directory_is_inspected_and_verified_part_by_part() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let store: F2Kv<u64, u64> = F2Kv::builder(tmp.path())
            .page_size_bits(12)
            .hot_memory(16 << 12)
            .read_cache(None)
            .cold_index_chunk_bits(8)
            .cold_index_memory(1 << 20)
            .open()
            .unwrap();
        let mut s = store.session().unwrap();
        for k in 0..5_000u64 {
            s.upsert(&k, &k).unwrap();
        }
        let tail = store.hot().regions().tail;
        assert!(store.migrate(tail).unwrap() > 0);
        store.checkpoint().unwrap();
    }
    let (ok, text) = faster(&["inspect"], tmp.path());
    assert!(ok, "{text}");
    for part in [
        "F2 store: cold index of 2^8 chunks",
        "== hot store",
        "== cold index",
        "== cold log",
    ] {
        assert!(text.contains(part), "missing {part:?} in {text}");
    }
    let (ok, text) = faster(&["verify"], tmp.path());
    assert!(ok, "{text}");
    assert_eq!(text.matches("verify: ok").count(), 2, "{text}");
    // A damaged manifest.
    let manifest = tmp.path().join("F2");
    let mut bytes = std::fs::read(&manifest).unwrap();
    bytes[12] ^= 1;
    std::fs::write(&manifest, &bytes).unwrap();
    let (ok, text) = faster(&["verify"], tmp.path());
    assert!(!ok && text.contains("checksum"), "{text}");
}
