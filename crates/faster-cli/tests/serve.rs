//! `faster serve` end to end: the built binary serves a new store on 127.0.0.1, stops on
//! SIGTERM with a final checkpoint, and serves what it wrote again after a restart.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking; the directories are the test's own"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
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

    let (child, addr, stderr) = serve(dir.path());
    talk(&addr, "GET greeting\r\nINCR n\r\n", "$5\r\nhello\r\n:2\r\n");
    stop(child, stderr);
}

#[test]
fn serve_takes_the_store_settings_from_a_file_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("store.toml");
    std::fs::write(&config, "memory_budget = \"16 MiB\"\npage_size_bits = 16\n").unwrap();
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
    let out = Command::new(env!("CARGO_BIN_EXE_faster"))
        .arg("serve")
        .arg(dir.path().join("other"))
        .args(["--listen", "127.0.0.1:0", "--config", config_arg])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("page_size_bits"), "{err}");
    assert!(!dir.path().join("other").exists(), "nothing is created");
}
