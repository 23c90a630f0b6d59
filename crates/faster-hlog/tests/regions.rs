//! A state machine of allocations, refreshes, read-only shifts, drains and truncations on a
//! four-page log: after every step the region invariants (rule H1) hold, no region moved
//! back, and every record that was written and not truncated reads back exactly.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use common::{mem_log, read_back, record, write_at};
use faster_hlog::{Address, Regions};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    /// Allocate and write a record of this many payload bytes.
    Append(usize),
    Refresh,
    FlushToTail,
    Drain,
    /// Move begin to this fraction (per mille) of the way from begin to flushed-until.
    ShiftBegin(u16),
    /// Read back the record with this index (modulo the number written).
    ReadBack(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0usize..2000).prop_map(Step::Append),
        2 => Just(Step::Refresh),
        1 => Just(Step::FlushToTail),
        1 => Just(Step::Drain),
        1 => (0u16..=1000).prop_map(Step::ShiftBegin),
        2 => any::<usize>().prop_map(Step::ReadBack),
    ]
}

fn check_order(r: &Regions) {
    assert!(r.begin <= r.head, "begin <= head: {r:?}");
    assert!(r.safe_head <= r.head, "safe_head <= head: {r:?}");
    assert!(r.head <= r.flushed_until, "head <= flushed_until: {r:?}");
    assert!(
        r.flushed_until <= r.safe_read_only,
        "flushed <= safe_ro: {r:?}"
    );
    assert!(r.safe_read_only <= r.read_only, "safe_ro <= ro: {r:?}");
    assert!(r.read_only <= r.tail, "ro <= tail: {r:?}");
}

fn check_forward(before: &Regions, after: &Regions) {
    let pairs = [
        (before.begin, after.begin, "begin"),
        (before.safe_head, after.safe_head, "safe_head"),
        (before.head, after.head, "head"),
        (before.flushed_until, after.flushed_until, "flushed_until"),
        (
            before.safe_read_only,
            after.safe_read_only,
            "safe_read_only",
        ),
        (before.read_only, after.read_only, "read_only"),
        (before.tail, after.tail, "tail"),
    ];
    for (b, a, name) in pairs {
        assert!(a >= b, "{name} moved back from {b} to {a}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn regions_keep_their_order_and_records_survive(steps in prop::collection::vec(step(), 1..150)) {
        let log = mem_log(12, 4);
        let handle = log.epoch().register().unwrap();
        let mut guard = handle.protect();
        let mut written: Vec<(Address, Vec<u8>)> = Vec::new();
        let mut before = log.regions();
        check_order(&before);
        for step in steps {
            match step {
                Step::Append(payload) => {
                    let bytes = record(0, written.len() as u64, payload);
                    let mut attempts = 0;
                    let address = loop {
                        if let Some(a) = log.try_allocate(bytes.len() as u64, &guard).unwrap() {
                            break a;
                        }
                        attempts += 1;
                        assert!(attempts < 100, "allocation made no progress: {:?}", log.regions());
                        guard.refresh();
                    };
                    write_at(&log, address, &bytes);
                    written.push((address, bytes));
                }
                Step::Refresh => { guard.refresh(); }
                Step::FlushToTail => { log.shift_read_only_to_tail(); }
                Step::Drain => { log.epoch().try_drain(); }
                Step::ShiftBegin(per_mille) => {
                    let r = log.regions();
                    let span = r.flushed_until.raw() - r.begin.raw();
                    let target = r.begin.raw() + span * u64::from(per_mille) / 1000;
                    log.shift_begin(Address::new(target).unwrap()).unwrap();
                }
                Step::ReadBack(i) => {
                    if !written.is_empty() {
                        let (address, bytes) = &written[i % written.len()];
                        if *address >= log.begin_address() {
                            // Read outside our guard's protection window is fine: read_back
                            // protects itself; our guard may hold the epoch back, not forward.
                            prop_assert_eq!(&read_back(&log, *address, bytes.len()), bytes);
                        }
                    }
                }
            }
            let after = log.regions();
            check_order(&after);
            check_forward(&before, &after);
            before = after;
        }
    }
}
