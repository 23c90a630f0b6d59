//! Plain concurrent hash maps doing the same work as the store: `scc::HashMap`, the ceiling
//! (no log, no epochs, no device), and `dashmap`. Both use [`MixHasher`], so the comparison is
//! of the maps, not of their default hashers.

use std::hash::{BuildHasherDefault, Hasher};
use std::hint::black_box;

use crate::bench::systems::{Found, Op, System, Worker, drive};

/// The same one-multiply mix faster-kv uses for `u64` keys.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        faster_kv::mix64(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(word);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Mix = BuildHasherDefault<MixHasher>;

/// `scc::HashMap<u64, u64>`.
pub(crate) struct SccSystem(scc::HashMap<u64, u64, Mix>);

impl SccSystem {
    pub(crate) fn new(keys: u64) -> Self {
        Self(scc::HashMap::with_capacity_and_hasher(
            usize::try_from(keys).unwrap_or(0),
            Mix::default(),
        ))
    }
}

impl System for SccSystem {
    fn name(&self) -> String {
        "scc::HashMap".into()
    }

    fn worker(&self) -> Result<Box<dyn Worker + '_>, String> {
        Ok(Box::new(SccWorker(&self.0)))
    }
}

struct SccWorker<'a>(&'a scc::HashMap<u64, u64, Mix>);

impl Worker for SccWorker<'_> {
    fn run(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String> {
        let map = self.0;
        drive(ops, sample_every, samples, |op| {
            match op {
                Op::Read(k) => {
                    black_box(map.read_sync(&k, |_, v| *v));
                }
                Op::Upsert(k) => {
                    black_box(map.upsert_sync(k, k));
                }
                Op::Rmw(k) => {
                    map.entry_sync(k).and_modify(|v| *v += 1).or_insert(1);
                }
            }
            Ok(())
        })
    }

    fn load(&mut self, keys: &[u64]) -> Result<(), String> {
        for &k in keys {
            black_box(self.0.upsert_sync(k, k));
        }
        Ok(())
    }

    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String> {
        for (k, slot) in (first..).zip(out) {
            *slot = self
                .0
                .read_sync(&k, |_, v| *v)
                .map_or(Found::Missing, Found::Value);
        }
        Ok(())
    }
}

/// `dashmap::DashMap<u64, u64>`.
pub(crate) struct DashSystem(dashmap::DashMap<u64, u64, Mix>);

impl DashSystem {
    pub(crate) fn new(keys: u64) -> Self {
        Self(dashmap::DashMap::with_capacity_and_hasher(
            usize::try_from(keys).unwrap_or(0),
            Mix::default(),
        ))
    }
}

impl System for DashSystem {
    fn name(&self) -> String {
        "dashmap".into()
    }

    fn worker(&self) -> Result<Box<dyn Worker + '_>, String> {
        Ok(Box::new(DashWorker(&self.0)))
    }
}

struct DashWorker<'a>(&'a dashmap::DashMap<u64, u64, Mix>);

impl Worker for DashWorker<'_> {
    fn run(
        &mut self,
        ops: &[Op],
        sample_every: usize,
        samples: &mut Vec<u32>,
    ) -> Result<(), String> {
        let map = self.0;
        drive(ops, sample_every, samples, |op| {
            match op {
                Op::Read(k) => {
                    black_box(map.get(&k).map(|v| *v));
                }
                Op::Upsert(k) => {
                    black_box(map.insert(k, k));
                }
                Op::Rmw(k) => {
                    *map.entry(k).or_insert(0) += 1;
                }
            }
            Ok(())
        })
    }

    fn load(&mut self, keys: &[u64]) -> Result<(), String> {
        for &k in keys {
            black_box(self.0.insert(k, k));
        }
        Ok(())
    }

    fn read_back(&mut self, first: u64, out: &mut [Found]) -> Result<(), String> {
        for (k, slot) in (first..).zip(out) {
            *slot = self.0.get(&k).map_or(Found::Missing, |v| Found::Value(*v));
        }
        Ok(())
    }
}
