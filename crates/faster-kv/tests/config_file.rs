//! Settings files: every builder setting can come from TOML (with `FASTER_*` variables over
//! it), a bad value fails with the builder's own error, and a store opened from a file
//! reopens from it with its data.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::time::Duration;

use faster_kv::{
    CompactionKind, CompactionPolicy, FasterKv, FasterKvBuilder, FasterKvConfig, Opened,
};

const EVERY_KEY: &str = r#"
dir = "/tmp/faster-config-every-key"
memory_budget = "64 MiB"
page_size_bits = 20
mutable_fraction = 0.5
index_buckets = 4096
huge_pages = false
direct_io = true
segment_size = "256 MiB"
max_sessions = 8
checkpoint_dir = "/tmp/faster-config-checkpoints"
checkpoint_retention = 3
snapshot_buffer = "8 MiB"
check_type_names = false
checkpoint_every = "30s"
checkpoint_every_bytes = "1 GiB"
checkpoint_on_close = true
read_cache = "16 MiB"
auto_grow_index = false

[compaction]
log_budget = "4 GiB"
trigger = 0.7
fraction = 0.25
max_bytes = "128 MiB"
kind = "lookup"
threads = 2
check_every = "100ms"
checkpoint_after = 1024
"#;

#[test]
fn a_file_with_every_key_gives_the_builder_set_by_hand() {
    let config = FasterKvConfig::from_toml(EVERY_KEY).unwrap();
    let mut policy = CompactionPolicy::with_budget(4 << 30);
    policy.trigger = 0.7;
    policy.fraction = 0.25;
    policy.max_bytes = 128 << 20;
    policy.kind = CompactionKind::Lookup;
    policy.threads = 2;
    policy.check_every = Duration::from_millis(100);
    policy.checkpoint_after = Some(1024);
    let by_hand = FasterKvBuilder::default()
        .dir("/tmp/faster-config-every-key")
        .memory_budget(64 << 20)
        .page_size_bits(20)
        .mutable_fraction(0.5)
        .index_buckets(4096)
        .huge_pages(false)
        .direct_io(true)
        .segment_size(256 << 20)
        .max_sessions(8)
        .checkpoint_dir("/tmp/faster-config-checkpoints")
        .checkpoint_retention(3)
        .snapshot_buffer(8 << 20)
        .check_type_names(false)
        .checkpoint_every(Duration::from_secs(30))
        .checkpoint_every_bytes(1 << 30)
        .checkpoint_on_close(true)
        .read_cache(16 << 20)
        .auto_grow_index(false)
        .compaction(policy);
    assert_eq!(format!("{:?}", config.builder()), format!("{by_hand:?}"));
    config.check().unwrap();
    // KEYS names exactly the top-level keys, no more and no fewer (`in_memory` is the one
    // key the file above cannot hold beside `dir`).
    let mut all = config;
    all.in_memory = Some(false);
    let written = toml::Table::try_from(&all).unwrap();
    let mut keys: Vec<&str> = written.keys().map(String::as_str).collect();
    let mut listed = FasterKvConfig::KEYS.to_vec();
    keys.sort_unstable();
    listed.sort_unstable();
    assert_eq!(keys, listed);
}

#[test]
fn a_bad_value_fails_with_the_builders_error() {
    for (file, by_hand) in [
        (
            "page_size_bits = 3",
            FasterKvBuilder::default().page_size_bits(3),
        ),
        (
            "read_cache = \"1 KiB\"",
            FasterKvBuilder::default().read_cache(1024),
        ),
        (
            "mutable_fraction = 1.5",
            FasterKvBuilder::default().mutable_fraction(1.5),
        ),
        (
            "index_buckets = 1000",
            FasterKvBuilder::default().index_buckets(1000),
        ),
        (
            "[compaction]\nlog_budget = 0",
            FasterKvBuilder::default().compaction(CompactionPolicy::with_budget(0)),
        ),
    ] {
        let config = FasterKvConfig::from_toml(file).unwrap();
        let from_file = config.check().err().map(|e| e.to_string());
        let expected = by_hand.check().err().map(|e| e.to_string());
        assert!(expected.is_some(), "{file}: the builder accepts it");
        assert_eq!(from_file, expected, "{file}");
        let opened = config
            .builder()
            .open::<u64, u64>()
            .err()
            .map(|e| e.to_string());
        assert_eq!(opened, expected, "{file}: open");
    }
    // Values of the wrong kind and unknown keys are refused by name.
    for (file, word) in [
        ("memory_budget = \"lots\"", "lots"),
        ("memory_budgt = 5", "memory_budgt"),
        ("checkpoint_every = 30", "checkpoint_every"),
        ("[compaction]\nkind = \"sideways\"", "sideways"),
    ] {
        let err = FasterKvConfig::from_toml(file).err().map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains(word)),
            "{file}: {err:?}"
        );
    }
}

#[test]
fn environment_variables_override_the_file() {
    let env = [
        ("FASTER_MEMORY_BUDGET", "32MiB"),
        ("FASTER_COMPACTION__THREADS", "3"),
        ("FASTER_CRASH_SEEDS", "9"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let config: FasterKvConfig = faster_config::from_toml_with_env(
        "memory_budget = \"64 MiB\"\n[compaction]\nlog_budget = \"1 GiB\"\n",
        env,
        FasterKvConfig::KEYS,
    )
    .unwrap();
    assert_eq!(config.memory_budget, Some(faster_config::Bytes(32 << 20)));
    let compaction = config.compaction.unwrap();
    assert_eq!(compaction.threads, Some(3));
    assert_eq!(compaction.log_budget, faster_config::Bytes(1 << 30));
}

#[test]
fn a_store_opened_from_a_file_reopens_from_it_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store.toml");
    let store_dir = dir.path().join("store");
    std::fs::write(
        &file,
        format!(
            "dir = {:?}\nmemory_budget = \"16 MiB\"\npage_size_bits = 16\ncheckpoint_on_close = true\n",
            store_dir.display().to_string()
        ),
    )
    .unwrap();
    let config = FasterKvConfig::load(&file).unwrap();
    {
        let store: FasterKv<u64, u64> = config.builder().open().unwrap();
        assert_eq!(store.opened(), Opened::Created);
        let mut s = store.session().unwrap();
        for k in 0..1000u64 {
            s.upsert(&k, &(k * 3)).unwrap();
        }
    }
    let store: FasterKv<u64, u64> = config.builder().open().unwrap();
    assert!(matches!(store.opened(), Opened::Recovered(_)));
    let mut s = store.session().unwrap();
    for k in 0..1000u64 {
        assert_eq!(s.read(&k).unwrap(), Some(k * 3));
    }
}
