//! A peer driven by one call into the store per operation: sled, fjall and redb, whose APIs
//! are maps of byte strings (or typed tables) rather than sessions. Each store implements
//! [`Calls`]; [`CallsSystem`] turns it into a benchmark [`System`]. As for the other peers, an
//! operation the store fails counts as a failed operation and the run goes on.

use std::hint::black_box;

use super::FailureLog;
use crate::bench::systems::{Found, Op, System, Worker, drive};

/// The three operations of the benchmark on one store, callable from any thread.
pub(crate) trait Calls: Sync {
    /// The value of `key` (`None`: missing). An error when the store fails, or holds a value
    /// that is not 8 bytes.
    fn read(&self, key: u64) -> Result<Option<u64>, String>;
    /// Stores `value` under `key`.
    fn upsert(&self, key: u64, value: u64) -> Result<(), String>;
    /// Adds 1 to the value of `key` (a missing key becomes 1) and returns the new value. No
    /// increment is lost when threads add to the same key at once.
    fn add_one(&self, key: u64) -> Result<u64, String>;
}

/// The number an 8-byte little-endian value holds.
pub(crate) fn number(bytes: &[u8]) -> Result<u64, String> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_le_bytes)
        .map_err(|_| format!("a {}-byte value", bytes.len()))
}

/// The outcome of an add whose update closure left a value that is not a number as it was
/// (`wrong`), or stored `new`.
pub(crate) fn added(wrong: Option<String>, new: Option<&[u8]>) -> Result<u64, String> {
    if let Some(e) = wrong {
        return Err(e);
    }
    match new {
        Some(bytes) => number(bytes),
        None => Err("the value vanished".into()),
    }
}

/// A store behind [`Calls`] as a benchmark system.
pub(crate) struct CallsSystem<S> {
    name: &'static str,
    store: S,
    failures: FailureLog,
}

impl<S: Calls> CallsSystem<S> {
    pub(crate) fn new(name: &'static str, store: S) -> Self {
        Self {
            name,
            store,
            failures: FailureLog::default(),
        }
    }
}

impl<S: Calls> System for CallsSystem<S> {
    fn name(&self) -> String {
        self.name.into()
    }

    fn worker(&self) -> Result<Box<dyn Worker + '_>, String> {
        Ok(Box::new(CallsWorker(self)))
    }

    fn failures(&self) -> (u64, Option<String>) {
        self.failures.snapshot()
    }
}

struct CallsWorker<'a, S>(&'a CallsSystem<S>);

impl<S: Calls> Worker for CallsWorker<'_, S> {
    fn run(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String> {
        let CallsSystem {
            store, failures, ..
        } = self.0;
        drive(ops, sample_every, samples, |op| {
            match op {
                Op::Read(k) => match store.read(k) {
                    Ok(v) => {
                        black_box(v);
                    }
                    Err(e) => failures.record(|| format!("read of key {k}: {e}")),
                },
                Op::Upsert(k) => {
                    if let Err(e) = store.upsert(k, k) {
                        failures.record(|| format!("upsert of key {k}: {e}"));
                    }
                }
                Op::Rmw(k) => match store.add_one(k) {
                    Ok(v) => {
                        black_box(v);
                    }
                    Err(e) => failures.record(|| format!("rmw of key {k}: {e}")),
                },
            }
            Ok(())
        })
    }

    fn load(&mut self, keys: &[u64]) -> Result<(), String> {
        let CallsSystem {
            store, failures, ..
        } = self.0;
        for &k in keys {
            if let Err(e) = store.upsert(k, k) {
                failures.record(|| format!("load upsert of key {k}: {e}"));
            }
        }
        Ok(())
    }

    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String> {
        for (k, slot) in (first..).zip(out) {
            *slot = match self.0.store.read(k) {
                Ok(Some(v)) => Found::Value(v),
                Ok(None) => Found::Missing,
                Err(e) => Found::Error(e),
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn only_an_8_byte_value_is_a_number() {
        assert_eq!(number(&7u64.to_le_bytes()), Ok(7));
        assert_eq!(number(&[1, 2, 3]), Err("a 3-byte value".to_string()));
    }
}
