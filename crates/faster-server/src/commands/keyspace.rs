//! Commands on the key space: `DEL`, `UNLINK`, `EXISTS` (key operations) and `DBSIZE`,
//! `SCAN`, `FLUSHDB` (work on the whole store, see `scan.rs`).

use super::{Finish, Global, Plan, not_integer, syntax_error};
use crate::keyops::KeyOp;
use crate::resp::Frame;

/// The plan of key-space command `name` with arguments `args` (its name first).
pub(super) fn plan(name: &str, args: Vec<Vec<u8>>) -> Plan {
    let keys = args.into_iter().skip(1);
    match name {
        "del" | "unlink" => Plan::Keyed(keys.map(KeyOp::Del).collect(), Finish::Sum),
        "exists" => Plan::Keyed(keys.map(KeyOp::Exists).collect(), Finish::Sum),
        "dbsize" => Plan::Global(Global::DbSize),
        "flushdb" => flushdb(keys.collect()),
        _ => scan(keys.collect()),
    }
}

/// `FLUSHDB [ASYNC | SYNC]`: both run now.
fn flushdb(args: Vec<Vec<u8>>) -> Plan {
    match args.as_slice() {
        [] => Plan::Global(Global::FlushDb),
        [mode] if mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync") => {
            Plan::Global(Global::FlushDb)
        }
        _ => Plan::Reply(syntax_error()),
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
fn scan(args: Vec<Vec<u8>>) -> Plan {
    let mut args = args.into_iter();
    let Some(cursor) = args
        .next()
        .and_then(|c| std::str::from_utf8(&c).ok()?.parse::<u64>().ok())
    else {
        return Plan::Reply(Frame::error("ERR invalid cursor"));
    };
    let mut pattern = None;
    let mut count = 10usize;
    let mut strings = true;
    while let Some(option) = args.next() {
        let Some(value) = args.next() else {
            return Plan::Reply(syntax_error());
        };
        match option.to_ascii_lowercase().as_slice() {
            b"match" => pattern = Some(value),
            b"count" => match crate::resp::parse_i64(&value) {
                Some(n) if n >= 1 => count = usize::try_from(n).unwrap_or(usize::MAX),
                Some(_) => return Plan::Reply(syntax_error()),
                None => return Plan::Reply(not_integer()),
            },
            // Every value here is a string.
            b"type" => strings = value.eq_ignore_ascii_case(b"string"),
            _ => return Plan::Reply(syntax_error()),
        }
    }
    Plan::Global(Global::Scan {
        cursor,
        pattern,
        count,
        strings,
    })
}
