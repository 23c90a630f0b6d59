//! `faster stats DIR --listen`: a server on 127.0.0.1 that answers `GET /metrics` with
//! Prometheus text that parses, refuses other requests with their status, and stops by itself
//! (after `--requests N`, or `--for SECONDS` as a backstop).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use faster_f2::F2Kv;
use faster_kv::FasterKv;
use faster_log::FasterLog;
use faster_metrics::{Sample, parse};

/// A `faster stats --listen` process, killed if the test ends before it stops by itself.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Starts it on a free port of 127.0.0.1 and reads the address it serves.
    fn start(dir: &Path, limits: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_faster"))
            .args(["stats", "--listen", "127.0.0.1:0"])
            .args(limits)
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("serving http://")
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Self { child, addr }
    }

    /// Waits for the process to stop by itself; whether it succeeded.
    fn wait(mut self) -> bool {
        self.child.wait().unwrap().success()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends `request` and returns the status line, the headers (lower-cased names) and the body.
fn http(addr: SocketAddr, request: &str) -> (String, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_string();
    let headers = lines
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap();
            (name.trim().to_lowercase(), value.trim().to_string())
        })
        .collect();
    (status, headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
        .map(|s| s.value)
}

const GET_METRICS: &str = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n";

#[test]
fn a_store_serves_its_metrics_and_stops_after_its_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let final_address = {
        let store: FasterKv<u64, u64> = FasterKv::builder()
            .dir(tmp.path())
            .page_size_bits(12)
            .memory_budget(8 << 12)
            .segment_size(1 << 16)
            .index_buckets(1 << 10)
            .open()
            .unwrap();
        let mut s = store.session().unwrap();
        for k in 0..3_000u64 {
            s.upsert(&k, &k).unwrap();
        }
        drop(s);
        let info = store.checkpoint().unwrap().wait().unwrap();
        info.final_address.unwrap()
    };
    let server = Server::start(tmp.path(), &["--requests", "4", "--for", "300"]);
    assert!(server.addr.ip().is_loopback());

    for _ in 0..2 {
        let (status, headers, body) = http(server.addr, GET_METRICS);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(
            header(&headers, "content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        assert_eq!(
            header(&headers, "content-length"),
            Some(body.len().to_string().as_str())
        );
        let samples = parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
        assert_eq!(
            value(&samples, "faster_kv_log_address", &[("at", "tail")]),
            Some(final_address.raw() as f64)
        );
        assert!(value(&samples, "faster_kv_sessions", &[]).is_some());
    }
    let (status, _, _) = http(server.addr, "GET / HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, headers, _) = http(server.addr, "DELETE /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    assert_eq!(header(&headers, "allow"), Some("GET"));
    assert!(server.wait(), "the server stops by itself after 4 requests");
}

#[test]
fn an_f2_store_is_served_without_background_work() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let store: F2Kv<u64, u64> = F2Kv::builder(tmp.path())
            .page_size_bits(12)
            .hot_memory(16 << 12)
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
    let server = Server::start(tmp.path(), &["--requests", "1", "--for", "300"]);
    let (status, _, body) = http(server.addr, GET_METRICS);
    assert_eq!(status, "HTTP/1.1 200 OK");
    let samples = parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    assert_eq!(
        value(&samples, "faster_f2_migrations_total", &[]),
        Some(0.0)
    );
    assert!(value(&samples, "faster_f2_cold_log_address", &[("at", "tail")]).is_some());
    assert!(server.wait());
}

#[test]
fn a_log_served_for_a_while_stops_by_itself_with_no_request() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let log = FasterLog::builder_in_dir(tmp.path()).open().unwrap();
        log.enqueue(b"entry").unwrap();
        log.commit().unwrap();
    }
    let server = Server::start(tmp.path(), &["--for", "0.2"]);
    assert!(server.wait());
}

#[test]
fn listen_options_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_faster"))
            .arg("stats")
            .args(args)
            .arg(tmp.path())
            .output()
            .unwrap()
    };
    // --for and --requests need --listen; --listen and --prometheus do not go together.
    assert!(!run(&["--for", "1"]).status.success());
    assert!(!run(&["--listen", "0", "--prometheus"]).status.success());
    let bad = run(&["--listen", "localhost"]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("expected PORT"), "{stderr}");
}
