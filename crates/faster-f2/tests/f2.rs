//! F2 as a user meets it: keys moving hot → cold → hot, every operation on both, two threads
//! against a model, checkpoints and reopening, and directories that are not what they seem.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::{tiny, value};
use faster_f2::{F2Error, F2Kv};

const KEYS: u64 = 6_000;

fn migrate_all(store: &F2Kv<u64, u64>) -> u64 {
    let until = store.hot().regions().tail;
    store.migrate(until).unwrap()
}

#[test]
fn keys_move_hot_to_cold_and_back_with_every_operation() {
    let tmp = tempfile::tempdir().unwrap();
    let store: F2Kv<u64, u64> = tiny(tmp.path()).open().unwrap();
    let mut s = store.session().unwrap();
    let mut model: HashMap<u64, u64> = HashMap::new();
    for k in 0..KEYS {
        s.upsert(&k, &value(k, 0)).unwrap();
        model.insert(k, value(k, 0));
    }
    assert!(migrate_all(&store) > 0);
    let stats = store.stats();
    assert!(
        stats.migrated_records > 0 && stats.cold_log_bytes > 0,
        "{stats:?}"
    );
    // A cold key read twice: the second read is served by the hot store's read cache.
    let hits = |store: &F2Kv<u64, u64>| store.stats().hot.read_cache.unwrap().hits;
    let before = hits(&store);
    for _ in 0..2 {
        assert_eq!(s.read(&0).unwrap(), Some(value(0, 0)));
    }
    assert_eq!(hits(&store), before + 1);
    for round in 1..=3u64 {
        for k in 0..KEYS {
            assert_eq!(
                s.read(&k).unwrap(),
                model.get(&k).copied(),
                "round {round} key {k}"
            );
        }
        // Every operation on keys that are cold now.
        for k in (0..KEYS).step_by(5) {
            let new = s.add(&k, round).unwrap();
            let want = model.get(&k).map_or(0, |v| *v).wrapping_add(round);
            assert_eq!(new, want, "add key {k}");
            model.insert(k, want);
        }
        for k in (1..KEYS).step_by(7) {
            s.delete(&k).unwrap();
            model.remove(&k);
        }
        for k in (2..KEYS).step_by(11) {
            let expected = model.get(&k).copied();
            assert!(s.compare_and_swap(&k, expected.as_ref(), &(k * 3)).unwrap());
            model.insert(k, k * 3);
            assert!(!s.compare_and_swap(&k, Some(&(k * 3 + 1)), &0).unwrap());
        }
        for k in (3..KEYS).step_by(13) {
            s.upsert(&k, &value(k, round)).unwrap();
            model.insert(k, value(k, round));
        }
        migrate_all(&store);
    }
    // Cold compaction keeps every live key and drops what was deleted or replaced.
    let (begin, tail) = store.cold_log_range();
    store.compact_cold(tail).unwrap();
    assert!(store.cold_log_range().0 > begin);
    for k in 0..KEYS {
        assert_eq!(
            s.read(&k).unwrap(),
            model.get(&k).copied(),
            "after compaction, key {k}"
        );
    }
    drop(s);
    store.checkpoint().unwrap();
    drop(store);
    let store: F2Kv<u64, u64> = tiny(tmp.path()).open().unwrap();
    let mut s = store.session().unwrap();
    for k in 0..KEYS {
        assert_eq!(
            s.read(&k).unwrap(),
            model.get(&k).copied(),
            "after reopen, key {k}"
        );
    }
}

/// Two threads, each with its own keys and a shared set of counters, while the background
/// thread migrates on its own; the final state matches the model.
#[test]
fn two_threads_against_a_model_while_keys_migrate() {
    let tmp = tempfile::tempdir().unwrap();
    let store: Arc<F2Kv<u64, u64>> = Arc::new(tiny(tmp.path()).open().unwrap());
    const COUNTERS: u64 = 64;
    let threads: Vec<_> = (0..2u64)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut s = store.session().unwrap();
                let mut model: HashMap<u64, Option<u64>> = HashMap::new();
                let base = (t + 1) << 32;
                let mut x = t + 7;
                let mut increments = 0u64;
                // At least 40,000 operations, and on until the background thread has
                // migrated once (a loaded machine may take its checkpoint late), at most
                // 400,000.
                for i in 0..400_000u64 {
                    if i >= 40_000 && i % 1_000 == 0 && store.stats().migrations > 0 {
                        break;
                    }
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let k = base + x % 3_000;
                    match i % 10 {
                        0..=3 => {
                            s.upsert(&k, &i).unwrap();
                            model.insert(k, Some(i));
                        }
                        4..=5 => {
                            let got = s.read(&k).unwrap();
                            assert_eq!(got, model.get(&k).copied().flatten(), "key {k:#x}");
                        }
                        6 => {
                            s.delete(&k).unwrap();
                            model.insert(k, None);
                        }
                        7 => {
                            let old = model.get(&k).copied().flatten();
                            let new = s.add(&k, 1).unwrap();
                            assert_eq!(new, old.unwrap_or(0).wrapping_add(1), "key {k:#x}");
                            model.insert(k, Some(new));
                        }
                        _ => {
                            s.add(&(x % COUNTERS), 1).unwrap();
                            increments += 1;
                        }
                    }
                }
                (model, increments)
            })
        })
        .collect();
    let mut increments = 0;
    let mut models = Vec::new();
    for t in threads {
        let (model, n) = t.join().unwrap();
        increments += n;
        models.push(model);
    }
    let stats = store.stats();
    assert!(stats.migrations > 0, "{stats:?}");
    assert_eq!(stats.failures, 0, "{stats:?}");
    let mut s = store.session().unwrap();
    for model in &models {
        for (k, want) in model {
            assert_eq!(s.read(k).unwrap(), *want, "key {k:#x}");
        }
    }
    let total: u64 = (0..COUNTERS)
        .map(|c| s.read(&c).unwrap().unwrap_or(0))
        .sum();
    assert_eq!(total, increments);
}

/// Writes after the last checkpoint are gone after a reopen; a key deleted before the
/// checkpoint stays deleted though older values of it are cold; a migration moves only what
/// a durable checkpoint holds (rule HC6), so nothing written after the checkpoint surfaces
/// from the cold store. The background thread stays asleep: a migration it started would
/// take a checkpoint of its own (rule HC6) and make the writes after the test's durable.
#[test]
fn reopening_recovers_the_checkpoint_and_nothing_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let quiet = |dir: &std::path::Path| tiny(dir).check_every(Duration::from_secs(3600));
    {
        let store: F2Kv<u64, u64> = quiet(tmp.path()).open().unwrap();
        let mut s = store.session().unwrap();
        for k in 0..KEYS {
            s.upsert(&k, &value(k, 0)).unwrap();
        }
        migrate_all(&store);
        for k in (0..KEYS).step_by(2) {
            s.delete(&k).unwrap();
        }
        let checkpoint = store.checkpoint().unwrap();
        // After the checkpoint: new values, then a migration up to the checkpoint's start
        // (which needs no new checkpoint), then more.
        for k in 0..KEYS {
            s.upsert(&k, &value(k, 9)).unwrap();
        }
        let before = store.stats().hot.checkpoints.completed;
        store.migrate(checkpoint.start_address.unwrap()).unwrap();
        assert_eq!(store.stats().hot.checkpoints.completed, before);
        for k in KEYS..KEYS + 500 {
            s.upsert(&k, &1).unwrap();
        }
    }
    let store: F2Kv<u64, u64> = quiet(tmp.path()).open().unwrap();
    let mut s = store.session().unwrap();
    for k in 0..KEYS + 500 {
        let want = (k < KEYS && k % 2 == 1).then(|| value(k, 0));
        assert_eq!(s.read(&k).unwrap(), want, "key {k}");
    }
}

#[test]
fn directories_that_are_not_f2_stores_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // Something else lives here.
    std::fs::write(tmp.path().join("notes.txt"), b"mine").unwrap();
    assert!(matches!(
        tiny(tmp.path()).open::<u64, u64>(),
        Err(F2Error::Manifest { .. })
    ));
    let tmp = tempfile::tempdir().unwrap();
    drop(tiny(tmp.path()).open::<u64, u64>().unwrap());
    // Another cold index size.
    assert!(matches!(
        tiny(tmp.path()).cold_index_chunk_bits(9).open::<u64, u64>(),
        Err(F2Error::SettingMismatch { .. })
    ));
    // A second handle on a store that is open.
    let store = tiny(tmp.path()).open::<u64, u64>().unwrap();
    assert!(tiny(tmp.path()).open::<u64, u64>().is_err());
    drop(store);
    // A damaged manifest.
    let path = tmp.path().join("F2");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[13] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = tiny(tmp.path()).open::<u64, u64>().err().unwrap();
    assert!(err.to_string().contains("checksum"), "{err}");
}

/// A damaged cold record is an error when read, never a wrong value.
#[test]
fn a_damaged_cold_record_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let store: F2Kv<u64, u64> = tiny(tmp.path()).open().unwrap();
        let mut s = store.session().unwrap();
        for k in 0..KEYS {
            s.upsert(&k, &value(k, 0)).unwrap();
        }
        assert!(migrate_all(&store) > 0);
        store.checkpoint().unwrap();
    }
    // Flip a byte every 997 bytes of the cold log's entries (past the first 8 KiB, which
    // hold segment headers).
    for entry in std::fs::read_dir(tmp.path().join("cold-log")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("log.") {
            let mut bytes = std::fs::read(&path).unwrap();
            let end = bytes.iter().rposition(|&b| b != 0).unwrap_or(0);
            for at in (8192..end).step_by(997) {
                bytes[at] ^= 0x40;
            }
            std::fs::write(&path, &bytes).unwrap();
        }
    }
    let Ok(store) = tiny(tmp.path()).open::<u64, u64>() else {
        return; // refusing to open a damaged log is fine too
    };
    let mut s = store.session().unwrap();
    let mut errors = 0;
    for k in 0..KEYS {
        match s.read(&k) {
            Ok(Some(v)) => assert_eq!(v, value(k, 0), "key {k}"),
            Ok(None) => panic!("key {k} lost without an error"),
            Err(_) => errors += 1,
        }
    }
    assert!(errors > 0, "no read met the damage");
}

#[test]
fn a_settings_file_configures_the_store_and_a_bad_value_fails_as_the_builder_does() {
    let config = faster_f2::F2Config::from_toml(
        "hot_memory = \"16 MiB\"\nread_cache = \"1 MiB\"\npage_size_bits = 16\n\
         cold_index_chunk_bits = 8\ncheck_every = \"20ms\"\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let by_hand = F2Kv::builder(dir.path())
        .hot_memory(16 << 20)
        .read_cache(Some(1 << 20))
        .page_size_bits(16)
        .cold_index_chunk_bits(8)
        .check_every(Duration::from_millis(20));
    assert_eq!(
        format!("{:?}", config.builder(dir.path())),
        format!("{by_hand:?}")
    );
    {
        let store: F2Kv<u64, u64> = config.builder(dir.path()).open().unwrap();
        let mut s = store.session().unwrap();
        s.upsert(&7, &70).unwrap();
        store.checkpoint().unwrap();
    }
    let store: F2Kv<u64, u64> = config.builder(dir.path()).open().unwrap();
    assert_eq!(store.session().unwrap().read(&7).unwrap(), Some(70));
    drop(store);
    for (file, by_hand) in [
        (
            "cold_index_chunk_bits = 40",
            F2Kv::builder(dir.path()).cold_index_chunk_bits(40),
        ),
        (
            "page_size_bits = 8",
            F2Kv::builder(dir.path()).page_size_bits(8),
        ),
        (
            "read_cache = \"1 KiB\"",
            F2Kv::builder(dir.path()).read_cache(Some(1024)),
        ),
    ] {
        let config = faster_f2::F2Config::from_toml(file).unwrap();
        let expected = by_hand.check().err().map(|e| e.to_string());
        assert!(expected.is_some(), "{file}: the builder accepts it");
        assert_eq!(
            config
                .builder(dir.path())
                .check()
                .err()
                .map(|e| e.to_string()),
            expected,
            "{file}"
        );
    }
}
