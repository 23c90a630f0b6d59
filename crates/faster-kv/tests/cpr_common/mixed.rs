//! A mixed workload whose recovered state can be checked against commit points, with a
//! counter every session shares. Operation `i` of session `s` is, by a hash of `(s, i)`:
//! an upsert of the new key `(s, i)`, an increment of one of the session's own counters, or
//! an increment of the one shared counter. After recovery the keys present, each session's
//! counters and the shared counter must account for exactly the operations up to each
//! session's commit point (minus its excluded serials): the prefix property of CPR.

use std::collections::{BTreeSet, HashMap};

use faster_kv::{Completed, FasterKv, OpError, Outcome, Pinned, Session, SessionCommit};

use super::{COUNTERS, counter, key, value};

/// The counter every session increments.
pub(crate) const SHARED: u64 = u64::MAX;

/// SplitMix64's finalizer: every output bit depends on every input bit.
pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Upsert the key `(s, i)` with `value(s, i)`.
    Upsert,
    /// Add 1 to the session's counter `counter(s, i)`.
    Own,
    /// Add 1 to [`SHARED`].
    Shared,
}

/// Operation `serial` of session `session`.
pub(crate) fn op(session: u64, serial: u64) -> Op {
    match splitmix(session.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ serial) % 8 {
        0..=4 => Op::Upsert,
        5 | 6 => Op::Own,
        _ => Op::Shared,
    }
}

/// A session that runs operations: a plain [`Session`] (protecting itself for each one) or a
/// [`Pinned`] one.
pub(crate) trait Ops {
    fn upsert(&mut self, key: u64, value: u64) -> Result<(), OpError>;
    fn add(&mut self, key: u64) -> Result<u64, OpError>;
}

impl Ops for Session<u64, u64> {
    fn upsert(&mut self, key: u64, value: u64) -> Result<(), OpError> {
        Session::upsert(self, &key, &value)
    }
    fn add(&mut self, key: u64) -> Result<u64, OpError> {
        Session::add(self, &key, 1)
    }
}

impl Ops for Pinned<'_, u64, u64> {
    fn upsert(&mut self, key: u64, value: u64) -> Result<(), OpError> {
        Pinned::upsert(self, &key, &value)
    }
    fn add(&mut self, key: u64) -> Result<u64, OpError> {
        Pinned::add(self, &key, 1)
    }
}

/// Runs operation `serial` of session `s` (the session's next serial number must be `serial`).
pub(crate) fn run_mixed(session: &mut impl Ops, s: u64, serial: u64) {
    match op(s, serial) {
        Op::Upsert => session.upsert(key(s, serial), value(s, serial)).unwrap(),
        Op::Own => drop(session.add(counter(s, serial)).unwrap()),
        Op::Shared => drop(session.add(SHARED).unwrap()),
    }
}

/// A violation of the prefix property.
#[derive(Debug)]
pub(crate) struct Violation {
    /// The session it concerns and the first serial number found wrong (or the commit
    /// point); `None` for the shared counter.
    pub(crate) session: Option<(u64, u64)>,
    pub(crate) message: String,
}

/// Checks the prefix property of the mixed workload. `ran` maps every session that may have
/// run to an upper bound of the serial numbers it ran; a session without a commit point must
/// have nothing in the store. Returns the first violation found.
pub(crate) fn check_mixed(
    store: &FasterKv<u64, u64>,
    commits: &[SessionCommit],
    ran: &HashMap<u64, u64>,
) -> Result<(), Violation> {
    let mut s = store.session().unwrap();
    let mut shared = 0;
    let mut ids: Vec<u64> = ran.keys().copied().collect();
    ids.extend(commits.iter().map(|c| c.id.get()));
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        let bound = ran.get(&id).copied().unwrap_or(0);
        let (commit, excluded) = match commits.iter().find(|c| c.id.get() == id) {
            Some(c) => (c.serial.get(), c.excluded.iter().map(|s| s.get()).collect()),
            None => (0, BTreeSet::new()),
        };
        if commit > bound {
            return Err(Violation {
                session: Some((id, commit)),
                message: format!(
                    "session {id}: commit point {commit} beyond the {bound} operations it may \
                     have run"
                ),
            });
        }
        let mut own = 0;
        let mut upserts = Vec::new();
        for serial in 1..=bound {
            let included = serial <= commit && !excluded.contains(&serial);
            match op(id, serial) {
                Op::Own => own += u64::from(included),
                Op::Shared => shared += u64::from(included),
                Op::Upsert => upserts.push(serial),
            }
        }
        let keys: Vec<u64> = upserts.iter().map(|&serial| key(id, serial)).collect();
        let mut missing = Vec::new();
        let mut extra = Vec::new();
        for (serial, got) in upserts.into_iter().zip(read_many(&mut s, &keys)) {
            let included = serial <= commit && !excluded.contains(&serial);
            if included && got != Some(value(id, serial)) {
                missing.push((serial, got));
            } else if !included && got.is_some() {
                extra.push(serial);
            }
        }
        let counters: Vec<u64> = (0..COUNTERS).map(|c| counter(id, c)).collect();
        let counted: u64 = read_many(&mut s, &counters).into_iter().flatten().sum();
        if missing.is_empty() && extra.is_empty() && counted == own {
            continue;
        }
        let first = missing.first().map(|m| m.0);
        let first = first.into_iter().chain(extra.first().copied()).min();
        return Err(Violation {
            session: Some((id, first.unwrap_or(commit))),
            message: format!(
                "session {id} (commit {commit}, excluded {excluded:?}, ran at most {bound}): \
                 {} upserts up to the commit point missing or wrong ({}), \
                 {} upserts after it present ({}); own counters {counted}, expected {own}",
                missing.len(),
                span(missing.iter().map(|m| m.0)),
                extra.len(),
                span(extra.iter().copied()),
            ),
        });
    }
    let got = s.read(&SHARED).unwrap().unwrap_or(0);
    if got != shared {
        return Err(Violation {
            session: None,
            message: format!(
                "shared counter {got}, expected {shared} (the sum of the sessions' increments \
                 up to their commit points)"
            ),
        });
    }
    Ok(())
}

/// Reads `keys`, many device reads in flight at a time.
pub(crate) fn read_many(session: &mut Session<u64, u64>, keys: &[u64]) -> Vec<Option<u64>> {
    let mut values = vec![None; keys.len()];
    for (chunk_index, chunk) in keys.chunks(256).enumerate() {
        let base = chunk_index * 256;
        let mut pinned = session.pin();
        let mut waiting = HashMap::new();
        for (i, key) in chunk.iter().enumerate() {
            match pinned.start_read(key).unwrap() {
                Outcome::Ready(value) => values[base + i] = value,
                Outcome::Pending(serial) => drop(waiting.insert(serial, base + i)),
            }
        }
        for done in pinned.complete_pending(true) {
            let Ok(Completed::Read(value)) = done.result else {
                panic!("read {}: {:?}", done.serial, done.result);
            };
            values[waiting.remove(&done.serial).unwrap()] = value;
        }
        assert!(waiting.is_empty(), "reads never completed: {waiting:?}");
    }
    values
}

/// `first..=last` of a list of serial numbers (or "none").
fn span(mut serials: impl Iterator<Item = u64>) -> String {
    let Some(first) = serials.next() else {
        return "none".into();
    };
    let last = serials.last().unwrap_or(first);
    format!("serials {first}..={last}")
}
