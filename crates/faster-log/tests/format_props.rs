//! Property tests of the two on-disk formats: what is encoded decodes to the same value, any
//! flipped byte of an entry or a commit record is rejected, and arbitrary bytes never panic
//! the parsers.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use faster_log::commit_record::{CommitRecord, MAX_ITERATOR_NAME_LEN};
use faster_log::entry::{EntryKind, encode_entry, entry_size, parse_entry};
use proptest::prelude::*;

fn record() -> impl Strategy<Value = CommitRecord> {
    let names = proptest::collection::btree_map("[a-z0-9_.-]{1,40}", 0u64..1 << 45, 0..8);
    (
        any::<u64>(),
        1u64..u64::MAX,
        0u64..1 << 44,
        0u64..1 << 44,
        0u64..1 << 44,
        12u8..=30,
        any::<bool>(),
        names,
    )
        .prop_filter("the low 32 bits of a generation are not zero", |r| {
            r.1 as u32 != 0
        })
        .prop_map(|(sequence, generation, a, b, c, bits, fast, names)| {
            let mut addresses = [a * 8, b * 8, c * 8];
            addresses.sort();
            CommitRecord {
                sequence,
                generation,
                begin: addresses[0],
                prev_until: addresses[1],
                until: addresses[2],
                page_size_bits: bits,
                fast,
                iterators: names.into_iter().collect(),
            }
        })
}

proptest! {
    #[test]
    fn commit_records_round_trip(record in record()) {
        let bytes = record.encode();
        prop_assert!(record.iterators.iter().all(|(n, _)| n.len() <= MAX_ITERATOR_NAME_LEN));
        prop_assert_eq!(CommitRecord::decode(&bytes), Ok(record));
    }

    #[test]
    fn a_flipped_commit_record_byte_is_rejected(
        record in record(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut bytes = record.encode();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        prop_assert!(CommitRecord::decode(&bytes).is_err());
    }

    #[test]
    fn entries_round_trip_and_reject_flips(
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        slot in 8u64..1 << 40,
        generation in 1u32..,
        commit in any::<bool>(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let address = slot * 8;
        let kind = if commit { EntryKind::Commit } else { EntryKind::Data };
        let mut bytes = vec![0; entry_size(payload.len())];
        encode_entry(&mut bytes, address, kind, generation, &payload);
        let entry = parse_entry(address, &bytes).unwrap().unwrap();
        prop_assert_eq!(entry.payload, &payload[..]);
        prop_assert_eq!(entry.kind, kind);
        prop_assert_eq!(entry.generation, generation);
        let i = at.index(16 + payload.len());
        bytes[i] ^= 1 << bit;
        prop_assert!(parse_entry(address, &bytes).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parsers(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        slot in 0u64..1 << 45,
    ) {
        match parse_entry(slot * 8, &bytes) {
            // No entry: only where a header would be all zeros (a page's end).
            Ok(None) => prop_assert!(bytes.iter().take(16).all(|&b| b == 0)),
            Ok(Some(entry)) => prop_assert!(entry.size <= bytes.len()),
            Err(_) => {}
        }
        prop_assert!(parse_entry(slot * 8 + 3, &bytes).is_err(), "a misaligned entry parsed");
        let _ = CommitRecord::decode(&bytes);
    }
}
