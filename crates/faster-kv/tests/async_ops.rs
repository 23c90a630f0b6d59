//! Async operations (`AsyncSession`): cold reads on a device that answers 2 ms late leave a
//! current-thread runtime free to run a 1 ms ticker; each future is polled a few times only;
//! results match a model; dropped futures leave the session usable and hold nothing back.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use faster_device::{Device, FaultDevice, MemDevice};
use faster_kv::{AsyncSession, FasterKv, Status};

const KEYS: u64 = 20_000;

fn value_of(key: u64) -> u64 {
    key * 3 + 1
}

/// A store whose `KEYS` keys are almost all on a device that completes every request
/// `delay` late (from a timer thread: the device itself never blocks a caller).
fn cold_store(delay: Duration) -> (FasterKv<u64, u64>, Arc<FaultDevice>) {
    let fault = Arc::new(FaultDevice::new(Arc::new(MemDevice::new())));
    // An index large enough from the start: a growth reads the keys of on-device records
    // one at a time, which this device would make slow.
    let store: FasterKv<u64, u64> = common::small()
        .device(fault.clone() as Arc<dyn Device>)
        .index_buckets(1 << 14)
        .auto_grow_index(false)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    for key in 0..KEYS {
        s.upsert(&key, &value_of(key)).unwrap();
    }
    drop(s);
    fault.set_delay(delay).unwrap();
    (store, fault)
}

#[test]
fn ten_thousand_cold_reads_in_flight_leave_a_1ms_ticker_on_time() {
    // Reads answered a second late: the 10,000 reads are all in flight at once, even on a
    // loaded machine.
    let (store, _fault) = cold_store(Duration::from_secs(1));
    let head = store.regions().head;
    let session = store.session().unwrap().into_async();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let started = Instant::now();
    let (results, lateness, in_flight) = runtime.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let ticking = Arc::clone(&stop);
        let watched = session.clone();
        let ticker = tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(1));
            let mut late = Vec::new();
            let mut in_flight = 0;
            while !ticking.load(Ordering::Relaxed) {
                let due = interval.tick().await;
                late.push(Instant::now().duration_since(due.into_std()));
                in_flight = watched.pending_count().max(in_flight);
            }
            (late, in_flight)
        });
        // Requests arrive as a service's would: a hundred, then the others run.
        let mut reads = tokio::task::JoinSet::new();
        for (i, key) in (0..KEYS).step_by(2).enumerate() {
            let session = session.clone();
            reads.spawn(async move {
                let (value, polls) = common::Counted {
                    inner: session.read(&key),
                    polls: 0,
                }
                .await;
                (key, value.unwrap(), polls)
            });
            if i % 100 == 99 {
                tokio::task::yield_now().await;
            }
        }
        let mut results = Vec::new();
        while let Some(done) = reads.join_next().await {
            results.push(done.unwrap());
        }
        stop.store(true, Ordering::Relaxed);
        let (lateness, in_flight) = ticker.await.unwrap();
        (results, lateness, in_flight)
    });
    let elapsed = started.elapsed();
    assert_eq!(results.len() as u64, KEYS / 2);
    for &(key, value, _) in &results {
        assert_eq!(value, Some(value_of(key)), "key {key}");
    }
    let stats = store.stats();
    assert!(
        stats.device_reads >= KEYS / 2 * 9 / 10,
        "most reads must have gone to the device: {} (head {head})",
        stats.device_reads
    );
    // One after the other they would take 10,000 s; in flight together, a few delays.
    assert!(
        in_flight >= 8_000,
        "at most {in_flight} reads were in flight at once"
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    // A future is polled once when it starts, once per completion of its read, and once more
    // when a poll left completed reads to the next one (at most 64 are digested per poll).
    let max_polls = results.iter().map(|r| r.2).max().unwrap();
    let mean_polls = results.iter().map(|r| f64::from(r.2)).sum::<f64>() / results.len() as f64;
    assert!(max_polls <= 4, "a future was polled {max_polls} times");
    assert!(
        mean_polls <= 2.5,
        "futures were polled {mean_polls:.2} times on average"
    );
    // The ticker, due every 1 ms (the bounds of this test): half of its ticks at most 5 ms
    // late, and none more than 100 ms — a tenth of one device read, so a read that blocked
    // the thread would break it. What lateness is left is the runtime running, one after the
    // other, the tasks a burst of completions woke before the ticker's turn comes (in an
    // unoptimised build on a busy machine, worst cases of 20–40 ms were seen).
    let mut sorted = lateness.clone();
    sorted.sort_unstable();
    let worst = sorted.last().copied().unwrap_or_default();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    assert!(!lateness.is_empty());
    assert!(
        median <= Duration::from_millis(5),
        "the ticker was {median:?} late at the median ({} ticks in {elapsed:?})",
        lateness.len()
    );
    assert!(
        worst <= Duration::from_millis(100),
        "the ticker was {worst:?} late ({} ticks in {elapsed:?})",
        lateness.len()
    );
    eprintln!(
        "{} reads in {elapsed:?}, {in_flight} in flight at most; polls: max {max_polls}, mean \
         {mean_polls:.2}; ticker: {} ticks, lateness median {median:?}, worst {worst:?}",
        results.len(),
        lateness.len()
    );
}

/// A waker that counts its clones still alive (through the `Arc`'s count).
struct Counting(AtomicUsize);
impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn dropped_futures_leave_the_session_usable_and_hold_no_waker() {
    let (store, fault) = cold_store(Duration::from_millis(2));
    let session: AsyncSession<u64, u64> = store.session().unwrap().into_async();
    let counting = Arc::new(Counting(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&counting));
    let mut cx = Context::from_waker(&waker);
    // Reads and RMWs of cold keys, each polled once (so each waits for the device), then
    // dropped before their reads complete.
    let mut futures = Vec::new();
    for key in 0..500u64 {
        let mut read = session.read(&key);
        assert!(Pin::new(&mut read).poll(&mut cx).is_pending(), "key {key}");
        futures.push(read);
    }
    let mut rmws = Vec::new();
    for key in 1_000..1_200u64 {
        let mut rmw = session.add(&key, 1_000_000);
        assert!(Pin::new(&mut rmw).poll(&mut cx).is_pending(), "key {key}");
        rmws.push(rmw);
    }
    // Polls digest the reads that completed meanwhile; the last ones are still in flight.
    assert!(session.pending_count() > 0);
    drop(futures);
    drop(rmws);
    assert_eq!(
        Arc::strong_count(&counting),
        2,
        "a dropped future's waker is still held"
    );
    // The session finishes what it started and comes back whole.
    let mut plain = session.into_session().unwrap();
    assert_eq!(plain.pending_count(), 0);
    fault.set_delay(Duration::ZERO).unwrap();
    // A started RMW is carried out even though its future was dropped, exactly once.
    for key in 0..KEYS {
        let expected = if (1_000..1_200).contains(&key) {
            value_of(key) + 1_000_000
        } else {
            value_of(key)
        };
        assert_eq!(plain.read(&key).unwrap(), Some(expected), "key {key}");
    }
    // And works as an async session again.
    let again = plain.into_async();
    let mut read = again.read(&7);
    let result = loop {
        if let Poll::Ready(r) = Pin::new(&mut read).poll(&mut cx) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    assert_eq!(result.unwrap(), Some(value_of(7)));
}

#[test]
fn async_operations_on_two_worker_threads_match_a_model() {
    let (store, fault) = cold_store(Duration::from_millis(2));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let sessions: Vec<AsyncSession<u64, u64>> = (0..2)
        .map(|_| store.session().unwrap().into_async())
        .collect();
    // Each task owns its own keys (key % 8 == task); the model is the sum of its updates.
    let models = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..8u64 {
            let session = sessions[(task % 2) as usize].clone();
            tasks.spawn(async move {
                let mut model: HashMap<u64, Option<u64>> = HashMap::new();
                let keys: Vec<u64> = (0..KEYS).filter(|k| k % 8 == task).take(400).collect();
                for (i, &key) in keys.iter().enumerate() {
                    let expected = model.get(&key).copied().unwrap_or(Some(value_of(key)));
                    match i % 4 {
                        0 => {
                            let count = session.add(&key, 5).await.unwrap();
                            assert_eq!(count, expected.unwrap_or(0) + 5);
                            model.insert(key, Some(count));
                        }
                        1 => {
                            session.upsert(&key, &(key + 7)).await.unwrap();
                            model.insert(key, Some(key + 7));
                        }
                        2 => {
                            let status = session.delete(&key).await.unwrap();
                            assert_eq!(status, Status::Found);
                            model.insert(key, None);
                        }
                        _ => {
                            let stored = session
                                .rmw(&key, |v: Option<&u64>| v.map_or(1, |v| v * 2))
                                .await
                                .unwrap();
                            let doubled = expected.map_or(1, |v| v * 2);
                            assert_eq!(stored, Some(doubled));
                            model.insert(key, Some(doubled));
                        }
                    }
                    assert_eq!(session.read(&key).await.unwrap(), model[&key], "key {key}");
                }
                model
            });
        }
        let mut all = HashMap::new();
        while let Some(model) = tasks.join_next().await {
            all.extend(model.unwrap());
        }
        all
    });
    // The RMWs and adds of keys last written at the load read them from the device.
    let reads = store.stats().device_reads;
    assert!(reads >= 1_000, "only {reads} device reads");
    fault.set_delay(Duration::ZERO).unwrap();
    let mut s = store.session().unwrap();
    for key in 0..KEYS {
        let expected = models.get(&key).copied().unwrap_or(Some(value_of(key)));
        assert_eq!(s.read(&key).unwrap(), expected, "key {key}");
    }
}
