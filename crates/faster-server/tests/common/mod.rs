//! What the server's tests share: a server on 127.0.0.1 with a port the system chose, over a
//! store in a temporary directory, and a raw connection that sends bytes and reads frames.
#![allow(dead_code, reason = "each test file uses a part")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use faster_server::resp::{Frame, Limits, parse_frame};
use faster_server::{ByteStore, Server, ServerConfig};

/// A running server and its store's directory.
pub(crate) struct Running {
    pub(crate) server: Server,
    pub(crate) addr: SocketAddr,
    pub(crate) dir: tempfile::TempDir,
}

/// The settings of a test server: 127.0.0.1, any port, a small store.
pub(crate) fn config() -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".into(),
        ..ServerConfig::default()
    }
}

/// Opens (or recovers) the store in `dir` with a small memory budget.
pub(crate) fn open_store(dir: &std::path::Path) -> ByteStore {
    faster_kv::FasterKv::builder()
        .dir(dir)
        .memory_budget(16 << 20)
        .page_size_bits(20)
        .open()
        .unwrap()
}

/// Starts a server with `config` over a new store.
pub(crate) fn start_with(config: ServerConfig) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(open_store(dir.path()), config).unwrap();
    let addr = server.local_addr();
    Running { server, addr, dir }
}

/// Starts a server with the test settings.
pub(crate) fn start() -> Running {
    start_with(config())
}

/// A client of the `redis` crate connected to `addr`.
pub(crate) fn redis_connection(addr: SocketAddr) -> redis::Connection {
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap()
}

/// A plain TCP connection that writes bytes and reads RESP frames.
pub(crate) struct Raw {
    pub(crate) stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub(crate) fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next frame; `None` when the server closed the connection.
    pub(crate) fn read(&mut self) -> Option<Frame> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.buf, &Limits::default()).unwrap() {
                self.buf.drain(..used);
                return Some(frame);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("reading a reply: {e}"),
            }
        }
    }

    /// Sends a command as an array of bulk strings and reads its reply.
    pub(crate) fn call(&mut self, args: &[&str]) -> Frame {
        let frame = Frame::Array(args.iter().map(|a| Frame::bulk(a.as_bytes())).collect());
        self.send(&frame.to_bytes(faster_server::resp::Protocol::Resp2));
        self.read().expect("a reply")
    }

    /// Whether the server has closed the connection (reads end of stream).
    pub(crate) fn closed(&mut self) -> bool {
        self.read().is_none()
    }
}

/// An error reply with exactly `text`.
pub(crate) fn err(text: &str) -> Frame {
    Frame::Error(text.as_bytes().to_vec())
}

/// A bulk reply.
pub(crate) fn bulk(text: &str) -> Frame {
    Frame::Bulk(text.as_bytes().to_vec())
}
