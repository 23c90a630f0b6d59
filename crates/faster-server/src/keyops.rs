//! Operations on one key, as a store worker runs them through its session, and the reply each
//! gives. A key's operations all run on the one worker that owns it (`shards.rs`), one after
//! the other, so an operation that reads and then writes (`GETDEL`, `DEL`'s count) is atomic
//! for its key; the single-record updates (`INCR`, `APPEND`, `SET NX`) are read-modify-writes
//! of the store and would be atomic on any worker.

use faster_kv::{Expiring, OpError, Pinned, Rmw};

use crate::aof::PostImages;
use crate::resp::{Frame, parse_i64};
use crate::ttl::{self, ExpireCond, TimeReply};

/// The store the server serves: byte-string keys, byte-string values with an optional
/// expiry (`docs/ttl.md`).
pub type ByteStore = faster_kv::FasterKv<[u8], Expiring<[u8]>>;

/// A stored value: the bytes and their expiry.
pub(crate) type Value = Expiring<[u8]>;

/// A worker's view of the store.
pub(crate) type Worker<'a> = Pinned<'a, [u8], Value>;

/// What a `SET` does to the key's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetExpiry {
    /// Removes it (plain `SET`).
    Clear,
    /// Sets it: milliseconds since the Unix epoch (`EX`, `PX`, `EXAT`, `PXAT`, `SETEX`).
    At(u64),
    /// Keeps the key's expiry (`KEEPTTL`).
    Keep,
}

/// When a `SET` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cond {
    /// Always.
    Always,
    /// Only when the key is absent (`NX`).
    Absent,
    /// Only when the key is present (`XX`).
    Present,
}

/// One operation on one key.
#[derive(Debug)]
pub(crate) enum KeyOp {
    /// `GET`: the value or null.
    Get(Vec<u8>),
    /// `SET` and its variants: `+OK` (null when `cond` declined), or with `get` the old value.
    Set {
        key: Vec<u8>,
        value: Vec<u8>,
        cond: Cond,
        get: bool,
        expiry: SetExpiry,
    },
    /// `SETNX`: 1 when written, 0 when the key was present.
    SetNx(Vec<u8>, Vec<u8>),
    /// `GETDEL`: the value (then deleted) or null.
    GetDel(Vec<u8>),
    /// `DEL`, `UNLINK`: 1 when the key existed.
    Del(Vec<u8>),
    /// A delete without an answer (`FLUSHDB`).
    Remove(Vec<u8>),
    /// `EXISTS`: 1 or 0.
    Exists(Vec<u8>),
    /// `INCRBY` and friends: the new value.
    IncrBy(Vec<u8>, i64),
    /// `APPEND`: the new length.
    Append(Vec<u8>, Vec<u8>),
    /// `STRLEN`: the length, 0 when absent.
    Strlen(Vec<u8>),
    /// `EXPIRE` and friends: sets the expiry (milliseconds since the epoch) when `cond`
    /// allows; 1 when it did.
    Expire {
        key: Vec<u8>,
        at: u64,
        cond: ExpireCond,
    },
    /// `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME`.
    Time(Vec<u8>, TimeReply),
    /// `PERSIST`: 1 when an expiry was removed.
    Persist(Vec<u8>),
}

impl KeyOp {
    /// The key the operation is on.
    pub(crate) fn key(&self) -> &[u8] {
        match self {
            KeyOp::Get(key)
            | KeyOp::Set { key, .. }
            | KeyOp::SetNx(key, _)
            | KeyOp::GetDel(key)
            | KeyOp::Del(key)
            | KeyOp::Remove(key)
            | KeyOp::Exists(key)
            | KeyOp::IncrBy(key, _)
            | KeyOp::Append(key, _)
            | KeyOp::Strlen(key)
            | KeyOp::Expire { key, .. }
            | KeyOp::Time(key, _)
            | KeyOp::Persist(key) => key,
        }
    }
}

/// The largest value `APPEND` builds (Redis's `proto-max-bulk-len`).
const MAX_VALUE_LEN: usize = 512 << 20;

/// Runs `op`; a store error becomes an error reply. Each write adds the state of its key
/// after it to `post` (the value as the store holds it, expiry included).
pub(crate) fn run(pinned: &mut Worker<'_>, op: KeyOp, post: &mut PostImages) -> Frame {
    match run_op(pinned, op, post) {
        Ok(frame) => frame,
        Err(e) => Frame::error(format!("ERR store: {e}")),
    }
}

pub(crate) fn present(found: bool) -> Frame {
    Frame::Integer(i64::from(found))
}

/// The bytes of a value read, without its expiry.
fn bytes(value: Option<Value>) -> Option<Vec<u8>> {
    value.map(|v| v.value)
}

fn run_op(p: &mut Worker<'_>, op: KeyOp, post: &mut PostImages) -> Result<Frame, OpError> {
    Ok(match op {
        KeyOp::Get(key) => bytes(p.read(&key)?).map_or(Frame::Null, Frame::Bulk),
        KeyOp::Set {
            key,
            value,
            cond: Cond::Always,
            get: false,
            expiry: expiry @ (SetExpiry::Clear | SetExpiry::At(_)),
        } => {
            let expires_at = match expiry {
                SetExpiry::At(at) => Some(at),
                _ => None,
            };
            let value = Expiring { value, expires_at };
            p.upsert(&key, &value)?;
            post.put(&key, &value);
            Frame::ok()
        }
        KeyOp::Set {
            key,
            value,
            cond,
            get,
            expiry,
        } => {
            let mut set = SetRmw {
                value: &value,
                cond,
                expiry,
                old: None,
            };
            let stored = p.rmw(&key, &mut set)?;
            if let Some(value) = &stored {
                post.put(&key, value);
            }
            let wrote = stored.is_some();
            match (get, wrote) {
                (true, _) => set.old.map_or(Frame::Null, Frame::Bulk),
                (false, true) => Frame::ok(),
                (false, false) => Frame::Null,
            }
        }
        KeyOp::SetNx(key, value) => {
            let value = Expiring::never(value);
            let inserted = p.insert_if_absent(&key, &value)?;
            if inserted {
                post.put(&key, &value);
            }
            present(inserted)
        }
        KeyOp::GetDel(key) => match bytes(p.read(&key)?) {
            Some(value) => {
                p.delete(&key)?;
                post.del(&key);
                Frame::Bulk(value)
            }
            None => Frame::Null,
        },
        KeyOp::Del(key) => {
            let found = p.read(&key)?.is_some();
            if found {
                p.delete(&key)?;
                post.del(&key);
            }
            present(found)
        }
        KeyOp::Remove(key) => {
            p.delete(&key)?;
            post.del(&key);
            Frame::ok()
        }
        KeyOp::Exists(key) => present(p.read(&key)?.is_some()),
        KeyOp::IncrBy(key, delta) => {
            let mut incr = IncrRmw {
                delta,
                outcome: Err("ERR value is not an integer or out of range"),
            };
            if let Some(value) = p.rmw(&key, &mut incr)? {
                post.put(&key, &value);
            }
            match incr.outcome {
                Ok(n) => Frame::Integer(n),
                Err(text) => Frame::error(text),
            }
        }
        KeyOp::Append(key, tail) => {
            let mut append = AppendRmw {
                tail: &tail,
                len: Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
            };
            if let Some(value) = p.rmw(&key, &mut append)? {
                post.put(&key, &value);
            }
            match append.len {
                Ok(len) => Frame::Integer(i64::try_from(len).unwrap_or(i64::MAX)),
                Err(text) => Frame::error(text),
            }
        }
        KeyOp::Strlen(key) => {
            let len = p.read(&key)?.map_or(0, |v| v.value.len());
            Frame::Integer(i64::try_from(len).unwrap_or(i64::MAX))
        }
        KeyOp::Expire { key, at, cond } => ttl::expire(p, &key, at, cond, post)?,
        KeyOp::Time(key, reply) => ttl::time(p, &key, reply)?,
        KeyOp::Persist(key) => ttl::persist(p, &key, post)?,
    })
}

/// `SET` with a condition, `GET` or `KEEPTTL`: remembers the value it saw. An RMW's `apply`
/// may run again on a newer value; each run overwrites what the previous one saw.
struct SetRmw<'a> {
    value: &'a [u8],
    cond: Cond,
    expiry: SetExpiry,
    old: Option<Vec<u8>>,
}

impl Rmw<Value> for &mut SetRmw<'_> {
    fn apply(&mut self, current: Option<&Value>) -> Option<Value> {
        self.old = current.map(|v| v.value.clone());
        let expires_at = match self.expiry {
            SetExpiry::Clear => None,
            SetExpiry::At(at) => Some(at),
            SetExpiry::Keep => current.and_then(|v| v.expires_at),
        };
        match (self.cond, current.is_some()) {
            (Cond::Absent, true) | (Cond::Present, false) => None,
            _ => Some(Expiring {
                value: self.value.to_vec(),
                expires_at,
            }),
        }
    }
}

/// Adds to a decimal integer value (absent is 0); declines with the error text otherwise.
struct IncrRmw {
    delta: i64,
    outcome: Result<i64, &'static str>,
}

impl Rmw<Value> for &mut IncrRmw {
    fn apply(&mut self, current: Option<&Value>) -> Option<Value> {
        let old = match current {
            None => 0,
            Some(current) => match parse_i64(&current.value) {
                Some(n) => n,
                None => {
                    self.outcome = Err("ERR value is not an integer or out of range");
                    return None;
                }
            },
        };
        match old.checked_add(self.delta) {
            Some(new) => {
                self.outcome = Ok(new);
                // The key keeps its expiry, as in Redis.
                Some(Expiring {
                    value: new.to_string().into_bytes(),
                    expires_at: current.and_then(|v| v.expires_at),
                })
            }
            None => {
                self.outcome = Err("ERR increment or decrement would overflow");
                None
            }
        }
    }
}

/// Appends to the value (absent is empty); declines past [`MAX_VALUE_LEN`].
struct AppendRmw<'a> {
    tail: &'a [u8],
    len: Result<usize, &'static str>,
}

impl Rmw<Value> for &mut AppendRmw<'_> {
    fn apply(&mut self, current: Option<&Value>) -> Option<Value> {
        let expires_at = current.and_then(|v| v.expires_at);
        let current = current.map(|v| v.value.as_slice()).unwrap_or_default();
        let len = current.len().saturating_add(self.tail.len());
        if len > MAX_VALUE_LEN {
            self.len = Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
            return None;
        }
        self.len = Ok(len);
        let mut value = Vec::with_capacity(len);
        value.extend_from_slice(current);
        value.extend_from_slice(self.tail);
        Some(Expiring { value, expires_at })
    }
}
