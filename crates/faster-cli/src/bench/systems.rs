//! The systems a benchmark drives, and faster-kv as one of them.
//!
//! Every system gives the workloads the same meaning: an upsert stores value = key, an RMW adds
//! 1 to the stored value, a read returns it. So after the load every key `k` holds `k`, and
//! verification can tell from the requests a system completed what each key must hold.
//! Peers (feature `peers`, in [`super::peers`]) implement the same traits.

use std::hint::black_box;
use std::time::Instant;

use faster_kv::{FasterKv, Session};
use serde::{Deserialize, Serialize};

/// One operation of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Read(u64),
    Upsert(u64),
    Rmw(u64),
}

/// What reading a key back returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Found {
    Value(u64),
    Missing,
    /// The system reported an error (or a value of the wrong shape).
    Error(String),
}

/// A thread's handle on a system.
pub(crate) trait Worker {
    /// Runs `ops`; times every `sample_every`-th one into `samples` (nanoseconds).
    fn run(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String>;
    /// Inserts `keys` with value = key (the load phase).
    fn load(&mut self, keys: &[u64]) -> Result<(), String>;
    /// Reads keys `first..first + out.len()` into `out`, for verification (untimed).
    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String>;
}

/// A system under test, shared by the benchmark's threads.
pub(crate) trait System: Sync {
    /// The name in reports.
    fn name(&self) -> String;
    /// A worker for the calling thread.
    fn worker(&self) -> Result<Box<dyn Worker + '_>, String>;
    /// Operations the system reported as failed during timed runs. Peers count these rather
    /// than stop, so that a misbehaving peer is still measured and then verified.
    fn failures(&self) -> (u64, Option<String>) {
        (0, None)
    }
}

/// Runs `f` on every op, timing every `sample_every`-th.
#[inline]
pub(crate) fn drive(
    ops: &[Op],
    sample_every: usize,
    samples: &mut Vec<u32>,
    mut f: impl FnMut(Op) -> Result<(), String>,
) -> Result<(), String> {
    for (i, op) in ops.iter().enumerate() {
        if i % sample_every == 0 {
            let start = Instant::now();
            f(*op)?;
            samples.push(u32::try_from(start.elapsed().as_nanos()).unwrap_or(u32::MAX));
        } else {
            f(*op)?;
        }
    }
    Ok(())
}

/// faster-kv. 8-byte values are `u64` words updated in place atomically; larger values are
/// byte strings whose first 8 bytes hold the number (little-endian), padded with 0xAB.
pub(crate) enum FasterSystem {
    Word(FasterKv<u64, u64>),
    Bytes(FasterKv<u64, [u8]>, usize),
}

impl System for FasterSystem {
    fn name(&self) -> String {
        "faster-kv".into()
    }

    fn worker(&self) -> Result<Box<dyn Worker + '_>, String> {
        Ok(match self {
            Self::Word(store) => Box::new(WordWorker(store.session().map_err(|e| e.to_string())?)),
            Self::Bytes(store, size) => Box::new(BytesWorker {
                session: store.session().map_err(|e| e.to_string())?,
                value: vec![0xAB; *size],
            }),
        })
    }
}

struct WordWorker(Session<u64, u64>);

impl Worker for WordWorker {
    fn run(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String> {
        let mut s = self.0.pin();
        drive(ops, sample_every, samples, |op| {
            match op {
                Op::Read(k) => {
                    black_box(s.read(&k).map_err(|e| e.to_string())?);
                }
                Op::Upsert(k) => s.upsert(&k, &k).map_err(|e| e.to_string())?,
                Op::Rmw(k) => {
                    black_box(s.add(&k, 1).map_err(|e| e.to_string())?);
                }
            }
            Ok(())
        })
    }

    fn load(&mut self, keys: &[u64]) -> Result<(), String> {
        let mut s = self.0.pin();
        for k in keys {
            s.upsert(k, k).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String> {
        let mut s = self.0.pin();
        for (key, slot) in (first..).zip(out.iter_mut()) {
            *slot = match s.read(&key) {
                Ok(Some(v)) => Found::Value(v),
                Ok(None) => Found::Missing,
                Err(e) => Found::Error(e.to_string()),
            };
        }
        Ok(())
    }
}

struct BytesWorker {
    session: Session<u64, [u8]>,
    /// The value buffer: the number in the first 8 bytes, then padding.
    value: Vec<u8>,
}

/// The number held in a byte-string value's first 8 bytes.
fn number(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// Stores `n` in a byte-string value's first 8 bytes.
fn set_number(bytes: &mut [u8], n: u64) {
    if let Some(head) = bytes.get_mut(..8) {
        head.copy_from_slice(&n.to_le_bytes());
    }
}

impl Worker for BytesWorker {
    fn run(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String> {
        let Self { session, value } = self;
        let padding = value.clone();
        let mut s = session.pin();
        drive(ops, sample_every, samples, |op| {
            match op {
                Op::Read(k) => {
                    black_box(s.read(&k).map_err(|e| e.to_string())?);
                }
                Op::Upsert(k) => {
                    set_number(value, k);
                    s.upsert(&k, value).map_err(|e| e.to_string())?;
                }
                Op::Rmw(k) => {
                    let bumped = s.rmw(&k, |old: Option<&[u8]>| {
                        let mut v = old.map_or_else(|| padding.clone(), <[u8]>::to_vec);
                        set_number(&mut v, old.and_then(number).unwrap_or(0).wrapping_add(1));
                        v
                    });
                    black_box(bumped.map_err(|e| e.to_string())?);
                }
            }
            Ok(())
        })
    }

    fn load(&mut self, keys: &[u64]) -> Result<(), String> {
        let Self { session, value } = self;
        let mut s = session.pin();
        for &k in keys {
            set_number(value, k);
            s.upsert(&k, value).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String> {
        let mut s = self.session.pin();
        for (key, slot) in (first..).zip(out.iter_mut()) {
            *slot = match s.read(&key) {
                Ok(Some(v)) => number(&v).map_or_else(
                    || Found::Error(format!("a {}-byte value", v.len())),
                    Found::Value,
                ),
                Ok(None) => Found::Missing,
                Err(e) => Found::Error(e.to_string()),
            };
        }
        Ok(())
    }
}
