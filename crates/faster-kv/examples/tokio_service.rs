//! A tokio service over a store larger than its memory: request handlers share one
//! `AsyncSession`, count visits with `add` and read profiles with `read`; a request whose
//! record is on the device waits for it without blocking the runtime's thread.
//!
//! Run with `cargo run --release -p faster-kv --example tokio_service`.

use std::time::Instant;

use faster_kv::{AsyncSession, FasterKv};

/// One request: count a visit to `user`, then read the count back.
async fn handle(session: AsyncSession<u64, u64>, user: u64) -> Result<u64, faster_kv::OpError> {
    let visits = session.add(&user, 1).await?;
    let read = session.read(&user).await?;
    debug_assert_eq!(read, Some(visits));
    Ok(visits)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    // 1,000,000 counters (24 MB of records) in 2 MiB of log memory: most are on the device.
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .dir(dir.path())
        .page_size_bits(16)
        .memory_budget(2 << 20)
        .open()?;
    let users = 1_000_000u64;
    {
        let mut session = store.session()?;
        for user in 0..users {
            session.upsert(&user, &0)?;
        }
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let session = store.session()?.into_async();
    let started = Instant::now();
    let requests = 100_000u64;
    let total = runtime.block_on(async {
        let mut handlers = tokio::task::JoinSet::new();
        for i in 0..requests {
            // Spread over the key space: most requests touch a counter that is on the device.
            let user = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % users;
            handlers.spawn(handle(session.clone(), user));
            if i % 1_000 == 999 {
                // Let the handlers already started run, as a server's accept loop would.
                tokio::task::yield_now().await;
            }
        }
        let mut total = 0;
        while let Some(done) = handlers.join_next().await {
            total += done??;
        }
        Ok::<u64, Box<dyn std::error::Error>>(total)
    })?;
    let elapsed = started.elapsed();
    let stats = store.stats();
    println!(
        "{requests} requests on one runtime thread in {elapsed:.2?} ({:.0} requests/s); \
         {} device reads; visits counted: {total}",
        requests as f64 / elapsed.as_secs_f64(),
        stats.device_reads
    );
    Ok(())
}
