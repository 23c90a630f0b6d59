//! FasterLog on its own: a program whose only faster-rs dependency is `faster-log`.
//!
//! Three producer threads append events to a log in a directory; the log commits every
//! 5 ms in the background; a named consumer reads the committed events, marks its progress
//! and truncates what it has processed. Then the log is reopened, as after a restart, and the
//! consumer resumes where its last commit left it.
//!
//! Run with `cargo run -p faster-log --example log_only [DIR]`.

use std::sync::Arc;
use std::time::Duration;

use faster_log::{CommitPolicy, Error, FasterLog};

const PRODUCERS: u32 = 3;
const EVENTS_PER_PRODUCER: u32 = 10_000;

fn open(dir: &std::path::Path) -> Result<FasterLog, Error> {
    Ok(FasterLog::builder_in_dir(dir)
        .page_size_bits(20)
        .memory_pages(8)
        .commit_policy(CommitPolicy::EveryInterval(Duration::from_millis(5)))
        .open()?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = match std::env::args().nth(1) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("faster-log-example-{}", std::process::id())),
    };
    let log = Arc::new(open(&dir)?);
    if log.recovery_info().created {
        println!("new log in {}", dir.display());
    } else {
        println!(
            "reopened the log in {}: committed until {}",
            dir.display(),
            log.committed_until()
        );
    }

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || -> Result<(), Error> {
                for i in 0..EVENTS_PER_PRODUCER {
                    let event = format!("producer {p} event {i}");
                    log.enqueue(event.as_bytes())?;
                }
                Ok(())
            })
        })
        .collect();

    // The consumer: process everything committed, remember progress every 1000 events.
    let mut consumer = log.named_iterator("consumer")?;
    let mut processed = 0u32;
    while processed < PRODUCERS * EVENTS_PER_PRODUCER / 2 {
        let Some(entry) = consumer.next_timeout(Duration::from_secs(5))? else {
            break;
        };
        processed += 1;
        if processed.is_multiple_of(1000) {
            let done = entry.next_address;
            consumer.complete_until(done);
            log.truncate_until(done)?;
        }
    }
    for producer in producers {
        producer.join().map_err(|_| "a producer panicked")??;
    }
    // Make everything, and the consumer's last marked position, durable.
    let committed = log.commit()?;
    println!("processed {processed} events; committed until {committed}");
    drop(consumer);
    drop(log);

    // "Restart": the consumer resumes after the last position a commit recorded.
    let log = open(&dir)?;
    let mut consumer = log.named_iterator("consumer")?;
    let mut remaining = 0u32;
    while consumer.next()?.is_some() {
        remaining += 1;
    }
    println!(
        "after reopening: begin {}, {} events left for the consumer",
        log.begin_address(),
        remaining
    );
    drop(consumer);
    drop(log);
    if std::env::args().nth(1).is_none() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
