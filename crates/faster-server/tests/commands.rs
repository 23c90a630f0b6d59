//! Every command, through the `redis` crate and through raw frames (for exact replies and
//! error texts, as redis-server 7.0 gives them).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use common::{Raw, bulk, err, redis_connection, start};
use faster_server::resp::Frame;

fn int(n: i64) -> Frame {
    Frame::Integer(n)
}

#[test]
fn redis_crate_client_reads_back_what_it_wrote() {
    let running = start();
    let mut con = redis_connection(running.addr);
    let set: String = redis::cmd("SET")
        .arg("greeting")
        .arg("hello")
        .query(&mut con)
        .unwrap();
    assert_eq!(set, "OK");
    let got: Option<String> = redis::cmd("GET").arg("greeting").query(&mut con).unwrap();
    assert_eq!(got.as_deref(), Some("hello"));
    let missing: Option<String> = redis::cmd("GET").arg("nobody").query(&mut con).unwrap();
    assert_eq!(missing, None);
    let n: i64 = redis::cmd("INCRBY")
        .arg("counter")
        .arg(41)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 41);
    let n: i64 = redis::cmd("INCR").arg("counter").query(&mut con).unwrap();
    assert_eq!(n, 42);
    let () = redis::cmd("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query(&mut con)
        .unwrap();
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg("a")
        .arg("b")
        .arg("c")
        .query(&mut con)
        .unwrap();
    assert_eq!(values, vec![Some("1".into()), Some("2".into()), None]);
    let binary = vec![0u8, 13, 10, 255, 0];
    let () = redis::cmd("SET")
        .arg(b"bin\r\nkey")
        .arg(&binary)
        .query(&mut con)
        .unwrap();
    let back: Vec<u8> = redis::cmd("GET")
        .arg(b"bin\r\nkey")
        .query(&mut con)
        .unwrap();
    assert_eq!(back, binary);
    let error = redis::cmd("INCR")
        .arg("greeting")
        .query::<i64>(&mut con)
        .unwrap_err();
    assert_eq!(
        error.detail(),
        Some("value is not an integer or out of range")
    );
    drop(con);
    running.server.shutdown().unwrap();
}

#[test]
fn string_commands_answer_as_redis_does() {
    let running = start();
    let mut c = Raw::connect(running.addr);
    assert_eq!(c.call(&["SET", "k", "v"]), Frame::ok());
    assert_eq!(c.call(&["SET", "k", "w", "NX"]), Frame::Null);
    assert_eq!(c.call(&["SET", "k", "w", "XX", "GET"]), bulk("v"));
    assert_eq!(c.call(&["SET", "fresh", "x", "XX"]), Frame::Null);
    assert_eq!(c.call(&["SET", "fresh", "x", "NX", "GET"]), Frame::Null);
    assert_eq!(c.call(&["GET", "fresh"]), bulk("x"));
    assert_eq!(
        c.call(&["SET", "k", "v", "NX", "XX"]),
        err("ERR syntax error")
    );
    assert_eq!(c.call(&["SET", "k", "v", "BOGUS"]), err("ERR syntax error"));
    assert_eq!(c.call(&["SETNX", "k", "z"]), int(0));
    assert_eq!(c.call(&["SETNX", "n", "z"]), int(1));
    assert_eq!(c.call(&["GETSET", "n", "y"]), bulk("z"));
    assert_eq!(c.call(&["GETSET", "none", "y"]), Frame::Null);
    assert_eq!(c.call(&["GETDEL", "n"]), bulk("y"));
    assert_eq!(c.call(&["GETDEL", "n"]), Frame::Null);
    assert_eq!(c.call(&["GET", "n"]), Frame::Null);
    assert_eq!(c.call(&["APPEND", "s", "ab"]), int(2));
    assert_eq!(c.call(&["APPEND", "s", "cde"]), int(5));
    assert_eq!(c.call(&["GET", "s"]), bulk("abcde"));
    assert_eq!(c.call(&["STRLEN", "s"]), int(5));
    assert_eq!(c.call(&["STRLEN", "nothing"]), int(0));
    assert_eq!(c.call(&["MSET", "m1", "1", "m2", "2"]), Frame::ok());
    assert_eq!(
        c.call(&["MGET", "m1", "nothing", "m2"]),
        Frame::Array(vec![bulk("1"), Frame::Null, bulk("2")])
    );
    assert_eq!(
        c.call(&["MSET", "m1", "1", "m2"]),
        err("ERR wrong number of arguments for 'mset' command")
    );
    running.server.shutdown().unwrap();
}

#[test]
fn counters_check_integers_and_overflow() {
    let running = start();
    let mut c = Raw::connect(running.addr);
    assert_eq!(c.call(&["INCR", "c"]), int(1));
    assert_eq!(c.call(&["INCRBY", "c", "10"]), int(11));
    assert_eq!(c.call(&["DECR", "c"]), int(10));
    assert_eq!(c.call(&["DECRBY", "c", "-5"]), int(15));
    assert_eq!(c.call(&["GET", "c"]), bulk("15"));
    let not_int = err("ERR value is not an integer or out of range");
    assert_eq!(c.call(&["INCRBY", "c", "1.5"]), not_int);
    assert_eq!(c.call(&["SET", "s", "01"]), Frame::ok());
    assert_eq!(c.call(&["INCR", "s"]), not_int);
    assert_eq!(c.call(&["SET", "s", " 1"]), Frame::ok());
    assert_eq!(c.call(&["INCR", "s"]), not_int);
    assert_eq!(c.call(&["SET", "big", "9223372036854775807"]), Frame::ok());
    assert_eq!(
        c.call(&["INCR", "big"]),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(c.call(&["GET", "big"]), bulk("9223372036854775807"));
    assert_eq!(
        c.call(&["DECRBY", "c", "-9223372036854775808"]),
        err("ERR decrement would overflow")
    );
    running.server.shutdown().unwrap();
}

#[test]
fn key_space_commands_count_and_flush() {
    let running = start();
    let mut c = Raw::connect(running.addr);
    for key in ["a", "b", "c"] {
        assert_eq!(c.call(&["SET", key, "1"]), Frame::ok());
    }
    assert_eq!(c.call(&["EXISTS", "a", "a", "zz", "b"]), int(3));
    assert_eq!(c.call(&["DBSIZE"]), int(3));
    assert_eq!(c.call(&["DEL", "a", "a", "zz"]), int(1));
    assert_eq!(c.call(&["UNLINK", "b"]), int(1));
    assert_eq!(c.call(&["EXISTS", "a", "b", "c"]), int(1));
    assert_eq!(c.call(&["DBSIZE"]), int(1));
    assert_eq!(c.call(&["FLUSHDB"]), Frame::ok());
    assert_eq!(c.call(&["DBSIZE"]), int(0));
    assert_eq!(c.call(&["GET", "c"]), Frame::Null);
    assert_eq!(c.call(&["FLUSHDB", "NOW"]), err("ERR syntax error"));
    running.server.shutdown().unwrap();
}

#[test]
fn scan_returns_every_key_once_over_its_pages() {
    let running = start();
    let mut c = Raw::connect(running.addr);
    for i in 0..55 {
        assert_eq!(c.call(&["SET", &format!("key:{i}"), "v"]), Frame::ok());
    }
    assert_eq!(c.call(&["SET", "other", "v"]), Frame::ok());
    let mut seen = Vec::new();
    let mut cursor = "0".to_owned();
    let mut calls = 0;
    loop {
        let Frame::Array(reply) = c.call(&["SCAN", &cursor, "MATCH", "key:*", "COUNT", "7"]) else {
            panic!("SCAN answers an array");
        };
        let [Frame::Bulk(next), Frame::Array(keys)] = reply.as_slice() else {
            panic!("SCAN answers a cursor and keys: {reply:?}");
        };
        seen.extend(keys.iter().map(|k| match k {
            Frame::Bulk(k) => String::from_utf8(k.clone()).unwrap(),
            other => panic!("{other:?}"),
        }));
        cursor = String::from_utf8(next.clone()).unwrap();
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(calls, 8, "56 keys, 7 a page");
    seen.sort();
    let mut expected: Vec<String> = (0..55).map(|i| format!("key:{i}")).collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(c.call(&["SCAN", "x"]), err("ERR invalid cursor"));
    assert_eq!(
        c.call(&["SCAN", "0", "COUNT", "0"]),
        err("ERR syntax error")
    );
    assert_eq!(
        c.call(&["SCAN", "0", "TYPE", "list", "COUNT", "100"]),
        Frame::Array(vec![bulk("0"), Frame::Array(vec![])])
    );
    running.server.shutdown().unwrap();
}

#[test]
fn connection_commands_answer_as_redis_does() {
    let running = start();
    let mut c = Raw::connect(running.addr);
    assert_eq!(c.call(&["PING"]), Frame::simple("PONG"));
    assert_eq!(c.call(&["ping", "hi"]), bulk("hi"));
    assert_eq!(c.call(&["ECHO", "x y"]), bulk("x y"));
    assert_eq!(c.call(&["SELECT", "0"]), Frame::ok());
    assert_eq!(
        c.call(&["SELECT", "1"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        c.call(&["SELECT", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.call(&["CLIENT", "GETNAME"]), Frame::Null);
    assert_eq!(c.call(&["CLIENT", "SETNAME", "me"]), Frame::ok());
    assert_eq!(c.call(&["CLIENT", "GETNAME"]), bulk("me"));
    assert_eq!(
        c.call(&["CLIENT", "SETNAME", "a b"]),
        err("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    assert!(matches!(c.call(&["CLIENT", "ID"]), Frame::Integer(id) if id >= 1));
    assert_eq!(
        c.call(&["CLIENT", "KILL"]),
        err("ERR unknown subcommand 'KILL'. Try CLIENT HELP.")
    );
    assert_eq!(
        c.call(&["GET"]),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        c.call(&["foo", "a", "b"]),
        err("ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
    );
    assert_eq!(
        c.call(&["CONFIG", "GET"]),
        err("ERR wrong number of arguments for 'config|get' command")
    );
    assert_eq!(
        c.call(&["CONFIG", "GET", "maxclients"]),
        Frame::Array(vec![bulk("maxclients"), bulk("10000")])
    );
    assert!(matches!(c.call(&["COMMAND", "COUNT"]), Frame::Integer(n) if n > 25));
    assert!(matches!(c.call(&["COMMAND", "DOCS", "get"]), Frame::Array(a) if a.len() == 2));
    assert!(matches!(c.call(&["LASTSAVE"]), Frame::Integer(n) if n > 1_600_000_000));
    let Frame::Bulk(info) = c.call(&["INFO"]) else {
        panic!("INFO answers a bulk string");
    };
    let info = String::from_utf8(info).unwrap();
    for section in [
        "# Server",
        "# Clients",
        "# Stats",
        "# Memory",
        "# Persistence",
    ] {
        assert!(info.contains(section), "{section} missing from {info}");
    }
    assert!(info.contains("connected_clients:1\r\n"), "{info}");
    assert_eq!(c.call(&["QUIT"]), Frame::ok());
    assert!(c.closed());
    running.server.shutdown().unwrap();
}

#[test]
fn hello_switches_to_resp3_and_answers_a_map() {
    let running = start();
    let mut c = Raw::connect(running.addr);
    let Frame::Map(fields) = c.call(&["HELLO", "3"]) else {
        panic!("HELLO 3 answers a map");
    };
    assert!(fields.contains(&(bulk("proto"), int(3))));
    assert!(fields.contains(&(bulk("server"), bulk("redis"))));
    assert_eq!(c.call(&["GET", "nothing"]), Frame::Null);
    c.send(b"GET nothing\r\n");
    let mut raw = [0u8; 3];
    std::io::Read::read_exact(&mut c.stream, &mut raw).unwrap();
    assert_eq!(&raw, b"_\r\n", "RESP3 writes null as _");
    assert!(matches!(c.call(&["HELLO", "2"]), Frame::Array(a) if a.len() == 14));
    assert_eq!(
        c.call(&["HELLO", "4"]),
        err("NOPROTO unsupported protocol version")
    );
    let Frame::Map(fields) = c.call(&["HELLO", "3", "AUTH", "default", "any", "SETNAME", "n1"])
    else {
        panic!("HELLO 3 answers a map");
    };
    assert!(fields.contains(&(bulk("proto"), int(3))));
    assert_eq!(c.call(&["CLIENT", "GETNAME"]), bulk("n1"));
    assert_eq!(
        c.call(&["HELLO", "3", "BOGUS"]),
        err("ERR Syntax error in HELLO option 'BOGUS'")
    );
    assert!(matches!(
        c.call(&["INFO", "persistence"]),
        Frame::Verbatim { format, text } if &format == b"txt" && text.starts_with(b"# Persistence\r\n")
    ));
    assert!(matches!(c.call(&["COMMAND", "DOCS", "get"]), Frame::Map(m) if m.len() == 1));
    assert!(matches!(
        c.call(&["CONFIG", "GET", "port", "max*"]),
        Frame::Map(m) if m.len() == 2
    ));
    running.server.shutdown().unwrap();
}

#[test]
fn keys_expire_on_time_and_every_write_treats_an_expired_key_as_absent() {
    let running = start();
    let mut c = Raw::connect(running.addr);
    assert_eq!(c.call(&["SET", "short", "v", "PX", "1500"]), Frame::ok());
    assert_eq!(c.call(&["SET", "long", "v", "EX", "100"]), Frame::ok());
    assert_eq!(c.call(&["SET", "plain", "v"]), Frame::ok());
    assert_eq!(c.call(&["SET", "counter", "5", "PX", "1500"]), Frame::ok());
    assert_eq!(c.call(&["SET", "cond", "old", "PX", "1500"]), Frame::ok());
    let Frame::Integer(left) = c.call(&["PTTL", "short"]) else {
        panic!("PTTL is an integer");
    };
    assert!((1..=1500).contains(&left), "PTTL {left}");
    assert_eq!(c.call(&["TTL", "long"]), int(100));
    assert_eq!(c.call(&["TTL", "plain"]), int(-1));
    assert_eq!(c.call(&["EXISTS", "short", "long", "plain"]), int(3));
    std::thread::sleep(std::time::Duration::from_millis(1600));
    assert_eq!(c.call(&["GET", "short"]), Frame::Null);
    assert_eq!(c.call(&["TTL", "short"]), int(-2));
    assert_eq!(c.call(&["EXISTS", "short", "long", "plain"]), int(2));
    assert_eq!(c.call(&["DEL", "short"]), int(0));
    // An expired counter starts again from 0, with no expiry.
    assert_eq!(c.call(&["INCR", "counter"]), int(1));
    assert_eq!(c.call(&["TTL", "counter"]), int(-1));
    // NX writes over an expired key; EXPIRE and PERSIST find nothing to change.
    assert_eq!(c.call(&["EXPIRE", "cond", "100"]), int(0));
    assert_eq!(c.call(&["PERSIST", "cond"]), int(0));
    assert_eq!(c.call(&["SET", "cond", "new", "NX", "GET"]), Frame::Null);
    assert_eq!(c.call(&["GET", "cond"]), bulk("new"));
    // The key space counts live keys only.
    assert_eq!(c.call(&["DBSIZE"]), int(4));
    let Frame::Array(scan) = c.call(&["SCAN", "0", "COUNT", "100"]) else {
        panic!("SCAN answers an array");
    };
    let Some(Frame::Array(keys)) = scan.get(1) else {
        panic!("SCAN's second element is the keys");
    };
    let mut keys: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| match k {
            Frame::Bulk(bytes) => bytes.clone(),
            other => panic!("a key is a bulk string, not {other:?}"),
        })
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [&b"cond"[..], b"counter", b"long", b"plain"].map(<[u8]>::to_vec)
    );
    running.server.shutdown().unwrap();
}
