//! Snapshots: round trips through devices of different sector sizes, and rejection of every
//! kind of damage with an error rather than a panic.
#![allow(
    clippy::unwrap_used,
    reason = "helpers of these tests unwrap what the test itself set up"
)]

mod common;

use std::sync::Arc;

use common::{TestLog, at, hash_with_tag};
use faster_device::{Device, DeviceExt, MemDevice};
use faster_epoch::Epoch;
use faster_index::{
    Address, Entry, HashIndex, IndexConfig, IndexError, KeyHash, SNAPSHOT_HEADER_BYTES,
    SnapshotError, SnapshotPart, parse_snapshot_header,
};
use twox_hash::XxHash3_64;

/// An index of one bucket holding 30 keys over 20 tags (so two overflow buckets), with its log.
fn populated(epoch: &Arc<Epoch>) -> (HashIndex, Arc<TestLog>, Vec<(KeyHash, Address)>) {
    let index = HashIndex::new(IndexConfig::default().buckets(1), Arc::clone(epoch)).unwrap();
    let log = TestLog::with_capacity(256);
    let handle = epoch.register().unwrap();
    let guard = handle.protect();
    let keys = (0..30u64)
        .map(|i| {
            let hash = hash_with_tag(i, (i % 20) as u16);
            (hash, log.upsert(&index, hash, &guard).unwrap())
        })
        .collect();
    drop(guard);
    (index, log, keys)
}

/// The bytes of a snapshot of `index` written to a fresh device with `sector_size`.
fn snapshot_bytes(index: &HashIndex, epoch: &Arc<Epoch>, sector_size: usize) -> Vec<u8> {
    let device = MemDevice::builder()
        .sector_size(sector_size)
        .build()
        .unwrap();
    let handle = epoch.register().unwrap();
    let guard = handle.protect();
    let info = index.write_snapshot(&device, 0, &guard).unwrap();
    let mut bytes = vec![0u8; info.bytes as usize];
    device.read_blocking(0, &mut bytes).unwrap();
    bytes
}

#[test]
fn snapshot_round_trip_restores_every_entry_on_devices_of_several_sector_sizes() {
    let epoch = Epoch::new();
    let (index, log, keys) = populated(&epoch);
    let handle = epoch.register().unwrap();
    for sector_size in [512, 4096] {
        let device = MemDevice::builder()
            .sector_size(sector_size)
            .build()
            .unwrap();
        let offset = 8 * sector_size as u64;
        let info = {
            let guard = handle.protect();
            index.write_snapshot(&device, offset, &guard).unwrap()
        };
        assert_eq!(info.buckets, 1);
        assert_eq!(info.overflow_buckets, 2);
        assert_eq!(info.bytes % sector_size as u64, 0);
        let restored = HashIndex::read_snapshot(&device, offset, Arc::clone(&epoch)).unwrap();
        let guard = handle.protect();
        let (before, after) = (
            index.stats(&guard),
            restored.check_invariants(&guard).unwrap(),
        );
        assert_eq!(after.used_entries, before.used_entries);
        assert_eq!(after.overflow_buckets, before.overflow_buckets);
        for &(hash, address) in &keys {
            assert_eq!(log.lookup(&restored, hash, &guard).unwrap(), Some(address));
        }
    }
}

#[test]
fn snapshot_bytes_restore_the_same_index_as_the_device() {
    let epoch = Epoch::new();
    let (index, log, keys) = populated(&epoch);
    let bytes = snapshot_bytes(&index, &epoch, 512);
    let header = parse_snapshot_header(&bytes).unwrap();
    assert_eq!(header.total_length(), bytes.len() as u64);
    let restored = HashIndex::from_snapshot_bytes(&bytes, Arc::clone(&epoch)).unwrap();
    let handle = epoch.register().unwrap();
    let guard = handle.protect();
    for &(hash, address) in &keys {
        assert_eq!(log.lookup(&restored, hash, &guard).unwrap(), Some(address));
    }
}

#[test]
fn flipping_any_header_byte_or_sampled_data_byte_is_an_error_never_a_panic() {
    let epoch = Epoch::new();
    let (index, _log, _keys) = populated(&epoch);
    let bytes = snapshot_bytes(&index, &epoch, 512);
    let header = parse_snapshot_header(&bytes).unwrap();
    let data_offset = header.data_offset as usize;
    // The whole header sector, padding included, then every 7th byte of the data and its
    // padding.
    let positions = (0..data_offset).chain((data_offset..bytes.len()).step_by(7));
    for position in positions {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut damaged = bytes.clone();
            damaged[position] ^= flip;
            let result = HashIndex::from_snapshot_bytes(&damaged, Arc::clone(&epoch));
            assert!(
                matches!(result, Err(IndexError::Snapshot(_))),
                "flip {flip:#x} at byte {position} was accepted"
            );
        }
    }
}

#[test]
fn damaged_fields_are_named_in_the_error() {
    let epoch = Epoch::new();
    let (index, _log, _keys) = populated(&epoch);
    let bytes = snapshot_bytes(&index, &epoch, 512);
    let error = |bytes: &[u8]| match HashIndex::from_snapshot_bytes(bytes, Arc::clone(&epoch)) {
        Err(IndexError::Snapshot(e)) => e,
        other => panic!("expected a snapshot error, got {other:?}"),
    };

    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert!(matches!(error(&bad), SnapshotError::BadMagic { .. }));

    let mut bad = bytes.clone();
    bad[8] = 2;
    assert!(matches!(
        error(&bad),
        SnapshotError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    ));

    let mut bad = bytes.clone();
    bad[30] ^= 1;
    assert!(matches!(
        error(&bad),
        SnapshotError::ChecksumMismatch {
            part: SnapshotPart::Header,
            ..
        }
    ));

    let mut bad = bytes.clone();
    bad[512 + 3] ^= 1;
    assert!(matches!(
        error(&bad),
        SnapshotError::ChecksumMismatch {
            part: SnapshotPart::Data,
            ..
        }
    ));

    let mut bad = bytes.clone();
    bad[100] = 1;
    assert!(matches!(error(&bad), SnapshotError::Corrupt { .. }));
}

#[test]
fn truncated_snapshots_are_errors() {
    let epoch = Epoch::new();
    let (index, _log, _keys) = populated(&epoch);
    let bytes = snapshot_bytes(&index, &epoch, 512);
    for len in [
        0,
        1,
        8,
        63,
        64,
        100,
        511,
        512,
        600,
        bytes.len() - 64,
        bytes.len() - 1,
    ] {
        let result = HashIndex::from_snapshot_bytes(&bytes[..len], Arc::clone(&epoch));
        assert!(
            matches!(
                result,
                Err(IndexError::Snapshot(SnapshotError::Truncated { .. }))
            ),
            "a snapshot cut to {len} bytes gave {result:?}"
        );
    }
    assert!(matches!(
        parse_snapshot_header(&bytes[..10]),
        Err(SnapshotError::Truncated {
            needed: 64,
            available: 10
        })
    ));
    // On a device the missing bytes read as zeros: the checksum catches them.
    let device = MemDevice::new();
    device.write_blocking(0, &bytes[..512]).unwrap();
    assert!(HashIndex::read_snapshot(&device, 0, Arc::clone(&epoch)).is_err());
}

/// Rewrites bucket words of a snapshot (table bucket 0 is `bucket` 0, overflow bucket `n` is
/// `bucket` n) and fixes both checksums, to build snapshots that are valid but unusual.
fn patch(bytes: &mut [u8], bucket: usize, word: usize, value: u64) {
    let header = parse_snapshot_header(bytes).unwrap();
    let at = header.data_offset as usize + bucket * 64 + word * 8;
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    let data = &bytes[header.data_offset as usize..][..header.data_length as usize];
    let checksum = XxHash3_64::oneshot(data);
    bytes[48..56].copy_from_slice(&checksum.to_le_bytes());
    let header_checksum = XxHash3_64::oneshot(&bytes[..56]);
    bytes[56..64].copy_from_slice(&header_checksum.to_le_bytes());
}

#[test]
fn restoring_drops_tentative_entries_and_later_duplicates_of_a_tag() {
    let epoch = Epoch::new();
    let index = HashIndex::new(IndexConfig::default().buckets(1), Arc::clone(&epoch)).unwrap();
    let mut bytes = snapshot_bytes(&index, &epoch, 512);
    patch(&mut bytes, 0, 0, Entry::new(at(640), 7).raw());
    patch(&mut bytes, 0, 1, Entry::new(at(720), 7).raw());
    patch(&mut bytes, 0, 2, Entry::new(at(800), 9).raw() | 1 << 63);
    let restored = HashIndex::from_snapshot_bytes(&bytes, Arc::clone(&epoch)).unwrap();
    let handle = epoch.register().unwrap();
    let guard = handle.protect();
    let stats = restored.check_invariants(&guard).unwrap();
    assert_eq!(stats.used_entries, 1);
    assert_eq!(stats.tentative_entries, 0);
    let found = restored.find(KeyHash(7 << 48), &guard).unwrap().unwrap();
    assert_eq!(found.address(), at(640));
    assert!(restored.find(KeyHash(9 << 48), &guard).unwrap().is_none());
}

#[test]
fn overflow_links_out_of_range_or_shared_are_corrupt() {
    let epoch = Epoch::new();
    let (index, _log, _keys) = populated(&epoch);
    let bytes = snapshot_bytes(&index, &epoch, 512);
    let corrupt = |bytes: &[u8]| {
        matches!(
            HashIndex::from_snapshot_bytes(bytes, Arc::clone(&epoch)),
            Err(IndexError::Snapshot(SnapshotError::Corrupt { .. }))
        )
    };
    // The table bucket links to 1 and 1 to 2; make 2 link back to 1 (a cycle), or out of range,
    // or set the reserved bit of an entry.
    let mut cycle = bytes.clone();
    patch(&mut cycle, 2, 7, 1);
    assert!(corrupt(&cycle));
    let mut out_of_range = bytes.clone();
    patch(&mut out_of_range, 1, 7, 3);
    assert!(corrupt(&out_of_range));
    let mut reserved = bytes.clone();
    patch(&mut reserved, 0, 0, Entry::new(at(640), 1).raw() | 1 << 62);
    assert!(corrupt(&reserved));
}

#[test]
fn snapshots_are_refused_while_a_growth_prepares() {
    let epoch = Epoch::new();
    let index =
        Arc::new(HashIndex::new(IndexConfig::default().buckets(4), Arc::clone(&epoch)).unwrap());
    let handle = epoch.register().unwrap();
    let guard = handle.protect();
    let grower = {
        let (index, epoch) = (index.clone(), epoch.clone());
        std::thread::spawn(move || {
            let handle = epoch.register().unwrap();
            let mut guard = handle.protect();
            index.grow(
                &mut guard,
                Arc::new(|_| faster_index::RecordLookup::OnDevice),
            )
        })
    };
    while !index.stats(&guard).growing {
        std::thread::yield_now();
    }
    let device = MemDevice::new();
    assert!(matches!(
        index.write_snapshot(&device, 0, &guard),
        Err(IndexError::GrowInProgress)
    ));
    drop(guard);
    assert_eq!(grower.join().unwrap().unwrap(), 8);
    let guard = handle.protect();
    assert!(index.write_snapshot(&device, 0, &guard).is_ok());
    assert!(device.geometry().sector_size > 0);
}

#[test]
fn header_parser_survives_arbitrary_bytes() {
    let mut state = 0x1234_5678u64;
    for len in 0..200 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state = common::mix(state);
                state as u8
            })
            .collect();
        assert!(parse_snapshot_header(&bytes).is_err());
    }
    assert_eq!(SNAPSHOT_HEADER_BYTES, 64);
}
