//! Pipelines, bad input, stalled and surplus clients: the server answers every complete
//! request in order, closes a connection that breaks the protocol with Redis's error, and
//! keeps serving everyone else.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::io::Write;
use std::net::TcpStream;

use common::{Raw, bulk, config, err, start, start_with};
use faster_server::ServerConfig;
use faster_server::resp::Frame;

#[test]
fn a_pipeline_is_answered_in_order() {
    let running = start();
    let mut c = Raw::connect(running.addr);
    let mut bytes = Vec::new();
    for i in 0..200 {
        bytes.extend_from_slice(format!("SET k{i} {i}\r\n").as_bytes());
        bytes.extend_from_slice(format!("INCR k{i}\r\n").as_bytes());
        if i % 50 == 0 {
            bytes.extend_from_slice(b"DBSIZE\r\n");
        }
    }
    bytes.extend_from_slice(b"MGET k0 k199\r\n");
    c.send(&bytes);
    for i in 0..200 {
        assert_eq!(c.read(), Some(Frame::ok()));
        assert_eq!(c.read(), Some(Frame::Integer(i + 1)));
        if i % 50 == 0 {
            // Everything before it in the pipeline is in the store.
            assert_eq!(c.read(), Some(Frame::Integer(i + 1)));
        }
    }
    assert_eq!(c.read(), Some(Frame::Array(vec![bulk("1"), bulk("200")])));

    let mut con = common::redis_connection(running.addr);
    let mut pipe = redis::pipe();
    for i in 0..100 {
        pipe.cmd("APPEND").arg("log").arg(format!("{i},"));
    }
    pipe.cmd("STRLEN").arg("log");
    let lengths: Vec<i64> = pipe.query(&mut con).unwrap();
    assert_eq!(lengths.len(), 101);
    assert_eq!(lengths[100], lengths[99]);
    assert!(lengths.windows(2).take(99).all(|w| w[0] < w[1]));
    running.server.shutdown().unwrap();
}

#[test]
fn protocol_errors_close_only_their_connection() {
    let running = start();
    let mut healthy = Raw::connect(running.addr);
    assert_eq!(healthy.call(&["SET", "k", "v"]), Frame::ok());
    let cases: [(&[u8], &str); 4] = [
        (b"*1\r\n$-3\r\n", "ERR Protocol error: invalid bulk length"),
        (
            b"*1\r\n$99999999999\r\n",
            "ERR Protocol error: invalid bulk length",
        ),
        (b"*2\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'"),
        (b"*zz\r\n", "ERR Protocol error: invalid multibulk length"),
    ];
    for (bytes, text) in cases {
        let mut c = Raw::connect(running.addr);
        // A complete request before the bad one is still answered.
        let mut sent = b"PING\r\n".to_vec();
        sent.extend_from_slice(bytes);
        c.send(&sent);
        assert_eq!(c.read(), Some(Frame::simple("PONG")));
        assert_eq!(c.read(), Some(err(text)));
        assert!(c.closed());
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20 {
        let mut c = Raw::connect(running.addr);
        let noise: Vec<u8> = (0..512)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed.to_le_bytes()[0]
            })
            .collect();
        let _ = c.stream.write_all(&noise);
        drop(c);
    }
    assert_eq!(healthy.call(&["GET", "k"]), bulk("v"));
    running.server.shutdown().unwrap();
}

#[test]
fn a_stalled_half_frame_keeps_only_its_own_client_waiting() {
    let running = start();
    let mut stalled = Raw::connect(running.addr);
    stalled.send(b"*2\r\n$3\r\nGET\r\n$100\r\nabc");
    let mut other = Raw::connect(running.addr);
    for i in 0..50 {
        let key = format!("k{i}");
        assert_eq!(other.call(&["SET", &key, "x"]), Frame::ok());
    }
    // The rest of the frame, much later: it is answered.
    let mut rest = vec![b'd'; 97];
    rest.extend_from_slice(b"\r\n");
    stalled.send(&rest);
    assert_eq!(stalled.read(), Some(Frame::Null));
    // A client that leaves mid-frame costs nothing.
    let mut leaving = Raw::connect(running.addr);
    leaving.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk");
    drop(leaving);
    assert_eq!(other.call(&["PING"]), Frame::simple("PONG"));
    running.server.shutdown().unwrap();
}

#[test]
fn clients_past_the_limit_are_refused_with_redis_error() {
    let running = start_with(ServerConfig {
        max_clients: 2,
        ..config()
    });
    let mut first = Raw::connect(running.addr);
    let mut second = Raw::connect(running.addr);
    assert_eq!(first.call(&["PING"]), Frame::simple("PONG"));
    assert_eq!(second.call(&["PING"]), Frame::simple("PONG"));
    let mut third = Raw::connect(running.addr);
    assert_eq!(third.read(), Some(err("ERR max number of clients reached")));
    assert!(third.closed());
    drop(first);
    // The slot is free once the server has seen the first client leave.
    let mut replies = Vec::new();
    for _ in 0..100 {
        let mut again = Raw::connect(running.addr);
        let reply = again.call(&["PING"]);
        if reply == Frame::simple("PONG") {
            replies.push(reply);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(replies, vec![Frame::simple("PONG")]);
    running.server.shutdown().unwrap();
}

#[test]
fn shutdown_answers_what_was_read_and_closes_idle_clients() {
    let running = start();
    let mut idle = Raw::connect(running.addr);
    assert_eq!(idle.call(&["PING"]), Frame::simple("PONG"));
    let mut half = TcpStream::connect(running.addr).unwrap();
    half.write_all(b"*1\r\n$4\r\nPI").unwrap();
    let report = running.server.shutdown().unwrap();
    assert!(report.connections >= 1);
    assert!(idle.closed());
}

#[test]
fn concurrent_clients_on_one_key_lose_no_update() {
    let running = start();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let addr = running.addr;
            std::thread::spawn(move || {
                let mut c = Raw::connect(addr);
                let mut taken = 0;
                for i in 0..200 {
                    assert!(matches!(c.call(&["INCR", "hits"]), Frame::Integer(n) if n >= 1));
                    assert!(matches!(
                        c.call(&["APPEND", "trail", "x"]),
                        Frame::Integer(_)
                    ));
                    // Each value is set once and taken by exactly one GETDEL.
                    let key = format!("token{i}");
                    if t == 0 {
                        assert_eq!(c.call(&["SET", &key, "t"]), Frame::ok());
                    }
                    if c.call(&["GETDEL", &key]) == bulk("t") {
                        taken += 1;
                    }
                }
                taken
            })
        })
        .collect();
    let taken: i64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let mut c = Raw::connect(running.addr);
    assert_eq!(c.call(&["GET", "hits"]), bulk("800"));
    assert_eq!(c.call(&["STRLEN", "trail"]), Frame::Integer(800));
    let left = (0..200)
        .filter(|i| c.call(&["EXISTS", &format!("token{i}")]) == Frame::Integer(1))
        .count();
    assert_eq!(taken + i64::try_from(left).unwrap(), 200);
    running.server.shutdown().unwrap();
}
