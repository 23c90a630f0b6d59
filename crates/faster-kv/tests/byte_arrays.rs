//! Byte arrays of any length are plain-old-data keys and values: written, read back from
//! memory and from the device, and updated by read-modify-write.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use faster_kv::{Codec, FasterKv};

/// A store of four 4 KiB pages in memory, the rest on an in-memory device.
fn small<K: Codec + ?Sized, V: Codec + ?Sized>() -> FasterKv<K, V> {
    FasterKv::builder()
        .in_memory()
        .page_size_bits(12)
        .memory_budget(4 << 12)
        .index_buckets(1 << 8)
        .open()
        .unwrap()
}

/// `N` bytes that differ for every `seed` and at every position.
fn pattern<const N: usize>(seed: u64) -> [u8; N] {
    let mut out = [0u8; N];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for byte in &mut out {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *byte = x.to_le_bytes()[0];
    }
    out
}

/// Key `k` of the three-byte key space.
fn key3(k: u32) -> [u8; 3] {
    let [a, b, c, _] = k.to_le_bytes();
    [a, b, c]
}

#[test]
fn arrays_of_unlisted_lengths_are_codecs_with_their_size() {
    assert_eq!(<[u8; 33]>::FIXED_SIZE, Some(33));
    assert_eq!(<[u8; 100]>::FIXED_SIZE, Some(100));
    assert_eq!(
        <[u8; 3]>::descriptor().to_string(),
        "[u8; 3] (pod, 3 bytes, align 1)"
    );
    assert_eq!(
        <[u8; 1000]>::descriptor().to_string(),
        "[u8; 1000] (pod, 1000 bytes, align 1)"
    );
}

#[test]
fn keys_of_33_bytes_and_values_of_100_read_back_from_memory_and_the_device() {
    let store: FasterKv<[u8; 33], [u8; 100]> = small();
    let mut s = store.session().unwrap();
    let n = 2_000u64;
    for k in 0..n {
        s.upsert(&pattern(k), &pattern(k + 1_000_000)).unwrap();
    }
    // 2,000 records of 160 bytes are twenty times the four pages in memory.
    let regions = store.regions();
    assert!(
        regions.head.raw() > 200_000,
        "most records are on the device: {regions:?}"
    );

    let before = store.stats().device_reads;
    for k in 0..n {
        assert_eq!(
            s.read(&pattern(k)).unwrap(),
            Some(pattern(k + 1_000_000)),
            "key {k}"
        );
    }
    let device_reads = store.stats().device_reads - before;
    assert!(
        device_reads > 1_000,
        "the older keys came from the device: {device_reads}"
    );
    assert_eq!(s.read(&pattern(n + 1)).unwrap(), None);

    // Read-modify-write of a key whose record is on the device (the first one) and of one in
    // memory (the last one): the old value reaches the update intact.
    for k in [0, n - 1] {
        let new = s
            .rmw(&pattern(k), |old: Option<&[u8; 100]>| {
                let mut v = *old.unwrap();
                v.reverse();
                v
            })
            .unwrap();
        let mut expected = pattern::<100>(k + 1_000_000);
        expected.reverse();
        assert_eq!(new, Some(expected), "key {k}");
        assert_eq!(s.read(&pattern(k)).unwrap(), Some(expected), "key {k}");
    }
}

#[test]
fn values_of_1000_bytes_read_back_from_memory_and_the_device() {
    let store: FasterKv<u64, [u8; 1000]> = small();
    let mut s = store.session().unwrap();
    let n = 200u64;
    for k in 0..n {
        s.upsert(&k, &pattern(k)).unwrap();
    }
    // Four records a page: 50 pages, of which four are in memory.
    let regions = store.regions();
    assert!(
        regions.head.raw() > 100_000,
        "most records are on the device: {regions:?}"
    );
    let before = store.stats().device_reads;
    for k in 0..n {
        assert_eq!(s.read(&k).unwrap(), Some(pattern(k)), "key {k}");
    }
    assert!(store.stats().device_reads - before > 100);

    // An update of every byte, in place for the newest keys and by copy for the others.
    for k in 0..n {
        let new = s
            .rmw(&k, |old: Option<&[u8; 1000]>| {
                old.unwrap().map(|b| b ^ 0xff)
            })
            .unwrap();
        assert_eq!(new, Some(pattern(k).map(|b| b ^ 0xff)), "key {k}");
    }
    for k in (0..n).step_by(3) {
        assert_eq!(
            s.read(&k).unwrap(),
            Some(pattern(k).map(|b| b ^ 0xff)),
            "key {k}"
        );
    }
}

#[test]
fn three_byte_keys_read_back_and_count_from_memory_and_the_device() {
    let store: FasterKv<[u8; 3], u64> = small();
    let mut s = store.session().unwrap();
    let n = 5_000u32;
    for k in 0..n {
        s.upsert(&key3(k), &u64::from(k)).unwrap();
    }
    let regions = store.regions();
    assert!(
        regions.head.raw() > 50_000,
        "most records are on the device: {regions:?}"
    );
    let before = store.stats().device_reads;
    for k in 0..n {
        assert_eq!(s.read(&key3(k)).unwrap(), Some(u64::from(k)), "key {k}");
    }
    assert!(store.stats().device_reads - before > 1_000);
    // Keys that differ only in their last byte are distinct.
    assert_eq!(s.read(&[0, 0, 1]).unwrap(), None);
    assert_eq!(s.read(&key3(1 << 16)).unwrap(), None);

    for k in 0..n {
        assert_eq!(s.add(&key3(k), 10).unwrap(), u64::from(k) + 10, "key {k}");
    }
    let doubled = s
        .rmw(&key3(7), |old: Option<&u64>| old.unwrap() * 2)
        .unwrap();
    assert_eq!(doubled, Some(34));
    assert_eq!(s.read(&key3(n - 1)).unwrap(), Some(u64::from(n - 1) + 10));
}
