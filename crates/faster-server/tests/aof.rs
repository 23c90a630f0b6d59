//! The append-only log: every acknowledged write survives a stop without a checkpoint (as a
//! crash leaves the directory), replay works on top of a checkpoint that truncated the log,
//! and a damaged or unknown entry stops the start instead of giving wrong data.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Raw, bulk, config, open_store};
use faster_server::resp::Frame;
use faster_server::{AofConfig, AofError, Durability, Fsync, Server, ServerConfig, ServerError};

fn aof_dir(dir: &Path) -> PathBuf {
    dir.join("aof")
}

fn durable(dir: &Path, fsync: Fsync) -> ServerConfig {
    ServerConfig {
        durability: Durability::Log(AofConfig {
            dir: aof_dir(dir),
            fsync,
        }),
        ..config()
    }
}

fn start(dir: &Path, fsync: Fsync) -> Server {
    Server::start(open_store(dir), durable(dir, fsync)).unwrap()
}

/// The `INFO persistence` field `name`.
fn info_field(c: &mut Raw, name: &str) -> String {
    let Frame::Bulk(text) = c.call(&["INFO", "persistence"]) else {
        panic!("INFO is not a bulk string");
    };
    let text = String::from_utf8(text).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .to_owned()
}

/// What the keys should hold: `None` for a deleted key.
type Oracle = HashMap<String, Option<String>>;

/// Runs a mix of writes on one connection and records what each acknowledged one left.
fn write_mix(c: &mut Raw, prefix: &str, rounds: u32, oracle: &mut Oracle) {
    for i in 0..rounds {
        let key = format!("{prefix}:s:{i}");
        assert_eq!(c.call(&["SET", &key, &format!("v{i}")]), Frame::ok());
        oracle.insert(key.clone(), Some(format!("v{i}")));
        let counter = format!("{prefix}:n:{}", i % 7);
        let Frame::Integer(n) = c.call(&["INCR", &counter]) else {
            panic!("INCR did not answer an integer");
        };
        oracle.insert(counter, Some(n.to_string()));
        let log = format!("{prefix}:a:{}", i % 5);
        assert!(matches!(c.call(&["APPEND", &log, "xy"]), Frame::Integer(_)));
        let old = oracle.get(&log).cloned().flatten().unwrap_or_default();
        oracle.insert(log, Some(format!("{old}xy")));
        if i % 3 == 0 {
            assert_eq!(c.call(&["DEL", &key]), Frame::Integer(1));
            oracle.insert(key, None);
        }
        if i % 10 == 0 {
            let (a, b) = (format!("{prefix}:m:{i}:a"), format!("{prefix}:m:{i}:b"));
            assert_eq!(c.call(&["MSET", &a, "1", &b, "2"]), Frame::ok());
            oracle.insert(a, Some("1".into()));
            oracle.insert(b.clone(), Some("2".into()));
            assert_eq!(c.call(&["GETDEL", &b]), bulk("2"));
            oracle.insert(b, None);
        }
    }
}

/// Every key of `oracle` reads back as recorded, and the store holds nothing else.
fn check(c: &mut Raw, oracle: &Oracle) {
    for (key, value) in oracle {
        let expected = value.as_deref().map_or(Frame::Null, bulk);
        assert_eq!(c.call(&["GET", key]), expected, "{key}");
    }
    let live = oracle.values().filter(|v| v.is_some()).count();
    assert_eq!(
        c.call(&["DBSIZE"]),
        Frame::Integer(i64::try_from(live).unwrap())
    );
}

/// Two connections writing at once to `addr`, each on keys of its own prefix; what their
/// acknowledged writes left.
fn two_writers(addr: std::net::SocketAddr, prefixes: [&'static str; 2], rounds: u32) -> Oracle {
    let writers: Vec<_> = prefixes
        .into_iter()
        .map(|prefix| {
            std::thread::spawn(move || {
                let mut oracle = Oracle::new();
                write_mix(&mut Raw::connect(addr), prefix, rounds, &mut oracle);
                oracle
            })
        })
        .collect();
    let mut oracle = Oracle::new();
    for writer in writers {
        oracle.extend(writer.join().unwrap());
    }
    oracle
}

#[test]
fn every_acknowledged_write_survives_a_stop_without_checkpoint_and_a_second_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Fsync::Always);
    let addr = server.local_addr();
    let mut oracle = two_writers(addr, ["x", "y"], 120);
    let mut c = Raw::connect(addr);
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    assert_eq!(info_field(&mut c, "aof_fsync"), "always");
    let appended: u64 = info_field(&mut c, "aof_entries_appended").parse().unwrap();
    assert!(appended >= 2 * 120 * 3, "{appended} entries");
    drop(c);
    server.stop_without_checkpoint().unwrap();

    let store = open_store(dir.path());
    assert!(
        store.opened().recovered().is_none(),
        "no checkpoint was taken"
    );
    let server = Server::start(store, durable(dir.path(), Fsync::Always)).unwrap();
    let mut c = Raw::connect(server.local_addr());
    check(&mut c, &oracle);
    let replayed: u64 = info_field(&mut c, "aof_replayed_entries").parse().unwrap();
    assert_eq!(replayed, appended);
    // Replayed writes and new ones survive the next stop without checkpoint too.
    write_mix(&mut c, "z", 20, &mut oracle);
    drop(c);
    server.stop_without_checkpoint().unwrap();
    let server = start(dir.path(), Fsync::Always);
    check(&mut Raw::connect(server.local_addr()), &oracle);
    server.shutdown().unwrap();
}

#[test]
fn replay_after_a_save_applies_the_rest_of_the_log_which_the_save_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Fsync::Always);
    let mut c = Raw::connect(server.local_addr());
    let mut oracle = Oracle::new();
    write_mix(&mut c, "before", 40, &mut oracle);
    let begin_before: u64 = info_field(&mut c, "aof_begin_address").parse().unwrap();
    assert_eq!(c.call(&["SAVE"]), Frame::ok());
    let begin_after: u64 = info_field(&mut c, "aof_begin_address").parse().unwrap();
    assert!(
        begin_after > begin_before,
        "the log was not truncated: {begin_before} -> {begin_after}"
    );
    let appended_before: u64 = info_field(&mut c, "aof_entries_appended").parse().unwrap();
    // Overwrite and delete some of the saved keys, and add new ones.
    write_mix(&mut c, "before", 10, &mut oracle);
    write_mix(&mut c, "after", 10, &mut oracle);
    let appended_after: u64 = info_field(&mut c, "aof_entries_appended").parse().unwrap();
    drop(c);
    server.stop_without_checkpoint().unwrap();

    let store = open_store(dir.path());
    assert!(
        store.opened().recovered().is_some(),
        "the SAVE is recovered"
    );
    let server = Server::start(store, durable(dir.path(), Fsync::Always)).unwrap();
    let mut c = Raw::connect(server.local_addr());
    check(&mut c, &oracle);
    // What replay read: the writes after the SAVE and the SAVE's mark, nothing before.
    let replayed: u64 = info_field(&mut c, "aof_replayed_entries").parse().unwrap();
    assert_eq!(replayed, appended_after - appended_before + 1);
    drop(c);
    server.shutdown().unwrap();
}

#[test]
fn a_clean_shutdown_leaves_an_empty_log_and_everysec_writes_survive_after_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Fsync::EverySecond);
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(c.call(&["SET", "k", "1"]), Frame::ok());
    assert_eq!(c.call(&["INCRBY", "n", "5"]), Frame::Integer(5));
    assert_eq!(info_field(&mut c, "aof_fsync"), "everysec");
    std::thread::sleep(Duration::from_millis(1500));
    // A loaded machine may run the once-a-second commit late: wait (up to 10 s more) until
    // the log is committed to its tail.
    let tail = |c: &mut Raw| -> u64 {
        let begin: u64 = info_field(c, "aof_begin_address").parse().unwrap();
        let size: u64 = info_field(c, "aof_current_size").parse().unwrap();
        begin + size
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while info_field(&mut c, "aof_committed_until")
        .parse::<u64>()
        .unwrap()
        < tail(&mut c)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(c);
    server.stop_without_checkpoint().unwrap();

    let server = start(dir.path(), Fsync::EverySecond);
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(c.call(&["GET", "k"]), bulk("1"));
    assert_eq!(c.call(&["GET", "n"]), bulk("5"));
    assert_eq!(info_field(&mut c, "aof_replayed_entries"), "2");
    drop(c);
    server.shutdown().unwrap();

    // The final checkpoint covered everything: only its mark is left to read.
    let server = start(dir.path(), Fsync::Always);
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(info_field(&mut c, "aof_replayed_entries"), "1");
    assert_eq!(c.call(&["GET", "n"]), bulk("5"));
    drop(c);
    server.shutdown().unwrap();
}

/// Flips one byte of the first occurrence of `needle` in the log's files.
fn damage(aof: &Path, needle: &[u8]) {
    for entry in std::fs::read_dir(aof).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        if let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) {
            bytes[at + needle.len() / 2] ^= 0x20;
            std::fs::write(&path, bytes).unwrap();
            return;
        }
    }
    panic!("no file of {} holds the value", aof.display());
}

#[test]
fn a_damaged_entry_in_the_middle_of_the_log_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Fsync::Always);
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(c.call(&["SET", "a", "first"]), Frame::ok());
    assert_eq!(c.call(&["SET", "b", "needle-0123456789"]), Frame::ok());
    assert_eq!(c.call(&["SET", "a", "last"]), Frame::ok());
    drop(c);
    server.stop_without_checkpoint().unwrap();
    damage(&aof_dir(dir.path()), b"needle-0123456789");

    let error = Server::start(open_store(dir.path()), durable(dir.path(), Fsync::Always))
        .expect_err("the damaged log was accepted");
    assert!(
        matches!(error, ServerError::Aof(AofError::Damaged { .. })),
        "{error}"
    );
    assert!(error.to_string().contains("damaged entry"), "{error}");
}

#[test]
fn an_entry_of_an_unknown_format_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    drop(open_store(dir.path()));
    let log = faster_log::FasterLog::builder_in_dir(aof_dir(dir.path()))
        .page_size_bits(24)
        .segment_size(128 << 20)
        .memory_pages(4)
        .open()
        .unwrap();
    log.enqueue(&[2, 1, 1, 0, 0, 0, b'k', b'v']).unwrap();
    log.commit().unwrap();
    drop(log);

    let error = Server::start(open_store(dir.path()), durable(dir.path(), Fsync::Always))
        .expect_err("an entry of format 2 was accepted");
    assert!(
        error.to_string().contains("unknown entry format 2"),
        "{error}"
    );
}

#[test]
fn config_get_and_info_tell_the_durability() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(open_store(dir.path()), config()).unwrap();
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    drop(c);
    server.shutdown().unwrap();
    let server = start(dir.path(), Fsync::Always);
    let mut c = Raw::connect(server.local_addr());
    // RESP2 writes the map as an array of names and values.
    assert_eq!(
        c.call(&["CONFIG", "GET", "append*"]),
        Frame::Array(vec![
            bulk("appendfsync"),
            bulk("always"),
            bulk("appendonly"),
            bulk("yes"),
        ])
    );
    drop(c);
    server.shutdown().unwrap();
}

#[test]
fn a_log_truncated_for_a_checkpoint_the_store_no_longer_has_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Fsync::Always);
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(c.call(&["SET", "saved", "1"]), Frame::ok());
    assert_eq!(c.call(&["SAVE"]), Frame::ok());
    assert_eq!(c.call(&["SET", "after", "2"]), Frame::ok());
    drop(c);
    server.stop_without_checkpoint().unwrap();
    // The checkpoint the log was truncated for is gone: `saved` is in neither.
    let checkpoints = dir.path().join("checkpoints");
    std::fs::remove_dir_all(&checkpoints).unwrap();
    std::fs::create_dir(&checkpoints).unwrap();

    let error = Server::start(open_store(dir.path()), durable(dir.path(), Fsync::Always))
        .expect_err("a log missing the writes before its begin was accepted");
    assert!(
        matches!(
            error,
            ServerError::Aof(AofError::CheckpointBehindLog { .. })
        ),
        "{error}"
    );
}

#[test]
fn periodic_checkpoints_truncate_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        checkpoint_every: Some(Duration::from_millis(200)),
        ..durable(dir.path(), Fsync::Always)
    };
    let server = Server::start(open_store(dir.path()), config).unwrap();
    let mut c = Raw::connect(server.local_addr());
    let begin: u64 = info_field(&mut c, "aof_begin_address").parse().unwrap();
    assert_eq!(c.call(&["SET", "k", "v"]), Frame::ok());
    let waited = std::time::Instant::now();
    while info_field(&mut c, "aof_begin_address")
        .parse::<u64>()
        .unwrap()
        == begin
    {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "no checkpoint truncated the log"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let completed: u64 = info_field(&mut c, "store_checkpoints_completed")
        .parse()
        .unwrap();
    assert!(completed >= 1);
    drop(c);
    server.stop_without_checkpoint().unwrap();
    let server = start(dir.path(), Fsync::Always);
    assert_eq!(
        Raw::connect(server.local_addr()).call(&["GET", "k"]),
        bulk("v")
    );
    server.shutdown().unwrap();
}

#[test]
fn a_value_too_large_for_a_log_entry_is_refused_before_it_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Fsync::Always);
    let mut c = Raw::connect(server.local_addr());
    let big = "x".repeat(16 << 20);
    let Frame::Error(text) = c.call(&["SET", "big", &big]) else {
        panic!("a 16 MiB value was accepted");
    };
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("too large for the append-only log"), "{text}");
    assert_eq!(c.call(&["EXISTS", "big"]), Frame::Integer(0));
    // A value that fits is logged as usual.
    let fits = "y".repeat(64 << 10);
    assert_eq!(c.call(&["SET", "fits", &fits]), Frame::ok());
    drop(c);
    server.stop_without_checkpoint().unwrap();
    let server = start(dir.path(), Fsync::Always);
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(c.call(&["STRLEN", "fits"]), Frame::Integer(64 << 10));
    assert_eq!(c.call(&["EXISTS", "big"]), Frame::Integer(0));
    drop(c);
    server.shutdown().unwrap();
}

#[test]
fn expiries_set_and_changed_after_the_checkpoint_come_back_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Fsync::Always);
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(c.call(&["SET", "saved", "v", "EX", "1000"]), Frame::ok());
    assert_eq!(c.call(&["SAVE"]), Frame::ok());
    // Everything below is in the log only.
    assert_eq!(
        c.call(&["SET", "year", "v", "EXAT", "4102444800"]),
        Frame::ok()
    );
    assert_eq!(c.call(&["PERSIST", "saved"]), Frame::Integer(1));
    assert_eq!(c.call(&["SET", "plain", "v"]), Frame::ok());
    assert_eq!(
        c.call(&["PEXPIREAT", "plain", "4102444800000"]),
        Frame::Integer(1)
    );
    assert_eq!(c.call(&["SET", "brief", "v", "PX", "200"]), Frame::ok());
    assert_eq!(c.call(&["INCR", "brief_counter"]), Frame::Integer(1));
    assert_eq!(
        c.call(&["PEXPIRE", "brief_counter", "200"]),
        Frame::Integer(1)
    );
    drop(c);
    server.stop_without_checkpoint().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let server = start(dir.path(), Fsync::Always);
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(c.call(&["TTL", "saved"]), Frame::Integer(-1));
    assert_eq!(
        c.call(&["EXPIRETIME", "year"]),
        Frame::Integer(4_102_444_800)
    );
    assert_eq!(
        c.call(&["EXPIRETIME", "plain"]),
        Frame::Integer(4_102_444_800)
    );
    assert_eq!(c.call(&["GET", "brief"]), Frame::Null);
    assert_eq!(c.call(&["GET", "brief_counter"]), Frame::Null);
    assert_eq!(c.call(&["DBSIZE"]), Frame::Integer(3));
    drop(c);
    server.shutdown().unwrap();
}

#[test]
fn inline_mode_logs_and_replays_every_acknowledged_write_too() {
    let dir = tempfile::tempdir().unwrap();
    let inline = || ServerConfig {
        workers: 0,
        ..durable(dir.path(), Fsync::Always)
    };
    let server = Server::start(open_store(dir.path()), inline()).unwrap();
    let addr = server.local_addr();
    let oracle = two_writers(addr, ["p", "q"], 80);
    let mut c = Raw::connect(addr);
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    drop(c);
    server.stop_without_checkpoint().unwrap();
    let server = Server::start(open_store(dir.path()), inline()).unwrap();
    check(&mut Raw::connect(server.local_addr()), &oracle);
    server.shutdown().unwrap();
}
