//! Settings files for FasterLog: every builder setting can come from TOML, a bad value fails
//! with the builder's own error, and a log opened from a file reopens from it.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::time::Duration;

use faster_log::{CommitPolicy, FasterLog, FasterLogConfig};

#[test]
fn a_file_with_every_key_gives_the_builder_set_by_hand() {
    let config = FasterLogConfig::from_toml(
        "page_size_bits = 16\nmemory_pages = 8\nhuge_pages = false\n\
         commit_policy = { every_interval = \"5ms\" }\nfast_commit = false\n\
         metadata_interval_bytes = \"1 MiB\"\ncommit_slot_size = 8192\nmax_threads = 4\n\
         segment_size = \"16 MiB\"\ndirect_io = false\npreallocate = false\n",
    )
    .unwrap();
    let by_hand = FasterLog::builder_in_dir("/tmp/x")
        .page_size_bits(16)
        .memory_pages(8)
        .huge_pages(false)
        .commit_policy(CommitPolicy::EveryInterval(Duration::from_millis(5)))
        .fast_commit(false)
        .metadata_interval_bytes(1 << 20)
        .commit_slot_size(8192)
        .max_threads(4)
        .segment_size(16 << 20)
        .direct_io(false)
        .preallocate(false);
    assert_eq!(
        format!("{:?}", config.builder_in_dir("/tmp/x")),
        format!("{by_hand:?}")
    );
    let written = toml::Table::try_from(&config).unwrap();
    let mut keys: Vec<&str> = written.keys().map(String::as_str).collect();
    let mut listed = FasterLogConfig::KEYS.to_vec();
    keys.sort_unstable();
    listed.sort_unstable();
    assert_eq!(keys, listed);
    let explicit = FasterLogConfig::from_toml("commit_policy = \"explicit\"").unwrap();
    let bytes = FasterLogConfig::from_toml("commit_policy = { every_bytes = \"1 MiB\" }").unwrap();
    assert_eq!(
        (
            explicit.commit_policy.map(CommitPolicy::from),
            bytes.commit_policy.map(CommitPolicy::from)
        ),
        (
            Some(CommitPolicy::Explicit),
            Some(CommitPolicy::EveryBytes(1 << 20))
        )
    );
}

#[test]
fn a_bad_value_fails_as_the_builder_does_and_a_good_file_reopens_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    for (file, by_hand) in [
        (
            "page_size_bits = 40",
            FasterLog::builder_in_dir(&log_dir).page_size_bits(40),
        ),
        (
            "max_threads = 0",
            FasterLog::builder_in_dir(&log_dir).max_threads(0),
        ),
        (
            "commit_policy = { every_bytes = 0 }",
            FasterLog::builder_in_dir(&log_dir).commit_policy(CommitPolicy::EveryBytes(0)),
        ),
    ] {
        let expected = by_hand.open().err().map(|e| e.to_string());
        assert!(expected.is_some(), "{file}: the builder accepts it");
        let config = FasterLogConfig::from_toml(file).unwrap();
        let got = config
            .builder_in_dir(&log_dir)
            .open()
            .err()
            .map(|e| e.to_string());
        assert_eq!(got, expected, "{file}");
    }
    assert!(FasterLogConfig::from_toml("commit_policy = \"sometimes\"").is_err());
    let file = dir.path().join("log.toml");
    std::fs::write(
        &file,
        "page_size_bits = 16\nmemory_pages = 8\ndirect_io = false\npreallocate = false\n",
    )
    .unwrap();
    let config = FasterLogConfig::load(&file).unwrap();
    let address = {
        let log = config.builder_in_dir(&log_dir).open().unwrap();
        let a = log.enqueue(b"kept").unwrap();
        log.commit().unwrap();
        a
    };
    let log = config.builder_in_dir(&log_dir).open().unwrap();
    assert_eq!(log.read_entry(address).unwrap(), b"kept");
}
