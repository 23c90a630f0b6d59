//! Throughput of the hash index beside two concurrent hash maps, in one run.
//!
//! Run: `cargo bench -p faster-index --bench index` (set `INDEX_BENCH_QUICK=1` for 1M entries
//! only). For each size (1M and 16M entries) and thread count (1 and 2):
//!
//! - **insert**: every key once, split between the threads, into a structure pre-sized for
//!   them. The index does `find_or_create` then swaps the value in as the address; the maps do
//!   `insert`.
//! - **find**: uniformly random lookups of inserted keys (4M per thread).
//! - **find ×16**: the index only — prefetch the buckets of 16 hashes, then look them up.
//!
//! "THP" is whether the index asked for transparent huge pages; "THP MiB" is how much of the
//! process's memory the kernel actually backed with them after the inserts (memory is faulted
//! in by the inserts, so that phase includes the page faults, for every structure alike).
//!
//! Keys are splitmix64 outputs of a counter, i.e. uniformly random 64-bit hashes; lookups
//! recompute a random key from a random counter value, so the only memory they touch is the
//! structure's. The index is
//! given them as its `KeyHash`; the maps get them as `u64` keys with a pass-through hasher, so
//! nobody spends time hashing. The index is sized at two entries per bucket (1M entries: 2^19
//! buckets, 32 MiB; 16M entries: 2^23 buckets, 512 MiB), well beyond the caches. Note the work
//! differs in kind: an index entry is 8 bytes and its lookup stops at a tag match (the store
//! then reads the record to compare keys), while the maps store and compare whole keys.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use faster_epoch::Epoch;
use faster_index::{Address, HashIndex, IndexConfig, KeyHash};

const FINDS_PER_THREAD: usize = 4 << 20;
const BATCH: usize = 16;
const REFRESH_EVERY: usize = 256;

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hands a `u64` key through unchanged: keys are already random.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Build = BuildHasherDefault<PassThrough>;

/// The structure under test, shared by the threads.
trait Subject: Send + Sync + 'static {
    fn insert_range(&self, keys: &[u64]);
    fn find_random(&self, keys: &[u64], seed: u64, n: usize) -> u64;
    fn find_batched(&self, _keys: &[u64], _seed: u64, _n: usize) -> Option<u64> {
        None
    }
}

struct Index {
    index: HashIndex,
    epoch: Arc<Epoch>,
}

fn address_of(key: u64) -> Address {
    Address::from_masked(key).max(Address::FIRST_VALID)
}

impl Subject for Index {
    fn insert_range(&self, keys: &[u64]) {
        let handle = self.epoch.register().expect("epoch slot");
        let mut guard = handle.protect();
        for (i, &key) in keys.iter().enumerate() {
            loop {
                let Ok(slot) = self.index.find_or_create(KeyHash(key), &guard) else {
                    guard.refresh();
                    continue;
                };
                if slot
                    .compare_exchange(slot.address(), address_of(key))
                    .is_ok()
                {
                    break;
                }
            }
            if i % REFRESH_EVERY == 0 {
                guard.refresh();
            }
        }
    }

    fn find_random(&self, keys: &[u64], seed: u64, n: usize) -> u64 {
        let handle = self.epoch.register().expect("epoch slot");
        let mut guard = handle.protect();
        let mut found = 0;
        let mut state = seed;
        for i in 0..n {
            state = splitmix(state);
            let key = splitmix(state % keys.len() as u64);
            if let Ok(Some(slot)) = self.index.find(KeyHash(key), &guard) {
                found += std::hint::black_box(slot.address()).raw().min(1);
            }
            if i % REFRESH_EVERY == 0 {
                guard.refresh();
            }
        }
        found
    }

    fn find_batched(&self, keys: &[u64], seed: u64, n: usize) -> Option<u64> {
        let handle = self.epoch.register().expect("epoch slot");
        let mut guard = handle.protect();
        let mut found = 0;
        let mut state = seed;
        let mut batch = [KeyHash(0); BATCH];
        for round in 0..n / BATCH {
            for hash in &mut batch {
                state = splitmix(state);
                *hash = KeyHash(splitmix(state % keys.len() as u64));
                self.index.prefetch(*hash, &guard);
            }
            for &hash in &batch {
                if let Ok(Some(slot)) = self.index.find(hash, &guard) {
                    found += std::hint::black_box(slot.address()).raw().min(1);
                }
            }
            if round % (REFRESH_EVERY / BATCH) == 0 {
                guard.refresh();
            }
        }
        Some(found)
    }
}

struct Scc(scc::HashMap<u64, u64, Build>);

impl Subject for Scc {
    fn insert_range(&self, keys: &[u64]) {
        for &key in keys {
            let _ = self.0.insert_sync(key, address_of(key).raw());
        }
    }

    fn find_random(&self, keys: &[u64], seed: u64, n: usize) -> u64 {
        let mut found = 0;
        let mut state = seed;
        for _ in 0..n {
            state = splitmix(state);
            let key = splitmix(state % keys.len() as u64);
            found += self
                .0
                .read_sync(&key, |_, v| std::hint::black_box(*v).min(1))
                .unwrap_or(0);
        }
        found
    }
}

struct Dash(dashmap::DashMap<u64, u64, Build>);

impl Subject for Dash {
    fn insert_range(&self, keys: &[u64]) {
        for &key in keys {
            self.0.insert(key, address_of(key).raw());
        }
    }

    fn find_random(&self, keys: &[u64], seed: u64, n: usize) -> u64 {
        let mut found = 0;
        let mut state = seed;
        for _ in 0..n {
            state = splitmix(state);
            let key = splitmix(state % keys.len() as u64);
            found += self
                .0
                .get(&key)
                .map_or(0, |v| std::hint::black_box(*v).min(1));
        }
        found
    }
}

/// Runs `work(thread)` on `threads` threads at once; returns the seconds of the slowest.
fn timed<T: Send + 'static>(
    threads: usize,
    work: impl Fn(usize) -> T + Send + Sync + 'static,
) -> (f64, Vec<T>) {
    let work = Arc::new(work);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let work = Arc::clone(&work);
            thread::spawn(move || work(t))
        })
        .collect();
    let results = handles
        .into_iter()
        .map(|h| h.join().expect("bench thread"))
        .collect();
    (start.elapsed().as_secs_f64(), results)
}

struct Row {
    name: &'static str,
    entries: usize,
    huge: &'static str,
    /// Memory of the process backed by transparent huge pages after the inserts.
    huge_mib: u64,
    threads: usize,
    insert: f64,
    find: f64,
    batched: Option<f64>,
}

fn measure(
    name: &'static str,
    huge: &'static str,
    keys: &Arc<Vec<u64>>,
    threads: usize,
    make: impl Fn() -> Box<dyn Subject>,
) -> Row {
    let subject: Arc<dyn Subject> = Arc::from(make());
    let per_thread = keys.len().div_ceil(threads);
    let (s, k) = (Arc::clone(&subject), Arc::clone(keys));
    let (insert_secs, _) = timed(threads, move |t| {
        let end = ((t + 1) * per_thread).min(k.len());
        s.insert_range(&k[t * per_thread..end]);
    });
    let huge_mib = anon_huge_mib();
    let (s, k) = (Arc::clone(&subject), Arc::clone(keys));
    let (find_secs, found) = timed(threads, move |t| {
        s.find_random(&k, 0xF1ED ^ t as u64, FINDS_PER_THREAD)
    });
    assert!(
        found.iter().all(|&f| f == FINDS_PER_THREAD as u64),
        "{name}: lookups missed"
    );
    let (s, k) = (Arc::clone(&subject), Arc::clone(keys));
    let (batched_secs, batched_found) = timed(threads, move |t| {
        s.find_batched(&k, 0xBA7C ^ t as u64, FINDS_PER_THREAD)
    });
    let batched = batched_found.iter().all(Option::is_some).then(|| {
        let ops = (threads * (FINDS_PER_THREAD / BATCH * BATCH)) as f64;
        ops / batched_secs / 1e6
    });
    let row = Row {
        name,
        entries: keys.len(),
        huge,
        huge_mib,
        threads,
        insert: keys.len() as f64 / insert_secs / 1e6,
        find: (threads * FINDS_PER_THREAD) as f64 / find_secs / 1e6,
        batched,
    };
    print_row(&row);
    // Drop the structure outside the timings.
    drop(subject);
    row
}

/// `AnonHugePages` of this process, in MiB (0 where the kernel does not report it).
fn anon_huge_mib() -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    smaps
        .lines()
        .find(|l| l.starts_with("AnonHugePages:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb >> 10)
}

fn print_row(row: &Row) {
    let batched = row
        .batched
        .map_or_else(|| "-".to_string(), |b| format!("{b:.2}"));
    println!(
        "| {:<13} | {:>7} | {:<4} | {:>8} | {:>7} | {:>14.2} | {:>12.2} | {:>16} |",
        row.name,
        format!("{}M", row.entries >> 20),
        row.huge,
        row.huge_mib,
        row.threads,
        row.insert,
        row.find,
        batched
    );
}

fn index_subject(entries: usize, huge: bool) -> Box<dyn Subject> {
    let epoch = Epoch::new();
    let config = IndexConfig::for_entries(entries as u64).huge_pages(huge);
    let index = HashIndex::new(config, Arc::clone(&epoch)).expect("index");
    Box::new(Index { index, epoch })
}

fn main() {
    let quick = std::env::var_os("INDEX_BENCH_QUICK").is_some();
    let sizes: &[usize] = if quick {
        &[1 << 20]
    } else {
        &[1 << 20, 16 << 20]
    };
    println!(
        "| structure     | entries | THP  | THP MiB  | threads | insert (Mop/s) | find (Mop/s) | find ×16 (Mop/s) |"
    );
    println!(
        "|---------------|---------|------|----------|---------|----------------|--------------|------------------|"
    );
    for &entries in sizes {
        let keys: Arc<Vec<u64>> = Arc::new((0..entries as u64).map(splitmix).collect());
        let order: Vec<usize> = match std::env::var("INDEX_BENCH_THREADS") {
            Ok(list) => list.split(',').filter_map(|t| t.parse().ok()).collect(),
            Err(_) => vec![1, 2],
        };
        for threads in order {
            measure("faster-index", "on", &keys, threads, || {
                index_subject(entries, true)
            });
            if entries >= 16 << 20 {
                measure("faster-index", "off", &keys, threads, || {
                    index_subject(entries, false)
                });
            }
            measure("scc::HashMap", "-", &keys, threads, || {
                Box::new(Scc(scc::HashMap::with_capacity_and_hasher(
                    entries,
                    Build::default(),
                )))
            });
            measure("DashMap", "-", &keys, threads, || {
                Box::new(Dash(dashmap::DashMap::with_capacity_and_hasher(
                    entries,
                    Build::default(),
                )))
            });
        }
    }
}
