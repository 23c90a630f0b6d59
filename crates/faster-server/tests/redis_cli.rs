//! The same script through `redis-cli`, against redis-server and against faster-server: the
//! outputs must be equal byte for byte. Skipped, with the reason printed, when `redis-cli`
//! or `redis-server` is not installed (CI installs them: `.ci/run`).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = include_str!("data/redis_cli_script.txt");

/// `name` in a directory of `PATH`.
fn find(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

/// A redis-server child, killed when dropped.
struct RedisServer(Child);

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the script through redis-cli against 127.0.0.1:`port`, in RESP2 and in RESP3.
fn run_script(cli: &Path, port: u16) -> Vec<u8> {
    let mut all = run_script_with(cli, port, &[]);
    all.extend_from_slice(b"--- RESP3 ---\n");
    all.extend_from_slice(&run_script_with(cli, port, &["-3"]));
    all
}

fn run_script_with(cli: &Path, port: u16, args: &[&str]) -> Vec<u8> {
    let mut child = Command::new(cli)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), SCRIPT.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let mut all = output.stdout;
    all.extend_from_slice(b"--- stderr ---\n");
    all.extend_from_slice(&output.stderr);
    all
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn redis_cli_prints_the_same_for_redis_server_and_faster_server() {
    let (Some(cli), Some(redis)) = (find("redis-cli"), find("redis-server")) else {
        println!("skipped: redis-cli or redis-server is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Command::new(redis)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--databases",
            "1",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = RedisServer(server);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let expected = run_script(&cli, port);

    let running = common::start();
    let got = run_script(&cli, running.addr.port());
    running.server.shutdown().unwrap();
    // Inline mode (no store workers) answers the same.
    let inline = common::start_with(faster_server::ServerConfig {
        workers: 0,
        ..common::config()
    });
    let got_inline = run_script(&cli, inline.addr.port());
    inline.server.shutdown().unwrap();
    assert!(got_inline == got, "inline mode answered differently");
    // So does one I/O thread (a current-thread runtime) with busy polling.
    let polling = common::start_with(faster_server::ServerConfig {
        workers: 0,
        runtime_threads: 1,
        busy_poll: Some(Duration::from_micros(200)),
        ..common::config()
    });
    let got_polling = run_script(&cli, polling.addr.port());
    polling.server.shutdown().unwrap();
    assert!(
        got_polling == got,
        "one busy-polling thread answered differently"
    );
    assert!(
        expected.len() > 200,
        "{}",
        String::from_utf8_lossy(&expected)
    );
    let (expected, got) = (
        String::from_utf8_lossy(&expected).into_owned(),
        String::from_utf8_lossy(&got).into_owned(),
    );
    let differences: Vec<String> = expected
        .lines()
        .zip(got.lines())
        .enumerate()
        .filter(|(_, (want, have))| want != have)
        .map(|(line, (want, have))| format!("line {}: redis {want:?}, faster {have:?}", line + 1))
        .collect();
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert_eq!(expected, got);
}
