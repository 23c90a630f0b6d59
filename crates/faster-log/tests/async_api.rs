//! The async API on tokio: commits, waits and iterators woken by commits.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{identify, mem_devices, payload, small};
use faster_log::{Address, CommitPolicy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_async_makes_entries_visible() {
    let (dev, meta) = mem_devices();
    let log = small(&dev, &meta).open().unwrap();
    let address = log.enqueue(b"async").unwrap();
    let committed = log.commit_async().await.unwrap();
    assert!(committed > address);
    assert_eq!(log.read_entry(address).unwrap(), b"async");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_commit_async_is_woken_by_a_later_commit() {
    let (dev, meta) = mem_devices();
    let log = Arc::new(small(&dev, &meta).open().unwrap());
    let address = log.enqueue(b"x").unwrap();
    let until = Address::new(address.raw() + 1).unwrap();
    let waiter = {
        let log = Arc::clone(&log);
        tokio::spawn(async move { log.wait_for_commit_async(until).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished(), "woke without a commit");
    let committed = tokio::task::spawn_blocking({
        let log = Arc::clone(&log);
        move || log.commit().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(waiter.await.unwrap().unwrap(), committed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_iterator_follows_background_commits() {
    let (dev, meta) = mem_devices();
    let log = Arc::new(
        small(&dev, &meta)
            .commit_policy(CommitPolicy::EveryInterval(Duration::from_millis(2)))
            .open()
            .unwrap(),
    );
    let mut iter = log.iter();
    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < 300 {
            let entry = iter.next_async().await.unwrap().unwrap();
            seqs.push(identify(entry.payload).1);
        }
        seqs
    });
    for seq in 0..300 {
        log.enqueue(&payload(0, seq, 0, 100)).unwrap();
        if seq % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }
    let seqs = tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seqs, (0..300).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_iterator_ends_when_the_log_is_dropped() {
    let (dev, meta) = mem_devices();
    let log = small(&dev, &meta).open().unwrap();
    let mut iter = log.iter();
    let reader = tokio::spawn(async move { iter.next_async().await.unwrap().is_none() });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!reader.is_finished(), "woke without a commit");
    drop(log);
    let ended = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .unwrap()
        .unwrap();
    assert!(ended);
}
