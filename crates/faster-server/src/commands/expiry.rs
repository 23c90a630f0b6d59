//! The expiry commands: `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT` (with Redis 7's `NX`,
//! `XX`, `GT`, `LT`), `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME`, `PERSIST`, `SETEX`,
//! `PSETEX`, and the expiry options of `SET`. Their arity is already checked.

use super::{Finish, Plan, not_integer, syntax_error};
use crate::keyops::{Cond, KeyOp, SetExpiry};
use crate::resp::{Frame, parse_i64};
use crate::ttl::{ExpireCond, TimeReply, expiry_of};

/// `ERR invalid expire time in '<command>' command`.
fn invalid_time(command: &str) -> Frame {
    Frame::error(format!("ERR invalid expire time in '{command}' command"))
}

/// The absolute expiry of a time argument (see [`expiry_of`]), or the error reply.
pub(super) fn time_arg(
    arg: &[u8],
    (unit_ms, relative, positive): (i64, bool, bool),
    command: &str,
) -> Result<u64, Frame> {
    let n = parse_i64(arg).ok_or_else(not_integer)?;
    expiry_of(n, unit_ms, relative, positive).map_err(|_| invalid_time(command))
}

/// The plan of expiry command `name` with arguments `args` (its name first).
pub(super) fn plan(name: &str, args: Vec<Vec<u8>>) -> Plan {
    let mut args = args.into_iter().skip(1);
    let key = args.next().unwrap_or_default();
    let one = |op| Plan::Keyed(vec![op], Finish::One);
    let time = |reply| one(KeyOp::Time(key.clone(), reply));
    match name {
        "ttl" => time(TimeReply::Seconds),
        "pttl" => time(TimeReply::Millis),
        "expiretime" => time(TimeReply::UnixSeconds),
        "pexpiretime" => time(TimeReply::UnixMillis),
        "persist" => one(KeyOp::Persist(key)),
        "setex" | "psetex" => {
            let unit = if name == "setex" { 1000 } else { 1 };
            let when = args.next().unwrap_or_default();
            let value = args.next().unwrap_or_default();
            match time_arg(&when, (unit, true, true), name) {
                Ok(at) => one(KeyOp::Set {
                    key,
                    value,
                    cond: Cond::Always,
                    get: false,
                    expiry: SetExpiry::At(at),
                }),
                Err(reply) => Plan::Reply(reply),
            }
        }
        _ => expire(name, key, args.collect()),
    }
}

/// `EXPIRE key time [NX | XX | GT | LT]` and its three siblings.
fn expire(name: &str, key: Vec<u8>, args: Vec<Vec<u8>>) -> Plan {
    let mut args = args.into_iter();
    let when = args.next().unwrap_or_default();
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in args {
        match option.to_ascii_lowercase().as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"gt" => gt = true,
            b"lt" => lt = true,
            _ => {
                return Plan::Reply(Frame::error(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(&option)
                )));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Plan::Reply(Frame::error(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Plan::Reply(Frame::error(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let units = match name {
        "expire" => (1000, true, false),
        "pexpire" => (1, true, false),
        "expireat" => (1000, false, false),
        _ => (1, false, false),
    };
    let at = match time_arg(&when, units, name) {
        Ok(at) => at,
        Err(reply) => return Plan::Reply(reply),
    };
    let cond = if nx {
        ExpireCond::NoExpiry
    } else if gt {
        ExpireCond::Later
    } else if lt {
        ExpireCond::Earlier
    } else if xx {
        ExpireCond::HasExpiry
    } else {
        ExpireCond::Always
    };
    Plan::Keyed(vec![KeyOp::Expire { key, at, cond }], Finish::One)
}

/// What `SET` was asked to do with the expiry, before its time is checked.
#[derive(Debug, Default)]
pub(super) enum SetTime {
    /// Nothing: the expiry goes.
    #[default]
    Clear,
    /// `EX`, `PX`, `EXAT` or `PXAT` with its argument: (unit, relative) and the time.
    At((i64, bool), Vec<u8>),
    /// `KEEPTTL`.
    Keep,
}

impl SetTime {
    /// Takes `option` if it is an expiry option (`Ok(true)`), with its time from `next`.
    /// A second expiry option, or one without its time, is a syntax error, as in Redis,
    /// which checks the time itself only after every option parsed.
    pub(super) fn take(
        &mut self,
        option: &[u8],
        next: &mut dyn Iterator<Item = Vec<u8>>,
    ) -> Result<bool, Frame> {
        let units = match option.to_ascii_lowercase().as_slice() {
            b"ex" => (1000, true),
            b"px" => (1, true),
            b"exat" => (1000, false),
            b"pxat" => (1, false),
            b"keepttl" if matches!(self, SetTime::Clear) => {
                *self = SetTime::Keep;
                return Ok(true);
            }
            b"keepttl" => return Err(syntax_error()),
            _ => return Ok(false),
        };
        if !matches!(self, SetTime::Clear) {
            return Err(syntax_error());
        }
        let when = next.next().ok_or_else(syntax_error)?;
        *self = SetTime::At(units, when);
        Ok(true)
    }

    /// The expiry `SET` stores, or the error reply for its time.
    pub(super) fn resolve(self) -> Result<SetExpiry, Frame> {
        Ok(match self {
            SetTime::Clear => SetExpiry::Clear,
            SetTime::Keep => SetExpiry::Keep,
            SetTime::At((unit, relative), when) => {
                SetExpiry::At(time_arg(&when, (unit, relative, true), "set")?)
            }
        })
    }
}
