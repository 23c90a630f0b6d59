//! The operations a store layered over faster-kv relies on: reads that tell deleted from
//! absent, RMWs that do not create, inserts checked against a chain mark, deletes that always
//! leave a tombstone, and compaction into another store.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::BTreeMap;

use common::small;
use faster_kv::{
    CompactError, CompactionSink, FasterKv, Layered, LayeredRmw, LiveRecord, MarkedWrite,
};

#[test]
fn reads_tell_deleted_from_absent_and_marks_guard_inserts() {
    let store: FasterKv<u64, u64> = small().open().unwrap();
    let mut s = store.session().unwrap();
    s.upsert(&1, &10).unwrap();
    s.upsert(&2, &20).unwrap();
    s.delete(&2).unwrap();
    assert_eq!(s.read_layered(&1).unwrap(), Layered::Value(10));
    assert_eq!(s.read_layered(&2).unwrap(), Layered::Deleted);
    let Layered::Absent(mark) = s.read_layered(&3).unwrap() else {
        panic!("key 3 is absent");
    };
    // An RMW that does not create leaves an absent key alone and gives the same kind of mark.
    let LayeredRmw::Absent(rmw_mark) = s
        .rmw_layered(&3, |v: Option<&u64>| v.map_or(1, |v| v + 1))
        .unwrap()
    else {
        panic!("key 3 is absent");
    };
    assert_eq!(s.read(&3).unwrap(), None);
    // Over a tombstone it runs from `None`; over a value, from the value.
    assert_eq!(
        s.rmw_layered(&2, |v: Option<&u64>| v.map_or(100, |v| v + 1))
            .unwrap(),
        LayeredRmw::Done(Some(100))
    );
    assert_eq!(
        s.rmw_layered(&1, |v: Option<&u64>| v.map_or(100, |v| v + 1))
            .unwrap(),
        LayeredRmw::Done(Some(11))
    );
    // Calls that found no record used no serial number; the one that ends the request does.
    let serial = s.serial();
    assert!(s.finish_at_mark(&3, MarkedWrite::Store(&30), mark).unwrap());
    assert_eq!(s.serial().get(), serial.get() + 1);
    assert_eq!(s.read(&3).unwrap(), Some(30));
    // The key was written since the RMW's mark was taken: the mark no longer holds, and
    // the failed call used no serial number either.
    let serial = s.serial();
    assert!(
        !s.finish_at_mark(&3, MarkedWrite::Store(&31), rmw_mark)
            .unwrap()
    );
    assert_eq!(s.serial(), serial);
    assert_eq!(s.read(&3).unwrap(), Some(30));
    let serial = s.serial();
    let Layered::Absent(mark) = s.read_layered(&5).unwrap() else {
        panic!("key 5 is absent");
    };
    assert_eq!(s.serial(), serial);
    assert!(s.finish_at_mark(&5, MarkedWrite::Nothing, mark).unwrap());
    assert_eq!(s.serial().get(), serial.get() + 1);
    // A layered delete of an absent key leaves a tombstone.
    s.delete_layered(&4).unwrap();
    assert_eq!(s.read_layered(&4).unwrap(), Layered::Deleted);
}

/// A sink that keeps what it is given, and can be told to fail.
#[derive(Default)]
struct Collect {
    records: BTreeMap<u64, Option<u64>>,
    persisted: bool,
    fail: bool,
}

impl CompactionSink for Collect {
    fn accept(
        &mut self,
        records: &[LiveRecord<'_>],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if self.fail {
            return Err("the target is full".into());
        }
        for r in records {
            let key = u64::from_le_bytes(r.key.try_into().unwrap());
            let value = r.value.map(|v| u64::from_le_bytes(v.try_into().unwrap()));
            assert!(self.records.insert(key, value).is_none(), "key {key} twice");
        }
        Ok(())
    }

    fn persist(&mut self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.persisted = true;
        Ok(())
    }
}

#[test]
fn compaction_into_another_store_hands_over_exactly_the_live_records() {
    let store: FasterKv<u64, u64> = small().open().unwrap();
    let mut s = store.session().unwrap();
    for k in 0..3_000 {
        s.upsert(&k, &k).unwrap();
    }
    for k in (0..3_000).step_by(3) {
        s.upsert(&k, &(k + 1)).unwrap();
    }
    for k in (1..3_000).step_by(3) {
        s.delete(&k).unwrap();
    }
    drop(s);
    let until = store.regions().safe_read_only;
    // A failing sink: nothing moves.
    let mut failing = Collect {
        fail: true,
        ..Collect::default()
    };
    let begin = store.regions().begin;
    assert!(matches!(
        store.compact_into(until, &mut failing),
        Err(CompactError::Sink(_))
    ));
    assert_eq!(store.regions().begin, begin);
    let mut sink = Collect::default();
    let report = store.compact_into(until, &mut sink).unwrap();
    assert!(sink.persisted);
    assert!(report.until > begin);
    assert_eq!(report.copied, sink.records.len() as u64);
    let mut s = store.session().unwrap();
    for k in 0..3_000u64 {
        let want = match k % 3 {
            0 => Some(k + 1),
            1 => None,
            _ => Some(k),
        };
        match s.read_layered(&k).unwrap() {
            // Still here: its newest record lies above `until`, and was not handed over.
            Layered::Value(v) => {
                assert_eq!(Some(v), want, "key {k}");
                assert!(
                    !sink.records.contains_key(&k),
                    "key {k} handed over and kept"
                );
            }
            Layered::Deleted => {
                assert_eq!(want, None, "key {k}");
                assert!(
                    !sink.records.contains_key(&k),
                    "key {k} handed over and kept"
                );
            }
            // Gone: handed over with its newest value (a tombstone for deleted keys).
            Layered::Absent(_) => assert_eq!(sink.records.get(&k), Some(&want), "key {k}"),
        }
    }
    assert!(!sink.records.is_empty());
}
