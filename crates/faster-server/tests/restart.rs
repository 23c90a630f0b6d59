//! A restart: what was written before `SAVE` (or before a clean shutdown, whose final
//! checkpoint holds everything) is read back after the directory is opened again.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use common::{Raw, bulk, config, open_store};
use faster_kv::Opened;
use faster_server::Server;
use faster_server::resp::Frame;

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
