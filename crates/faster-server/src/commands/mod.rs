//! Commands: from a request's arguments to a [`Plan`] — a reply known at once, operations on
//! keys for the store workers, or work on the whole store — with Redis's checks and error
//! texts (unknown command, wrong number of arguments, syntax).

mod expiry;
mod global;
mod keyspace;
mod server;
mod strings;

use crate::keyops::KeyOp;
use crate::resp::{Frame, Protocol};
use crate::state::Shared;

pub(crate) use global::{Global, periodic_checkpoints, run as run_global};
pub(crate) use server::REDIS_VERSION;

/// A connection's own state, which some commands read or change.
#[derive(Debug)]
pub(crate) struct Client {
    /// `CLIENT ID`.
    pub(crate) id: u64,
    /// `CLIENT SETNAME`.
    pub(crate) name: Option<Vec<u8>>,
    /// The protocol replies are written in (`HELLO`).
    pub(crate) protocol: Protocol,
}

/// What running a command takes.
#[derive(Debug)]
pub(crate) enum Plan {
    /// The reply, known without the store.
    Reply(Frame),
    /// Operations on keys, run by the store workers, then put together by `Finish`.
    Keyed(Vec<KeyOp>, Finish),
    /// Work on the whole store; runs after every earlier command of the pipeline.
    Global(Global),
    /// Reply `+OK` and close the connection.
    Quit,
}

/// How the replies of a command's key operations make its reply.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Finish {
    /// The one operation's reply.
    One,
    /// The sum of the operations' integer replies (`DEL`, `EXISTS`).
    Sum,
    /// An array of the replies (`MGET`).
    Array,
    /// `+OK` once every operation is done (`MSET`).
    Ok,
}

impl Finish {
    /// The command's reply from its operations' replies.
    pub(crate) fn reply(self, mut replies: Vec<Frame>) -> Frame {
        if let Some(error) = replies.iter().find(|f| matches!(f, Frame::Error(_)))
            && !matches!(self, Finish::Array)
        {
            return error.clone();
        }
        match self {
            Finish::One => replies.pop().unwrap_or(Frame::Null),
            Finish::Sum => Frame::Integer(
                replies
                    .iter()
                    .map(|f| if let Frame::Integer(n) = f { *n } else { 0 })
                    .sum(),
            ),
            Finish::Array => Frame::Array(replies),
            Finish::Ok => Frame::ok(),
        }
    }
}

/// The commands and their arities, as Redis counts them: the number of arguments including
/// the command's name, or at least its absolute value when negative.
pub(crate) const COMMANDS: &[(&str, i64)] = &[
    ("append", 3),
    ("bgsave", -1),
    ("client", -2),
    ("command", -1),
    ("config", -2),
    ("dbsize", 1),
    ("decr", 2),
    ("decrby", 3),
    ("del", -2),
    ("echo", 2),
    ("exists", -2),
    ("expire", -3),
    ("expireat", -3),
    ("expiretime", 2),
    ("flushdb", -1),
    ("get", 2),
    ("getdel", 2),
    ("getset", 3),
    ("hello", -1),
    ("incr", 2),
    ("incrby", 3),
    ("info", -1),
    ("lastsave", 1),
    ("mget", -2),
    ("mset", -3),
    ("persist", 2),
    ("pexpire", -3),
    ("pexpireat", -3),
    ("pexpiretime", 2),
    ("ping", -1),
    ("psetex", 4),
    ("pttl", 2),
    ("quit", -1),
    ("save", 1),
    ("scan", -2),
    ("select", 2),
    ("set", -3),
    ("setex", 4),
    ("setnx", 3),
    ("strlen", 2),
    ("ttl", 2),
    ("unlink", -2),
];

/// Whether `count` arguments suit `arity`.
pub(crate) fn arity_ok(arity: i64, count: usize) -> bool {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    if arity >= 0 {
        count == arity
    } else {
        count >= -arity
    }
}

/// `ERR wrong number of arguments for 'name' command`.
pub(crate) fn wrong_arity(name: &str) -> Frame {
    Frame::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// `ERR syntax error`.
pub(crate) fn syntax_error() -> Frame {
    Frame::error("ERR syntax error")
}

/// `ERR value is not an integer or out of range`.
pub(crate) fn not_integer() -> Frame {
    Frame::error("ERR value is not an integer or out of range")
}

/// The error for a command nobody knows, quoting the start of its arguments as Redis does.
fn unknown_command(args: &[Vec<u8>]) -> Frame {
    let mut text = b"ERR unknown command '".to_vec();
    let name = args.first().map(Vec::as_slice).unwrap_or_default();
    text.extend_from_slice(name.get(..128).unwrap_or(name));
    text.extend_from_slice(b"', with args beginning with: ");
    let mut quoted = Vec::new();
    for arg in args.iter().skip(1) {
        let room = 128usize.saturating_sub(quoted.len());
        if room == 0 {
            break;
        }
        let mut one = b"'".to_vec();
        one.extend_from_slice(arg);
        one.extend_from_slice(b"' ");
        quoted.extend_from_slice(one.get(..room).unwrap_or(&one));
    }
    text.extend_from_slice(&quoted);
    Frame::error(text)
}

/// The plan for one request (`args` is not empty).
pub(crate) fn plan(args: Vec<Vec<u8>>, client: &mut Client, shared: &Shared) -> Plan {
    let given = args.first().map(Vec::as_slice).unwrap_or_default();
    let Some(&(name, arity)) = COMMANDS
        .iter()
        .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(given))
    else {
        return Plan::Reply(unknown_command(&args));
    };
    if !arity_ok(arity, args.len()) {
        return Plan::Reply(wrong_arity(name));
    }
    match name {
        "get" | "set" | "setnx" | "getset" | "getdel" | "mget" | "mset" | "incr" | "decr"
        | "incrby" | "decrby" | "append" | "strlen" => strings::plan(name, args),
        "del" | "unlink" | "exists" | "dbsize" | "scan" | "flushdb" => keyspace::plan(name, args),
        "expire" | "pexpire" | "expireat" | "pexpireat" | "ttl" | "pttl" | "expiretime"
        | "pexpiretime" | "persist" | "setex" | "psetex" => expiry::plan(name, args),
        _ => server::plan(name, args, client, shared),
    }
}
