//! `faster dump`, `faster load`, `faster compact` and the space lines of `faster inspect`, end
//! to end: the built binary on stores this test writes with its own types, which the binary
//! opens with byte codecs.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking; the directories are the test's own"
)]

use std::path::Path;
use std::process::{Command, Stdio};

use faster_kv::{FasterKv, FasterKvBuilder};

/// What a run of the binary printed, and whether it succeeded.
struct Run {
    ok: bool,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

fn faster(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_faster"))
        .args(args.iter().map(|a| a.as_ref()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        output.status
    );
    Run {
        ok: output.status.success(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// 4 KiB pages, 8 of them in memory, 64 KiB segments: most of the log is in segment files.
fn small(dir: &Path) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir)
        .page_size_bits(12)
        .memory_budget(8 << 12)
        .segment_size(1 << 16)
        .index_buckets(1 << 10)
}

const KEYS: u64 = 3_000;

/// What key `k` holds in the store [`write_words`] leaves.
fn word(k: u64) -> Option<String> {
    (!k.is_multiple_of(7)).then(|| format!("value {k} {}", "x".repeat((k % 23) as usize)))
}

/// A `u64 -> str` store: every key written twice, every seventh deleted, a checkpoint.
fn write_words(dir: &Path) {
    let store: FasterKv<u64, str> = small(dir).open().unwrap();
    let mut s = store.session().unwrap();
    for k in 0..KEYS {
        s.upsert(&k, "first").unwrap();
    }
    for k in 0..KEYS {
        match word(k) {
            Some(v) => s.upsert(&k, &v).unwrap(),
            None => s.delete(&k).map(drop).unwrap(),
        }
    }
    drop(s);
    store.checkpoint().unwrap().wait().unwrap();
}

fn live_words() -> u64 {
    (0..KEYS).filter(|&k| word(k).is_some()).count() as u64
}

#[test]
fn a_dump_loads_into_a_new_store_that_reads_back_the_same_records() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to, file) = (
        tmp.path().join("from"),
        tmp.path().join("to"),
        tmp.path().join("words.dump"),
    );
    write_words(&from);
    let dumped = faster(&[&"dump", &from, &"-o", &file]);
    assert!(dumped.ok, "{}", dumped.stderr);
    let line = format!("dumped {} records", live_words());
    assert!(dumped.stderr.contains(&line), "{}", dumped.stderr);
    let to_stdout = faster(&[&"dump", &from]);
    assert!(to_stdout.ok, "{}", to_stdout.stderr);
    assert_eq!(to_stdout.stdout, std::fs::read(&file).unwrap());

    let loaded = faster(&[&"load", &file, &to]);
    assert!(loaded.ok, "{}", loaded.stderr);
    let line = format!("loaded {} records", live_words());
    assert!(loaded.text().contains(&line), "{}", loaded.text());
    let store: FasterKv<u64, str> = FasterKv::open(&to).unwrap();
    let mut s = store.session().unwrap();
    for k in 0..KEYS {
        assert_eq!(s.read(&k).unwrap(), word(k), "key {k}");
    }
    drop((s, store));

    let again = faster(&[&"load", &file, &to]);
    assert!(!again.ok);
    assert!(
        again.stderr.contains("already holds a store"),
        "{}",
        again.stderr
    );
    assert!(FasterKv::<u64, str>::open(&to).is_ok(), "left as it was");
}

#[test]
fn fixed_sizes_of_four_and_sixteen_bytes_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to, file) = (
        tmp.path().join("from"),
        tmp.path().join("to"),
        tmp.path().join("pairs.dump"),
    );
    let key = |k: u32| [u64::from(k), u64::from(k) << 32];
    {
        let store: FasterKv<[u64; 2], u32> = small(&from).open().unwrap();
        let mut s = store.session().unwrap();
        (0..1_000u32).for_each(|k| s.upsert(&key(k), &(k * 3)).unwrap());
        drop(s);
        store.checkpoint().unwrap().wait().unwrap();
    }
    assert!(faster(&[&"dump", &from, &"-o", &file]).ok);
    let loaded = faster(&[&"load", &file, &to]);
    assert!(loaded.ok, "{}", loaded.stderr);
    let store: FasterKv<[u64; 2], u32> = FasterKv::open(&to).unwrap();
    let mut s = store.session().unwrap();
    for k in 0..1_000u32 {
        assert_eq!(s.read(&key(k)).unwrap(), Some(k * 3));
    }
}

/// A store of byte values with an expiry, as `faster serve` keeps: the dump leaves out the
/// expired records, and the loaded store reads the rest, expiries included.
#[test]
fn expired_values_are_left_out_of_a_dump_and_the_rest_keep_their_expiry() {
    use faster_kv::Expiring;
    let tmp = tempfile::tempdir().unwrap();
    let (from, to, file) = (
        tmp.path().join("from"),
        tmp.path().join("to"),
        tmp.path().join("served.dump"),
    );
    let later = faster_kv::now_millis() + 3_600_000;
    let value = |k: u32| -> Expiring<[u8]> {
        Expiring {
            value: format!("v{k}").into_bytes(),
            // A third never expires, a third expires in an hour, a third expired long ago.
            expires_at: [None, Some(later), Some(1)][(k % 3) as usize],
        }
    };
    {
        let store: FasterKv<[u8], Expiring<[u8]>> = small(&from).open().unwrap();
        let mut s = store.session().unwrap();
        for k in 0..900u32 {
            s.upsert(format!("k{k}").as_bytes(), &value(k)).unwrap();
        }
        drop(s);
        store.checkpoint().unwrap().wait().unwrap();
    }
    let dumped = faster(&[&"dump", &from, &"-o", &file]);
    assert!(dumped.ok, "{}", dumped.stderr);
    assert!(
        dumped.stderr.contains("dumped 600 records"),
        "{}",
        dumped.stderr
    );
    let loaded = faster(&[&"load", &file, &to]);
    assert!(loaded.ok, "{}", loaded.stderr);
    let store: FasterKv<[u8], Expiring<[u8]>> = FasterKv::open(&to).unwrap();
    let mut s = store.session().unwrap();
    for k in 0..900u32 {
        let want = (k % 3 != 2).then(|| value(k));
        assert_eq!(s.read(format!("k{k}").as_bytes()).unwrap(), want, "key {k}");
    }
    assert_eq!(store.scan().unwrap().count(), 600);
}

#[test]
fn a_damaged_dump_is_refused_and_leaves_no_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to, file) = (
        tmp.path().join("from"),
        tmp.path().join("to"),
        tmp.path().join("words.dump"),
    );
    write_words(&from);
    assert!(faster(&[&"dump", &from, &"-o", &file]).ok);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 1]).unwrap();
    let run = faster(&[&"load", &file, &to]);
    assert!(!run.ok);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
    assert!(!to.exists(), "the new store was removed");
}

#[test]
fn a_store_of_a_size_without_a_byte_codec_is_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let store: FasterKv<[u32; 3], u64> = small(tmp.path()).open().unwrap();
        store.session().unwrap().upsert(&[1, 2, 3], &4).unwrap();
        store.checkpoint().unwrap().wait().unwrap();
    }
    let run = faster(&[&"dump", &tmp.path(), &"-o", &tmp.path().join("x.dump")]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains("[u32; 3] (pod, 12 bytes, align 4)")
            && run.stderr.contains("faster_kv::dump::dump"),
        "{}",
        run.stderr
    );
}

/// The number after `label` in `text`.
fn number_after(text: &str, label: &str) -> u64 {
    let rest = &text[text
        .find(label)
        .unwrap_or_else(|| panic!("no {label} in {text}"))
        + label.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[test]
fn compact_shrinks_the_disk_bytes_of_a_store_with_many_overwrites() {
    // Far more keys than the 32 KiB of pages in memory: most updates append a new record.
    const KEYS: u64 = 20_000;
    const ROUNDS: u64 = 10;
    let dir = tempfile::tempdir().unwrap();
    {
        let store: FasterKv<u64, u64> = small(dir.path()).open().unwrap();
        let mut s = store.session().unwrap();
        for round in 0..ROUNDS {
            (0..KEYS).for_each(|k| s.upsert(&k, &(k + round)).unwrap());
        }
        drop(s);
        store.checkpoint().unwrap().wait().unwrap();
    }
    let run = faster(&[&"compact", &dir.path()]);
    assert!(run.ok, "{}", run.stderr);
    let text = run.text();
    let before = number_after(&text, "disk bytes before");
    let after = number_after(&text, "disk bytes after");
    assert!(after * 3 < before, "{text}");
    assert!(
        number_after(&text, "records read") >= KEYS * (ROUNDS - 1),
        "{text}"
    );
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    let mut s = store.session().unwrap();
    for k in 0..KEYS {
        assert_eq!(s.read(&k).unwrap(), Some(k + ROUNDS - 1));
    }
}

#[test]
fn inspect_prints_log_and_disk_bytes_and_with_live_the_live_bytes() {
    let dir = tempfile::tempdir().unwrap();
    write_words(dir.path());
    let run = faster(&[&"inspect", &dir.path()]);
    assert!(run.ok, "{}", run.stderr);
    let text = run.text();
    assert!(
        text.contains("\nlog bytes: ") && text.contains("the log of the checkpoint"),
        "{text}"
    );
    assert!(
        text.contains("\ndisk bytes: ") && text.contains("segment files"),
        "{text}"
    );
    assert!(!text.contains("live:"), "{text}");
    let run = faster(&[&"inspect", &"--live", &dir.path()]);
    assert!(run.ok, "{}", run.stderr);
    let text = run.text();
    let line = format!("live: {} records, live bytes ", live_words());
    assert!(
        text.contains(&line) && text.contains("against log bytes"),
        "{text}"
    );
}

#[test]
fn load_takes_its_settings_from_a_file_and_refuses_a_bad_one_with_the_builders_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, file) = (tmp.path().join("from"), tmp.path().join("words.dump"));
    write_words(&from);
    assert!(faster(&[&"dump", &from, &"-o", &file]).ok);
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "page_size_bits = 3\n").unwrap();
    let to = tmp.path().join("bad-store");
    let run = faster(&[&"load", &file, &to, &"--config", &bad]);
    assert!(!run.ok);
    let expected = FasterKv::builder().page_size_bits(3).check().unwrap_err();
    assert!(run.stderr.contains(&expected.to_string()), "{}", run.stderr);
    assert!(!to.exists(), "nothing created");
    let misspelt = tmp.path().join("misspelt.toml");
    std::fs::write(&misspelt, "page_sise_bits = 14\n").unwrap();
    let run = faster(&[&"load", &file, &to, &"--config", &misspelt]);
    assert!(
        !run.ok && run.stderr.contains("page_sise_bits"),
        "{}",
        run.stderr
    );

    let good = tmp.path().join("good.toml");
    std::fs::write(&good, "page_size_bits = 14\nmemory_budget = \"256 KiB\"\n").unwrap();
    let to = tmp.path().join("to");
    let run = faster(&[&"load", &file, &to, &"--config", &good]);
    assert!(run.ok, "{}", run.stderr);
    // The store was created with the file's page size: another one is refused.
    let other = FasterKv::builder()
        .dir(&to)
        .page_size_bits(12)
        .open::<u64, str>();
    assert!(
        other
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("page_size_bits")),
        "{:?}",
        other.err()
    );
    let store: FasterKv<u64, str> = FasterKv::builder()
        .dir(&to)
        .page_size_bits(14)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    for k in 0..KEYS {
        assert_eq!(s.read(&k).unwrap(), word(k), "key {k}");
    }
}
