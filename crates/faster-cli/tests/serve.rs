//! `faster serve` end to end: the built binary serves a new store on 127.0.0.1, stops on
//! SIGTERM with a final checkpoint, and serves what it wrote again after a restart; killed
//! with SIGKILL while clients write, it keeps every write acknowledged before a SAVE answered,
//! and with `--appendfsync always` every acknowledged write; served without the log, it
//! replays a log left by an earlier run into a checkpoint and removes it.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking; the directories are the test's own"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A `faster serve` child, killed if a failing test leaves it running.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `faster serve DIR` on a port the system chooses; the child and its address.
fn serve(dir: &Path) -> (Served, String, BufReader<std::process::ChildStderr>) {
    serve_with(dir, &["--memory-budget", "16777216"])
}

/// [`serve`] with further arguments.
fn serve_with(dir: &Path, more: &[&str]) -> (Served, String, BufReader<std::process::ChildStderr>) {
    let mut child = Served(
        Command::new(env!("CARGO_BIN_EXE_faster"))
            .arg("serve")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0", "--max-clients", "8"])
            .args(more)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the server ended early"
        );
        if let Some(rest) = line.strip_prefix("listening on ") {
            let addr = rest.split_whitespace().next().unwrap().to_owned();
            return (child, addr, stderr);
        }
    }
}

/// Sends inline commands and checks that the answers are `expected`, byte for byte.
fn talk(addr: &str, commands: &str, expected: &str) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(commands.as_bytes()).unwrap();
    let mut got = vec![0u8; expected.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), expected);
}

/// Sends SIGTERM and waits for a clean exit; what the server printed last.
fn stop(mut child: Served, mut stderr: BufReader<std::process::ChildStderr>) -> String {
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(child.0.wait().unwrap().success(), "{rest}");
    rest
}

#[test]
fn serve_stops_on_sigterm_with_a_checkpoint_that_a_restart_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, stderr) = serve(dir.path());
    talk(
        &addr,
        "SET greeting hello\r\nINCR n\r\nPING\r\n",
        "+OK\r\n:1\r\n+PONG\r\n",
    );
    let last = stop(child, stderr);
    assert!(last.contains("final checkpoint"), "{last}");

    // Served again in the other mode: two store workers and two I/O threads, busy polling.
    let (child, addr, stderr) = serve_with(
        dir.path(),
        &[
            "--workers",
            "2",
            "--io-threads",
            "2",
            "--busy-poll-us",
            "100",
        ],
    );
    talk(&addr, "GET greeting\r\nINCR n\r\n", "$5\r\nhello\r\n:2\r\n");
    let last = stop(child, stderr);
    assert!(last.contains("final checkpoint"), "{last}");
}

#[test]
fn serve_takes_the_store_settings_from_a_file_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("store.toml");
    std::fs::write(
        &config,
        "memory_budget = \"16 MiB\"\npage_size_bits = 16\n[server]\nbusy_poll_us = 50\n",
    )
    .unwrap();
    let store = dir.path().join("store");
    let config_arg = config.to_str().unwrap();
    let (child, addr, stderr) = serve_with(&store, &["--config", config_arg]);
    talk(&addr, "SET k v\r\nGET k\r\n", "+OK\r\n$1\r\nv\r\n");
    stop(child, stderr);
    // The store was created with the file's page size: `faster inspect` says so.
    let inspect = Command::new(env!("CARGO_BIN_EXE_faster"))
        .arg("inspect")
        .arg(&store)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(text.contains("65536") || text.contains("2^16"), "{text}");

    std::fs::write(&config, "page_size_bits = 3\n").unwrap();
    refused_before_anything_opens(dir.path(), config_arg, "page_size_bits");
}

/// Sends one inline command and reads one line of reply.
fn request(stream: &mut BufReader<TcpStream>, command: &str) -> String {
    stream
        .get_mut()
        .write_all(format!("{command}\r\n").as_bytes())
        .unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).unwrap();
    line
}

#[test]
fn a_server_killed_while_clients_write_keeps_every_write_acknowledged_before_its_last_save() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, _stderr) = serve(dir.path());
    let saves = Arc::new(AtomicU64::new(0));
    let writer = |first: u64| {
        let addr = addr.clone();
        let saves = Arc::clone(&saves);
        std::thread::spawn(move || {
            let mut stream = BufReader::new(TcpStream::connect(&addr).unwrap());
            let mut saved_through = None;
            // Writes until the server dies; after each SAVE that answered, every write before
            // it is in a checkpoint.
            for i in first.. {
                let stream_ok = stream
                    .get_mut()
                    .write_all(format!("SET key:{i} value:{i}\r\n").as_bytes())
                    .is_ok();
                let mut line = String::new();
                if !stream_ok || stream.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                assert_eq!(line, "+OK\r\n");
                if i % 500 == 499 {
                    let mut line = String::new();
                    let sent = stream.get_mut().write_all(b"SAVE\r\n").is_ok();
                    if !sent || stream.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    // The other client's SAVE may be running: this one then saved nothing.
                    if line == "-ERR Background save already in progress\r\n" {
                        continue;
                    }
                    assert_eq!(line, "+OK\r\n");
                    saved_through = Some(i);
                    saves.fetch_add(1, Ordering::Relaxed);
                }
            }
            (first, saved_through)
        })
    };
    let writers = [writer(0), writer(1_000_000)];
    // Let them write and save a few times, then kill the server mid-stream.
    let waited = std::time::Instant::now();
    while saves.load(Ordering::Relaxed) < 6 {
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "the writers stalled"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    let mut served = child;
    served.0.kill().unwrap();
    served.0.wait().unwrap();
    let results: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(
        results.iter().any(|(_, saved)| saved.is_some()),
        "a writer saw a SAVE answered: {results:?}"
    );

    let (child, addr, stderr) = serve(dir.path());
    let mut stream = BufReader::new(TcpStream::connect(&addr).unwrap());
    for (first, saved) in results {
        let Some(saved) = saved else { continue };
        for i in (first..=saved).step_by(7).chain([saved]) {
            let reply = request(&mut stream, &format!("GET key:{i}"));
            assert!(reply.starts_with('$'), "key:{i}: {reply:?}");
            let mut value = String::new();
            stream.read_line(&mut value).unwrap();
            assert_eq!(value, format!("value:{i}\r\n"), "key:{i}");
        }
    }
    drop(stream);
    stop(child, stderr);
}

/// Reads one RESP reply line (and the value line of a bulk string); `None` once the
/// connection is gone.
fn reply(stream: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    if stream.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    if line.starts_with('$') && line != "$-1\r\n" {
        let mut value = String::new();
        stream.read_line(&mut value).ok()?;
        line.push_str(&value);
    }
    Some(line)
}

/// What one writer had acknowledged when the server died.
#[derive(Debug)]
struct Acknowledged {
    prefix: String,
    /// `SET {prefix}:key:{i}` answered for every `i` below this.
    sets: u64,
    /// `INCR {prefix}:counter` answered this many times.
    incrs: u64,
    /// A command was sent and not answered: it may or may not have been applied.
    in_flight: Option<&'static str>,
}

#[test]
fn a_server_killed_with_appendfsync_always_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, _stderr) = serve_with(
        dir.path(),
        &["--memory-budget", "16777216", "--appendfsync", "always"],
    );
    let acknowledged = Arc::new(AtomicU64::new(0));
    let writer = |prefix: &'static str| {
        let addr = addr.clone();
        let acknowledged = Arc::clone(&acknowledged);
        std::thread::spawn(move || {
            let mut stream = BufReader::new(TcpStream::connect(&addr).unwrap());
            stream
                .get_ref()
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut done = Acknowledged {
                prefix: prefix.to_owned(),
                sets: 0,
                incrs: 0,
                in_flight: None,
            };
            loop {
                let i = done.sets;
                let set = format!("SET {prefix}:key:{i} value:{i}\r\n");
                done.in_flight = Some("SET");
                if stream.get_mut().write_all(set.as_bytes()).is_err() {
                    break;
                }
                match reply(&mut stream) {
                    Some(line) => assert_eq!(line, "+OK\r\n"),
                    None => break,
                }
                done.sets += 1;
                done.in_flight = Some("INCR");
                let incr = format!("INCR {prefix}:counter\r\n");
                if stream.get_mut().write_all(incr.as_bytes()).is_err() {
                    break;
                }
                match reply(&mut stream) {
                    Some(line) => assert_eq!(line, format!(":{}\r\n", done.incrs + 1)),
                    None => break,
                }
                done.incrs += 1;
                done.in_flight = None;
                acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            done
        })
    };
    let writers = [writer("a"), writer("b")];
    // A moment that differs from run to run, after some writes were acknowledged.
    let waited = std::time::Instant::now();
    while acknowledged.load(Ordering::Relaxed) < 20 {
        assert!(
            waited.elapsed() < Duration::from_secs(15),
            "the writers stalled"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::thread::sleep(Duration::from_millis(u64::from(nanos % 500)));
    let mut served = child;
    served.0.kill().unwrap();
    served.0.wait().unwrap();
    let results: Vec<Acknowledged> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(
        results.iter().map(|r| r.incrs).sum::<u64>() >= 20,
        "too few writes were acknowledged: {results:?}"
    );

    eprintln!("{results:?}");
    let (child, addr, stderr) = serve_with(dir.path(), &["--appendfsync", "always"]);
    let mut stream = BufReader::new(TcpStream::connect(&addr).unwrap());
    stream
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut get = |key: &str| {
        stream
            .get_mut()
            .write_all(format!("GET {key}\r\n").as_bytes())
            .unwrap();
        reply(&mut stream).unwrap()
    };
    for done in &results {
        let prefix = &done.prefix;
        // A counter holds every acknowledged INCR, and one more only if one was unanswered.
        let incrs = done.incrs;
        let expected = format!("${}\r\n{incrs}\r\n", incrs.to_string().len());
        let one_more = format!("${}\r\n{}\r\n", (incrs + 1).to_string().len(), incrs + 1);
        let counter = get(&format!("{prefix}:counter"));
        assert!(
            counter == expected || (done.in_flight == Some("INCR") && counter == one_more),
            "{prefix}:counter is {counter:?} after {done:?}"
        );
        for i in 0..done.sets {
            let value = format!("value:{i}");
            assert_eq!(
                get(&format!("{prefix}:key:{i}")),
                format!("${}\r\n{value}\r\n", value.len()),
                "{prefix}:key:{i} after {done:?}"
            );
        }
        // No write beyond the one in flight was applied.
        assert_eq!(get(&format!("{prefix}:key:{}", done.sets + 1)), "$-1\r\n");
    }
    drop(stream);
    stop(child, stderr);
}

#[test]
fn serving_without_the_log_replays_it_into_a_checkpoint_and_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        "memory_budget = \"16 MiB\"\n[server]\nappendfsync = \"everysec\"\n",
    )
    .unwrap();
    let store = dir.path().join("store");
    let config_arg = config.to_str().unwrap();
    let (child, addr, _stderr) = serve_with(&store, &["--config", config_arg]);
    let mut stream = BufReader::new(TcpStream::connect(&addr).unwrap());
    assert_eq!(request(&mut stream, "SET kept 1"), "+OK\r\n");
    assert_eq!(request(&mut stream, "INCRBY counter 41"), ":41\r\n");
    assert_eq!(request(&mut stream, "CONFIG GET appendfsync"), "*2\r\n");
    assert_eq!(reply(&mut stream).unwrap(), "$11\r\nappendfsync\r\n");
    assert_eq!(reply(&mut stream).unwrap(), "$8\r\neverysec\r\n");
    // Past the once-a-second commit, then as a crash.
    std::thread::sleep(Duration::from_millis(1500));
    let mut served = child;
    served.0.kill().unwrap();
    served.0.wait().unwrap();
    drop(stream);
    assert!(store.join("aof").exists());
    // The log's directory inside the store's does not disturb the store's tools.
    let verify = Command::new(env!("CARGO_BIN_EXE_faster"))
        .arg("verify")
        .arg(&store)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // Without a log: the old one is replayed, checkpointed and removed.
    let (child, addr, stderr) = serve_with(&store, &["--appendfsync", "no"]);
    talk(&addr, "GET kept\r\nINCR counter\r\n", "$1\r\n1\r\n:42\r\n");
    stop(child, stderr);
    assert!(!store.join("aof").exists(), "the log was not removed");
    let (child, addr, stderr) = serve(&store);
    talk(&addr, "GET counter\r\n", "$2\r\n42\r\n");
    stop(child, stderr);

    // A bad value in the table is refused before anything opens.
    std::fs::write(&config, "[server]\nappendfsync = \"sometimes\"\n").unwrap();
    refused_before_anything_opens(dir.path(), config_arg, "sometimes");
}

/// `faster serve DIR/other --config FILE` fails, naming `what`, and creates nothing.
fn refused_before_anything_opens(dir: &Path, config_arg: &str, what: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_faster"))
        .arg("serve")
        .arg(dir.join("other"))
        .args(["--listen", "127.0.0.1:0", "--config", config_arg])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(what), "{err}");
    assert!(!dir.join("other").exists(), "nothing is created");
}
