//! `faster stats DIR --listen ADDR`: the store's statistics as Prometheus text at
//! `GET /metrics`, over plain HTTP/1.1 on `std::net`, read afresh from the open store for each
//! request. One request per connection (`Connection: close`); anything but `GET /metrics` is
//! answered with its status (400, 404, 405), never dropped without a word.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// The longest request head read: a scraper's is a few hundred bytes.
const MAX_HEAD: u64 = 16 << 10;

/// How long a connection may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an idle server waits between looks for a connection (it polls, so that `--for`
/// stops it even when nobody connects).
const IDLE_POLL: Duration = Duration::from_millis(20);

/// When the server stops by itself.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    /// After this long.
    pub(crate) serve_for: Option<Duration>,
    /// After answering this many requests.
    pub(crate) requests: Option<u64>,
}

/// The address to listen on: `PORT` alone is `127.0.0.1:PORT`; `HOST:PORT` is taken as given.
pub(crate) fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    text.parse::<SocketAddr>().map_err(|_| {
        format!("--listen {text}: expected PORT (on 127.0.0.1) or IP:PORT, such as 127.0.0.1:9187")
    })
}

/// Binds `addr`, says where on stdout (and on stderr when the address is not loopback: anyone
/// who can reach it can read the statistics), and answers requests with `page()` until a
/// limit is reached. Returns the requests answered.
pub(crate) fn serve(
    addr: SocketAddr,
    limits: Limits,
    mut page: impl FnMut() -> String,
) -> Result<u64, String> {
    let listener = TcpListener::bind(addr).map_err(|e| format!("listening on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    if !bound.ip().is_loopback() {
        eprintln!(
            "note: serving on {bound}, which is not a loopback address: anyone who can reach it can read the statistics"
        );
    }
    println!("serving http://{bound}/metrics");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("listening on {bound}: {e}"))?;
    let deadline = limits.serve_for.map(|d| Instant::now() + d);
    let mut answered = 0;
    loop {
        if limits.requests.is_some_and(|n| answered >= n)
            || deadline.is_some_and(|d| Instant::now() >= d)
        {
            return Ok(answered);
        }
        match listener.accept() {
            Ok((stream, peer)) => {
                if let Err(e) = answer(stream, &mut page) {
                    eprintln!("{peer}: {e}");
                }
                answered += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(IDLE_POLL),
            Err(e) => return Err(format!("accepting on {bound}: {e}")),
        }
    }
}

/// Reads one request head and writes the answer.
fn answer(stream: TcpStream, page: &mut impl FnMut() -> String) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new((&stream).take(MAX_HEAD));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The headers are read and ignored; a head longer than MAX_HEAD is refused.
    let mut complete = false;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        if line == "\r\n" || line == "\n" {
            complete = true;
            break;
        }
    }
    let (status, content_type, body) = match route(&request_line, complete) {
        Route::Metrics => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", page()),
        Route::Refuse(status, why) => (status, "text/plain; charset=utf-8", format!("{why}\n")),
    };
    let allow = if status.starts_with("405") {
        "Allow: GET\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        body.len()
    );
    let mut stream = &stream;
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    /// A status line's code and reason, and why.
    Refuse(&'static str, &'static str),
}

fn route(request_line: &str, complete: bool) -> Route {
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::Refuse("400 Bad Request", "expected METHOD TARGET HTTP/1.x");
    };
    if !complete || !version.starts_with("HTTP/1.") {
        return Route::Refuse("400 Bad Request", "expected an HTTP/1.x request head");
    }
    let path = target.split('?').next().unwrap_or(target);
    if path != "/metrics" {
        return Route::Refuse("404 Not Found", "the statistics are at /metrics");
    }
    if method != "GET" {
        return Route::Refuse("405 Method Not Allowed", "only GET is served");
    }
    Route::Metrics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_complete_get_of_metrics_is_served() {
        assert_eq!(route("GET /metrics HTTP/1.1\r\n", true), Route::Metrics);
        assert_eq!(route("GET /metrics?x=1 HTTP/1.0\r\n", true), Route::Metrics);
        assert!(
            matches!(route("GET / HTTP/1.1\r\n", true), Route::Refuse(s, _) if s.starts_with("404"))
        );
        assert!(
            matches!(route("POST /metrics HTTP/1.1\r\n", true), Route::Refuse(s, _) if s.starts_with("405"))
        );
        assert!(
            matches!(route("GET /metrics HTTP/1.1\r\n", false), Route::Refuse(s, _) if s.starts_with("400"))
        );
        assert!(matches!(route("hello\r\n", true), Route::Refuse(s, _) if s.starts_with("400")));
    }

    #[test]
    fn a_bare_port_listens_on_loopback() {
        assert_eq!(
            parse_listen("9187").ok(),
            Some(SocketAddr::from(([127, 0, 0, 1], 9187)))
        );
        assert_eq!(
            parse_listen("[::1]:80").ok(),
            Some("[::1]:80".parse().unwrap_or_else(|_| unreachable!()))
        );
        assert!(parse_listen("localhost").is_err());
    }
}
