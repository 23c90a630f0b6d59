//! A restart: what was written before `SAVE` (or before a clean shutdown, whose final
//! checkpoint holds everything) is read back after the directory is opened again.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Raw, bulk, config, open_store};
use faster_kv::Opened;
use faster_server::resp::Frame;
use faster_server::{Server, ServerConfig};

#[test]
fn saved_and_shut_down_data_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(open_store(dir.path()), config()).unwrap();
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(c.call(&["SET", "saved", "1"]), Frame::ok());
    assert_eq!(c.call(&["INCRBY", "counter", "7"]), Frame::Integer(7));
    let before = c.call(&["LASTSAVE"]);
    assert_eq!(c.call(&["SAVE"]), Frame::ok());
    assert!(
        matches!((before, c.call(&["LASTSAVE"])), (Frame::Integer(a), Frame::Integer(b)) if b >= a)
    );
    assert_eq!(c.call(&["SET", "after_save", "2"]), Frame::ok());
    assert_eq!(c.call(&["DEL", "saved"]), Frame::Integer(1));
    assert_eq!(c.call(&["SET", "saved", "3"]), Frame::ok());
    assert_eq!(
        c.call(&["BGSAVE"]),
        Frame::simple("Background saving started")
    );
    drop(c);
    let report = server.shutdown().unwrap();

    let store = open_store(dir.path());
    let Opened::Recovered(recovered) = store.opened() else {
        panic!("the store was not recovered: {:?}", store.opened());
    };
    assert_eq!(recovered.token, report.checkpoint.token);
    let server = Server::start(store, config()).unwrap();
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(c.call(&["GET", "saved"]), bulk("3"));
    assert_eq!(c.call(&["GET", "counter"]), bulk("7"));
    assert_eq!(c.call(&["GET", "after_save"]), bulk("2"));
    assert_eq!(c.call(&["DBSIZE"]), Frame::Integer(3));
    drop(c);
    server.shutdown().unwrap();
}

#[test]
fn dropping_a_server_shuts_it_down_with_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(open_store(dir.path()), config()).unwrap();
    let addr = server.local_addr();
    let mut c = Raw::connect(addr);
    assert_eq!(c.call(&["SET", "k", "v"]), Frame::ok());
    drop(server);
    assert!(c.closed());
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
    let store = open_store(dir.path());
    assert!(matches!(store.opened(), Opened::Recovered(_)));
    let server = Server::start(store, config()).unwrap();
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(c.call(&["GET", "k"]), bulk("v"));
}

#[test]
fn expiries_survive_a_restart_and_keys_that_expired_meanwhile_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(open_store(dir.path()), config()).unwrap();
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(
        c.call(&["SET", "year", "v", "EXAT", "4102444800"]),
        Frame::ok()
    );
    assert_eq!(c.call(&["SET", "brief", "v", "PX", "300"]), Frame::ok());
    assert_eq!(c.call(&["SET", "plain", "v"]), Frame::ok());
    assert_eq!(c.call(&["SAVE"]), Frame::ok());
    drop(c);
    server.shutdown().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));

    let server = Server::start(open_store(dir.path()), config()).unwrap();
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(
        c.call(&["EXPIRETIME", "year"]),
        Frame::Integer(4_102_444_800)
    );
    assert_eq!(c.call(&["TTL", "plain"]), Frame::Integer(-1));
    assert_eq!(c.call(&["GET", "brief"]), Frame::Null);
    assert_eq!(c.call(&["TTL", "brief"]), Frame::Integer(-2));
    assert_eq!(c.call(&["DBSIZE"]), Frame::Integer(2));
    drop(c);
    server.shutdown().unwrap();
}

/// One I/O thread (a current-thread runtime) that busy-polls: clients writing at once, some
/// pipelined, all get their answers; the poller does not keep the server from stopping
/// promptly; and the final checkpoint holds every write.
#[test]
fn one_busy_polling_thread_serves_concurrent_clients_and_stops_with_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let polling = || ServerConfig {
        workers: 0,
        runtime_threads: 1,
        busy_poll: Some(Duration::from_micros(500)),
        ..config()
    };
    let server = Server::start(open_store(dir.path()), polling()).unwrap();
    let addr = server.local_addr();
    let clients: Vec<_> = (0..4)
        .map(|client| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(addr);
                for i in 0..300 {
                    let key = format!("c{client}:{i}");
                    if i % 3 == 0 {
                        // A pipeline of two: both answers come back, in order.
                        let counter = format!("n{client}");
                        c.send(
                            format!(
                                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\n{}\r\n\
                                 *2\r\n$4\r\nINCR\r\n${}\r\n{counter}\r\n",
                                key.len(),
                                i % 10,
                                counter.len()
                            )
                            .as_bytes(),
                        );
                        assert_eq!(c.read(), Some(Frame::ok()));
                        assert_eq!(c.read(), Some(Frame::Integer(i / 3 + 1)));
                    } else {
                        assert_eq!(c.call(&["SET", &key, &(i % 10).to_string()]), Frame::ok());
                    }
                    if i % 50 == 0 {
                        // A pause longer than the window: the poller parks, and the next
                        // request must wake it.
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let stopping = Instant::now();
    let report = server.shutdown().unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(30),
        "stopping took {:?}",
        stopping.elapsed()
    );

    let store = open_store(dir.path());
    let Opened::Recovered(recovered) = store.opened() else {
        panic!("the store was not recovered: {:?}", store.opened());
    };
    assert_eq!(recovered.token, report.checkpoint.token);
    let server = Server::start(store, polling()).unwrap();
    let mut c = Raw::connect(server.local_addr());
    assert_eq!(c.call(&["DBSIZE"]), Frame::Integer(4 * 300 + 4));
    for client in 0..4 {
        assert_eq!(c.call(&["GET", &format!("n{client}")]), bulk("100"));
        for i in [0, 1, 149, 299] {
            let want = (i % 10).to_string();
            assert_eq!(c.call(&["GET", &format!("c{client}:{i}")]), bulk(&want));
        }
    }
    drop(c);
    server.shutdown().unwrap();
}
