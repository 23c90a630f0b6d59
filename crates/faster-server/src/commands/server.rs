//! Connection and server commands: `PING`, `ECHO`, `HELLO`, `QUIT`, `SELECT`, `CLIENT`,
//! `CONFIG GET`, `COMMAND`, `INFO`, `SAVE`, `BGSAVE`, `LASTSAVE`.

use std::sync::atomic::Ordering;

use super::{COMMANDS, Client, Global, Plan, arity_ok, not_integer, syntax_error, wrong_arity};
use crate::resp::{Frame, Protocol, parse_i64};
use crate::state::Shared;

/// The Redis version the server answers as: the commands it has behave as 7.0's.
pub(crate) const REDIS_VERSION: &str = "7.0.0";

/// The plan of command `name` with arguments `args` (its name first).
pub(super) fn plan(name: &str, args: Vec<Vec<u8>>, client: &mut Client, shared: &Shared) -> Plan {
    let reply = match name {
        "ping" if args.len() > 2 => wrong_arity("ping"),
        "ping" => match args.get(1) {
            None => Frame::simple("PONG"),
            Some(text) => Frame::Bulk(text.clone()),
        },
        "echo" => Frame::Bulk(args.get(1).cloned().unwrap_or_default()),
        "quit" => return Plan::Quit,
        "select" => match args.get(1).and_then(|i| parse_i64(i)) {
            Some(0) => Frame::ok(),
            Some(_) => Frame::error("ERR DB index is out of range"),
            None => not_integer(),
        },
        "hello" => hello(&args, client),
        "client" => client_command(&args, client),
        "config" => config(&args, shared),
        "command" => command(&args),
        "lastsave" => Frame::Integer(
            i64::try_from(shared.last_save.load(Ordering::Acquire)).unwrap_or(i64::MAX),
        ),
        "save" => return Plan::Global(Global::Save),
        "bgsave" => match args.get(1) {
            None => return Plan::Global(Global::BgSave),
            Some(s) if args.len() == 2 && s.eq_ignore_ascii_case(b"schedule") => {
                return Plan::Global(Global::BgSave);
            }
            Some(_) => syntax_error(),
        },
        _ => return Plan::Global(Global::Info(args.into_iter().skip(1).collect())),
    };
    Plan::Reply(reply)
}

/// `unknown subcommand 'x'. Try NAME HELP.`
fn unknown_subcommand(args: &[Vec<u8>]) -> Frame {
    let sub = args.get(1).map(Vec::as_slice).unwrap_or_default();
    let sub = String::from_utf8_lossy(sub.get(..128).unwrap_or(sub));
    let name = String::from_utf8_lossy(args.first().map(Vec::as_slice).unwrap_or_default())
        .to_ascii_uppercase();
    Frame::error(format!("ERR unknown subcommand '{sub}'. Try {name} HELP."))
}

/// The subcommand of `args` from `table` (names and arities), or the error reply when it is
/// unknown or has the wrong number of arguments.
fn subcommand(args: &[Vec<u8>], table: &[(&'static str, i64)]) -> Result<&'static str, Frame> {
    let sub = args
        .get(1)
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .unwrap_or_default();
    let container = String::from_utf8_lossy(args.first().map(Vec::as_slice).unwrap_or_default())
        .to_ascii_lowercase();
    match table.iter().find(|(name, _)| *name == sub) {
        None => Err(unknown_subcommand(args)),
        Some((name, arity)) if !arity_ok(*arity, args.len()) => {
            Err(wrong_arity(&format!("{container}|{name}")))
        }
        Some((name, _)) => Ok(name),
    }
}

fn hello(args: &[Vec<u8>], client: &mut Client) -> Frame {
    let mut protocol = client.protocol;
    let mut name = None;
    if let Some(version) = args.get(1) {
        protocol = match parse_i64(version) {
            Some(2) => Protocol::Resp2,
            Some(3) => Protocol::Resp3,
            Some(_) => return Frame::error("NOPROTO unsupported protocol version"),
            None => {
                return Frame::error("ERR Protocol version is not an integer or out of range");
            }
        };
        let mut options = args.iter().skip(2);
        while let Some(option) = options.next() {
            match option.to_ascii_lowercase().as_slice() {
                // No users and no passwords here: every client is the default user.
                b"auth" if options.len() >= 2 => {
                    options.next();
                    options.next();
                }
                b"setname" if options.len() >= 1 => name = options.next().cloned(),
                _ => {
                    return Frame::error(format!(
                        "ERR Syntax error in HELLO option '{}'",
                        String::from_utf8_lossy(option)
                    ));
                }
            }
        }
    }
    if let Some(name) = name
        && let Err(error) = set_name(client, name)
    {
        return error;
    }
    client.protocol = protocol;
    let text = |s: &str| Frame::bulk(s.as_bytes());
    Frame::Map(vec![
        (text("server"), text("redis")),
        (text("version"), text(REDIS_VERSION)),
        (
            text("proto"),
            Frame::Integer(if protocol == Protocol::Resp3 { 3 } else { 2 }),
        ),
        (
            text("id"),
            Frame::Integer(i64::try_from(client.id).unwrap_or(i64::MAX)),
        ),
        (text("mode"), text("standalone")),
        (text("role"), text("master")),
        (text("modules"), Frame::Array(Vec::new())),
    ])
}

/// Sets the client's name: printable bytes other than space; empty clears it.
fn set_name(client: &mut Client, name: Vec<u8>) -> Result<(), Frame> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Frame::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    client.name = (!name.is_empty()).then_some(name);
    Ok(())
}

fn client_command(args: &[Vec<u8>], client: &mut Client) -> Frame {
    let table = [("setname", 3), ("getname", 2), ("id", 2)];
    match subcommand(args, &table) {
        Err(error) => error,
        Ok("setname") => match set_name(client, args.get(2).cloned().unwrap_or_default()) {
            Ok(()) => Frame::ok(),
            Err(error) => error,
        },
        Ok("getname") => client.name.clone().map_or(Frame::Null, Frame::Bulk),
        Ok(_) => Frame::Integer(i64::try_from(client.id).unwrap_or(i64::MAX)),
    }
}

fn config(args: &[Vec<u8>], shared: &Shared) -> Frame {
    if let Err(error) = subcommand(args, &[("get", -3)]) {
        return error;
    }
    let port = shared.local_addr.port().to_string();
    let bind = shared.local_addr.ip().to_string();
    let max_clients = shared.config.max_clients.to_string();
    let bulk_len = shared.config.limits.max_bulk_len.to_string();
    let (appendonly, appendfsync) = match &shared.config.durability {
        crate::Durability::Log(aof) => ("yes", aof.fsync.name()),
        crate::Durability::Checkpoints => ("no", "no"),
    };
    let parameters: [(&str, &str); 9] = [
        ("appendfsync", appendfsync),
        ("appendonly", appendonly),
        ("bind", &bind),
        ("databases", "1"),
        ("maxclients", &max_clients),
        ("port", &port),
        ("proto-max-bulk-len", &bulk_len),
        ("save", ""),
        ("timeout", "0"),
    ];
    let mut pairs = Vec::new();
    for (name, value) in parameters {
        let wanted = args
            .iter()
            .skip(2)
            .any(|p| crate::glob::matches(&p.to_ascii_lowercase(), name.as_bytes()));
        if wanted {
            pairs.push((Frame::bulk(name.as_bytes()), Frame::bulk(value.as_bytes())));
        }
    }
    Frame::Map(pairs)
}

fn command(args: &[Vec<u8>]) -> Frame {
    if args.len() == 1 {
        return Frame::Array(
            COMMANDS
                .iter()
                .map(|&(name, arity)| info(name, arity))
                .collect(),
        );
    }
    let table = [("count", 2), ("docs", -2), ("list", -2), ("info", -2)];
    let named = |name: &str| {
        args.len() == 2
            || args
                .iter()
                .skip(2)
                .any(|a| a.eq_ignore_ascii_case(name.as_bytes()))
    };
    match subcommand(args, &table) {
        Err(error) => error,
        Ok("count") => Frame::Integer(i64::try_from(COMMANDS.len()).unwrap_or(i64::MAX)),
        Ok("list") => Frame::Array(
            COMMANDS
                .iter()
                .map(|(n, _)| Frame::bulk(n.as_bytes()))
                .collect(),
        ),
        Ok("info") => Frame::Array(
            args.iter()
                .skip(2)
                .map(|a| {
                    let a = String::from_utf8_lossy(a).to_ascii_lowercase();
                    COMMANDS
                        .iter()
                        .find(|(n, _)| *n == a)
                        .map_or(Frame::NullArray, |&(n, arity)| info(n, arity))
                })
                .collect(),
        ),
        Ok(_) => Frame::Map(
            COMMANDS
                .iter()
                .filter(|(name, _)| named(name))
                .map(|(name, _)| {
                    let docs = Frame::Map(vec![
                        (
                            Frame::bulk("summary"),
                            Frame::bulk(format!("The {} command.", name.to_ascii_uppercase())),
                        ),
                        (Frame::bulk("since"), Frame::bulk("1.0.0")),
                        (Frame::bulk("group"), Frame::bulk("generic")),
                    ]);
                    (Frame::bulk(name.as_bytes()), docs)
                })
                .collect(),
        ),
    }
}

/// A command's entry in `COMMAND` and `COMMAND INFO`: name, arity, flags, first key, last
/// key, step, and empty categories, tips, key specifications and subcommands.
fn info(name: &str, arity: i64) -> Frame {
    let keyed = !matches!(
        name,
        "bgsave"
            | "client"
            | "command"
            | "config"
            | "dbsize"
            | "echo"
            | "flushdb"
            | "hello"
            | "info"
            | "lastsave"
            | "ping"
            | "quit"
            | "save"
            | "scan"
            | "select"
    );
    let (first, last, step) = match name {
        _ if !keyed => (0, 0, 0),
        "mset" => (1, -1, 2),
        "mget" | "del" | "unlink" | "exists" => (1, -1, 1),
        _ => (1, 1, 1),
    };
    Frame::Array(vec![
        Frame::bulk(name.as_bytes()),
        Frame::Integer(arity),
        Frame::Set(Vec::new()),
        Frame::Integer(first),
        Frame::Integer(last),
        Frame::Integer(step),
        Frame::Set(Vec::new()),
        Frame::Set(Vec::new()),
        Frame::Array(Vec::new()),
        Frame::Array(Vec::new()),
    ])
}
