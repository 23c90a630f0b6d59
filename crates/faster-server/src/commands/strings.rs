//! The string commands: `GET`, `SET` (with `NX`, `XX`, `GET` and the expiry options of
//! `expiry.rs`), `SETNX`, `GETSET`,
//! `GETDEL`, `MGET`, `MSET`, `INCR`, `DECR`, `INCRBY`, `DECRBY`, `APPEND`, `STRLEN`. Their
//! arity is already checked.

use super::expiry::SetTime;
use super::{Finish, Plan, not_integer, syntax_error, wrong_arity};
use crate::keyops::{Cond, KeyOp, SetExpiry};
use crate::resp::{Frame, parse_i64};

/// The plan of string command `name` with arguments `args` (its name first).
pub(super) fn plan(name: &str, args: Vec<Vec<u8>>) -> Plan {
    let mut args = args.into_iter().skip(1);
    let mut next = || args.next().unwrap_or_default();
    let one = |op| Plan::Keyed(vec![op], Finish::One);
    match name {
        "get" => one(KeyOp::Get(next())),
        "getdel" => one(KeyOp::GetDel(next())),
        "strlen" => one(KeyOp::Strlen(next())),
        "setnx" => {
            let key = next();
            one(KeyOp::SetNx(key, next()))
        }
        "getset" => {
            let key = next();
            one(KeyOp::Set {
                key,
                value: next(),
                cond: Cond::Always,
                get: true,
                expiry: SetExpiry::Clear,
            })
        }
        "append" => {
            let key = next();
            one(KeyOp::Append(key, next()))
        }
        "incr" => one(KeyOp::IncrBy(next(), 1)),
        "decr" => one(KeyOp::IncrBy(next(), -1)),
        "incrby" | "decrby" => {
            let key = next();
            let Some(delta) = parse_i64(&next()) else {
                return Plan::Reply(not_integer());
            };
            let delta = if name == "incrby" {
                delta
            } else if let Some(negated) = delta.checked_neg() {
                negated
            } else {
                return Plan::Reply(Frame::error("ERR decrement would overflow"));
            };
            one(KeyOp::IncrBy(key, delta))
        }
        "mget" => Plan::Keyed(
            std::iter::from_fn(|| args.next()).map(KeyOp::Get).collect(),
            Finish::Array,
        ),
        "mset" => mset(args.collect()),
        _ => set(args.collect()),
    }
}

/// `MSET key value [key value ...]`.
fn mset(args: Vec<Vec<u8>>) -> Plan {
    if !args.len().is_multiple_of(2) {
        return Plan::Reply(wrong_arity("mset"));
    }
    let mut ops = Vec::with_capacity(args.len() / 2);
    let mut args = args.into_iter();
    while let (Some(key), Some(value)) = (args.next(), args.next()) {
        ops.push(KeyOp::Set {
            key,
            value,
            cond: Cond::Always,
            get: false,
            expiry: SetExpiry::Clear,
        });
    }
    Plan::Keyed(ops, Finish::Ok)
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]`.
fn set(args: Vec<Vec<u8>>) -> Plan {
    let mut args = args.into_iter();
    let key = args.next().unwrap_or_default();
    let value = args.next().unwrap_or_default();
    let mut cond = Cond::Always;
    let mut get = false;
    let mut time = SetTime::default();
    while let Some(option) = args.next() {
        match time.take(&option, &mut args) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(reply) => return Plan::Reply(reply),
        }
        match option.to_ascii_lowercase().as_slice() {
            b"nx" if cond != Cond::Present => cond = Cond::Absent,
            b"xx" if cond != Cond::Absent => cond = Cond::Present,
            b"get" => get = true,
            _ => return Plan::Reply(syntax_error()),
        }
    }
    let expiry = match time.resolve() {
        Ok(expiry) => expiry,
        Err(reply) => return Plan::Reply(reply),
    };
    Plan::Keyed(
        vec![KeyOp::Set {
            key,
            value,
            cond,
            get,
            expiry,
        }],
        Finish::One,
    )
}
