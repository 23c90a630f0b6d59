//! Read-modify-writes whose old value lives only on the device, and values whose size changes
//! across the read-only boundary.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use faster_kv::{Completed, FasterKv, Outcome};

fn store<K: faster_kv::Codec + ?Sized, V: faster_kv::Codec + ?Sized>(
    dir: &std::path::Path,
) -> FasterKv<K, V> {
    FasterKv::builder()
        .dir(dir)
        .page_size_bits(12)
        .memory_budget(4 << 12)
        .segment_size(1 << 16)
        .index_buckets(1 << 8)
        .open()
        .unwrap()
}

fn push_to_device(s: &mut faster_kv::Session<u64, u64>, from: u64, n: u64) {
    for k in from..from + n {
        s.upsert(&k, &0).unwrap();
    }
}

#[test]
fn rmw_of_a_key_whose_only_record_is_on_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = store(dir.path());
    let mut s = store.session().unwrap();
    s.upsert(&7, &41).unwrap();
    let address_of_7 = store.regions().tail;
    push_to_device(&mut s, 1_000, 5_000);
    assert!(
        store.regions().head > address_of_7,
        "key 7 is on the device only"
    );
    let before = store.stats().device_reads;
    assert_eq!(s.add(&7, 1).unwrap(), 42);
    assert!(
        store.stats().device_reads > before,
        "the old value came from the device"
    );
    assert_eq!(s.read(&7).unwrap(), Some(42));

    // The same through the advanced API: pending, then completed — or, when the page cache
    // holds the record, completed at once from there (still a device read).
    push_to_device(&mut s, 10_000, 5_000);
    let before = store.stats().device_reads;
    match s
        .start_rmw(&7, |old: Option<&u64>| old.copied().unwrap_or(0) * 10)
        .unwrap()
    {
        Outcome::Pending(serial) => {
            let done = s.complete_pending(true);
            assert_eq!(done.len(), 1);
            assert_eq!(done[0].serial, serial);
            assert_eq!(done[0].result.as_ref().unwrap(), &Completed::Rmw(Some(420)));
        }
        Outcome::Ready(v) => {
            assert_eq!(v, Some(420));
            assert!(
                store.stats().device_reads > before,
                "not read from the device"
            );
        }
    }
    assert_eq!(s.read(&7).unwrap(), Some(420));
}

#[test]
fn rmw_of_an_absent_key_uses_the_initial_value() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = store(dir.path());
    let mut s = store.session().unwrap();
    push_to_device(&mut s, 0, 5_000); // many chains reach the device
    let initial = |old: Option<&u64>| match old {
        None => 99,
        Some(v) => v + 1,
    };
    assert_eq!(s.rmw(&1_000_000, initial).unwrap(), Some(99));
    assert_eq!(s.rmw(&1_000_000, initial).unwrap(), Some(100));
    s.delete(&1_000_000).unwrap();
    assert_eq!(
        s.rmw(&1_000_000, initial).unwrap(),
        Some(99),
        "a deleted key is absent"
    );
}

#[test]
fn variable_length_values_grow_and_shrink_across_the_read_only_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<str, [u8]> = store(dir.path());
    let mut s = store.session().unwrap();
    let mut expected: Vec<Vec<u8>> = vec![Vec::new(); 20];
    for round in 0..60usize {
        for (k, value) in expected.iter_mut().enumerate() {
            let key = format!("key-{k}");
            // Grow by a few bytes for a while, then shrink back: in place while the length
            // stays, copies when it changes, from memory, read-only pages or the device.
            let new_len = if round % 20 < 15 {
                value.len() + 13
            } else {
                value.len() / 3
            };
            let new: Vec<u8> = (0..new_len).map(|i| (i + round + k) as u8).collect();
            let stored = s
                .rmw(&key, |old: Option<&[u8]>| {
                    assert_eq!(old.unwrap_or(&[]), value.as_slice(), "old value of {key}");
                    new.clone()
                })
                .unwrap();
            assert_eq!(stored.as_ref(), Some(&new));
            *value = new;
        }
        // Same-length overwrites (in place when mutable).
        if round % 5 == 0 {
            for (k, value) in expected.iter().enumerate() {
                s.upsert(&format!("key-{k}"), value).unwrap();
            }
        }
    }
    for (k, value) in expected.iter().enumerate() {
        assert_eq!(s.read(&format!("key-{k}")).unwrap().as_ref(), Some(value));
    }
}

#[test]
fn oversized_records_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<[u8], [u8]> = store(dir.path());
    let mut s = store.session().unwrap();
    let big = vec![1u8; 5000];
    assert!(matches!(
        s.upsert(b"k", &big).map_err(faster_kv::OpError::into_kind),
        Err(faster_kv::OpErrorKind::RecordTooLarge { .. })
    ));
    assert!(matches!(
        s.upsert(&big, b"v").map_err(faster_kv::OpError::into_kind),
        Err(faster_kv::OpErrorKind::RecordTooLarge { .. })
    ));
    assert!(matches!(
        s.rmw(b"k", |_: Option<&[u8]>| vec![0u8; 5000])
            .map_err(faster_kv::OpError::into_kind),
        Err(faster_kv::OpErrorKind::RecordTooLarge { .. })
    ));
    // The store is still fine.
    s.upsert(b"k", b"v").unwrap();
    assert_eq!(s.read(b"k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn values_of_every_size_read_back_exactly_from_the_device() {
    // Device reads of buffered files read the guessed length of a record and no more: a
    // value longer than the guess needs the rest read again, one shorter than it must not
    // pick up its neighbour's bytes. Sizes 0 to 3,000 bytes (pages of 4 KiB hold each), on
    // keys of 1 and 40 bytes.
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<[u8], [u8]> = FasterKv::builder()
        .dir(dir.path())
        .page_size_bits(12)
        .memory_budget(4 << 12)
        .segment_size(1 << 16)
        .open()
        .unwrap();
    let mut s = store.session().unwrap();
    let key = |n: usize| -> Vec<u8> {
        let mut k = vec![(n % 251) as u8; if n.is_multiple_of(2) { 1 } else { 40 }];
        k.extend_from_slice(&(n as u32).to_le_bytes());
        k
    };
    let value = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 7 + n) as u8).collect() };
    let sizes: Vec<usize> = (0..300).chain((300..3000).step_by(37)).collect();
    for &n in &sizes {
        s.upsert(&key(n)[..], &value(n)[..]).unwrap();
    }
    // Push them all out of memory.
    for n in 0..2000u32 {
        s.upsert(&n.to_be_bytes()[..], &[0u8; 100][..]).unwrap();
    }
    let head = store.regions().head;
    let before = store.stats().device_reads;
    for &n in &sizes {
        assert_eq!(s.read(&key(n)[..]).unwrap(), Some(value(n)), "size {n}");
    }
    assert!(head.raw() > 0);
    assert!(
        store.stats().device_reads > before + sizes.len() as u64 / 2,
        "the values were read from the device"
    );
}
