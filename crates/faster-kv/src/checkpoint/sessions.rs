//! What a checkpoint needs to know of every session: its commit point (rule R9).
//!
//! Each session publishes, in a [`SessionShared`] the store can read, the serial number of its
//! last finished operation, the version its operations belong to, the commit point it recorded
//! at its last move to a newer version, and the serial numbers of its operations still waiting
//! for the device. The checkpoint of version `v` takes, for each session:
//!
//! - if its operations still belong to `v` or older (it was idle through the version change):
//!   its last finished serial, minus its pending operations — serial read first, version
//!   second, so that a session that moves on between the two reads is never credited with an
//!   operation of a newer version;
//! - if it moved past `v`: the commit point recorded at the move that crossed `v`. A move may
//!   skip versions (a session idle through a whole checkpoint wakes in the middle of the next
//!   one and goes from `v - 1` straight to `v + 1`), so a move from `from` to `to` answers for
//!   every version in `[from, to)`;
//! - if it started in a version newer than `v` (created, or continued after recovery, while
//!   the checkpoint of `v` was past its version change): the serial it started from.
//!
//! During the checkpoint of `v` a session crosses `v` at most once: the next version change
//! belongs to the next checkpoint, which cannot begin before this one has read its commit
//! points. So the last recorded move is the one that answers.
//!
//! Versions are compared by their wrapping difference, so a store that takes more than 2^32
//! checkpoints keeps ordering them correctly.
//!
//! The table of sessions ([`SessionTable`]) moves a session between "live" and "ended" under
//! one lock, and a new session reads the version it starts in under that lock too, so that a
//! checkpoint collecting commit points sees every session exactly once, in a consistent state.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use faster_cpr::{Serial, SessionCommit, SessionId};

use crate::sync::lock;

/// Whether version `a` is newer than version `b`.
#[inline]
pub(crate) fn newer(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// A move from version `from` to version `to`, and the commit point it recorded.
#[derive(Debug, Clone)]
struct Move {
    from: u32,
    commit: SessionCommit,
}

/// A session's state as checkpoints see it.
#[derive(Debug)]
pub(crate) struct SessionShared {
    pub(crate) id: SessionId,
    /// Serial number of the last operation that finished or went pending.
    serial: AtomicU64,
    /// The version the session's operations belong to.
    version: AtomicU32,
    /// The version the session started in, and its commit point for every older version: the
    /// serial it started from, with the serials a recovered commit point excluded.
    born: (u32, SessionCommit),
    /// The last move to a newer version.
    moved: Mutex<Option<Move>>,
    /// Serial numbers of operations waiting for the device (a set: thousands may be in flight
    /// and finish in any order).
    pending: Mutex<BTreeSet<Serial>>,
}

impl SessionShared {
    /// A session starting in `version` from the commit point `start` (serial 0 and nothing
    /// excluded for a new session; the recovered commit point for a continued one).
    pub(crate) fn new(start: SessionCommit, version: u32) -> Self {
        Self {
            id: start.id,
            serial: AtomicU64::new(start.serial.get()),
            version: AtomicU32::new(version),
            born: (version, start),
            moved: Mutex::new(None),
            pending: Mutex::new(BTreeSet::new()),
        }
    }

    /// The version the session started in and the serial it started from.
    pub(crate) fn start(&self) -> (u32, Serial) {
        (self.born.0, self.born.1.serial)
    }

    /// Publishes that operation `serial` finished (or went pending).
    #[inline]
    pub(crate) fn finished(&self, serial: Serial) {
        self.serial.store(serial.get(), Ordering::Release);
    }

    pub(crate) fn add_pending(&self, serial: Serial) {
        lock(&self.pending).insert(serial);
    }

    pub(crate) fn remove_pending(&self, serial: Serial) {
        lock(&self.pending).remove(&serial);
    }

    /// The commit point as of now, with `completed` the last finished serial.
    pub(crate) fn commit_now(&self, completed: Serial) -> SessionCommit {
        let mut excluded: Vec<Serial> = self.born.1.excluded.clone();
        excluded.extend(lock(&self.pending).range(..=completed).copied());
        excluded.sort_unstable();
        excluded.dedup();
        SessionCommit {
            id: self.id,
            serial: completed,
            excluded,
        }
    }

    /// Records the move from `old` to `new` with the commit point of `old` (rule R9), then
    /// publishes the new version.
    pub(crate) fn switch(&self, old: u32, new: u32, completed: Serial) {
        let commit = self.commit_now(completed);
        *lock(&self.moved) = Some(Move { from: old, commit });
        self.version.store(new, Ordering::Release);
    }

    /// This session's commit point for the checkpoint of `version` (see the module docs).
    pub(crate) fn commit_for(&self, version: u32) -> SessionCommit {
        let serial = Serial::new(self.serial.load(Ordering::Acquire));
        let current = self.version.load(Ordering::Acquire);
        if !newer(current, version) {
            return self.commit_now(serial);
        }
        match lock(&self.moved).as_ref() {
            Some(m) if !newer(m.from, version) => m.commit.clone(),
            // Started after `version`, and any move since is from a version newer than it.
            _ => self.born.1.clone(),
        }
    }
}

/// A session that is not live: ended in this process (its frozen state), or restored by
/// recovery (its recovered commit point).
#[derive(Debug)]
enum Ended {
    Dropped(Arc<SessionShared>),
    Recovered(SessionCommit),
}

impl Ended {
    fn commit_for(&self, version: u32) -> SessionCommit {
        match self {
            Self::Dropped(shared) => shared.commit_for(version),
            Self::Recovered(commit) => commit.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct Sessions {
    live: HashMap<SessionId, Weak<SessionShared>>,
    ended: HashMap<SessionId, Ended>,
    /// The number of the next new session.
    next_id: u64,
}

/// Why [`SessionTable::start`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartRefused {
    /// `max_sessions` sessions are live.
    Full,
    /// The session asked for is live or unknown.
    Unknown,
}

/// The store's table of sessions: live ones, and ended or recovered ones (so that a later
/// checkpoint still records their commit points).
#[derive(Debug)]
pub(crate) struct SessionTable {
    inner: Mutex<Sessions>,
    max_live: usize,
}

impl SessionTable {
    pub(crate) fn new(max_live: usize) -> Self {
        Self {
            inner: Mutex::new(Sessions {
                next_id: 1,
                ..Sessions::default()
            }),
            max_live,
        }
    }

    /// The most sessions that may be live at once.
    pub(crate) fn max_live(&self) -> usize {
        self.max_live
    }

    /// Registers a live session: a new one (`id` `None`) or the continuation of ended or
    /// recovered session `id`. `version` reads the version it starts in; it is called under
    /// the table's lock, so a checkpoint collecting commit points sees the session either not
    /// yet started (and then the session starts in the new version) or started with the
    /// version it read.
    pub(crate) fn start(
        &self,
        id: Option<SessionId>,
        version: impl FnOnce() -> u32,
    ) -> Result<Arc<SessionShared>, StartRefused> {
        let mut sessions = lock(&self.inner);
        if sessions.live.len() >= self.max_live {
            return Err(StartRefused::Full);
        }
        let version = version();
        let start = match id {
            None => {
                let id = SessionId::new(sessions.next_id);
                sessions.next_id += 1;
                SessionCommit {
                    id,
                    serial: Serial::default(),
                    excluded: Vec::new(),
                }
            }
            Some(id) => {
                if sessions.live.contains_key(&id) {
                    return Err(StartRefused::Unknown);
                }
                sessions
                    .ended
                    .remove(&id)
                    .ok_or(StartRefused::Unknown)?
                    .commit_for(version)
            }
        };
        let shared = Arc::new(SessionShared::new(start, version));
        sessions.live.insert(shared.id, Arc::downgrade(&shared));
        Ok(shared)
    }

    /// A session ended: keep its (now frozen) state for later checkpoints.
    pub(crate) fn ended(&self, shared: Arc<SessionShared>) {
        let mut sessions = lock(&self.inner);
        sessions.live.remove(&shared.id);
        sessions.ended.insert(shared.id, Ended::Dropped(shared));
    }

    /// Sessions restored by recovery, to be continued or carried into later checkpoints.
    pub(crate) fn restore(&self, commits: &[SessionCommit]) {
        let mut sessions = lock(&self.inner);
        for c in commits {
            sessions.ended.insert(c.id, Ended::Recovered(c.clone()));
        }
        let max = commits.iter().map(|c| c.id.get()).max().unwrap_or(0);
        sessions.next_id = sessions.next_id.max(max + 1);
    }

    /// Every session's commit point for the checkpoint of `version`, sorted by id.
    pub(crate) fn commits(&self, version: u32) -> Vec<SessionCommit> {
        let sessions = lock(&self.inner);
        let mut commits: Vec<SessionCommit> = sessions
            .ended
            .values()
            .map(|ended| ended.commit_for(version))
            .chain(
                sessions
                    .live
                    .values()
                    .filter_map(Weak::upgrade)
                    .map(|shared| shared.commit_for(version)),
            )
            .collect();
        commits.sort_by_key(|c| c.id);
        commits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(id: u64) -> SessionCommit {
        SessionCommit {
            id: SessionId::new(id),
            serial: Serial::default(),
            excluded: Vec::new(),
        }
    }

    fn serial(n: u64) -> Serial {
        Serial::new(n)
    }

    #[test]
    fn a_move_that_skips_a_version_answers_for_every_version_it_skipped() {
        let s = SessionShared::new(fresh(1), 3);
        s.finished(serial(10));
        // Idle through the whole checkpoint of 3 and woken in the middle of that of 4.
        s.switch(3, 5, serial(10));
        s.finished(serial(17));
        assert_eq!(s.commit_for(3).serial, serial(10));
        assert_eq!(s.commit_for(4).serial, serial(10));
        assert_eq!(s.commit_for(5).serial, serial(17));
    }

    #[test]
    fn a_session_started_after_the_version_change_commits_where_it_started() {
        let start = SessionCommit {
            id: SessionId::new(4),
            serial: serial(100),
            excluded: vec![serial(97)],
        };
        let s = SessionShared::new(start.clone(), 8);
        s.finished(serial(160));
        assert_eq!(s.commit_for(7), start);
        s.switch(8, 9, serial(160));
        assert_eq!(s.commit_for(7), start);
        assert_eq!(s.commit_for(8).serial, serial(160));
        assert_eq!(
            s.commit_for(8).excluded,
            vec![serial(97)],
            "recovered exclusions stay"
        );
    }

    #[test]
    fn versions_compare_across_the_wrap() {
        assert!(newer(0, u32::MAX));
        assert!(newer(5, 3));
        assert!(!newer(3, 5));
        assert!(!newer(7, 7));
        let s = SessionShared::new(fresh(1), u32::MAX);
        s.finished(serial(5));
        s.switch(u32::MAX, 0, serial(5));
        s.finished(serial(9));
        assert_eq!(s.commit_for(u32::MAX).serial, serial(5));
        assert_eq!(s.commit_for(0).serial, serial(9));
    }

    #[test]
    fn the_table_refuses_more_than_its_live_sessions_and_unknown_continuations() {
        let table = SessionTable::new(2);
        let a = table.start(None, || 1).unwrap();
        let _b = table.start(None, || 1).unwrap();
        assert_eq!(table.start(None, || 1).unwrap_err(), StartRefused::Full);
        assert_eq!(
            table.start(Some(a.id), || 1).unwrap_err(),
            StartRefused::Full
        );
        table.ended(Arc::clone(&a));
        drop(a);
        assert_eq!(
            table.start(Some(SessionId::new(99)), || 1).unwrap_err(),
            StartRefused::Unknown
        );
        let again = table.start(Some(SessionId::new(1)), || 2).unwrap();
        assert_eq!(again.id, SessionId::new(1));
        assert_eq!(
            table
                .commits(1)
                .iter()
                .map(|c| c.id.get())
                .collect::<Vec<_>>(),
            vec![1, 2]
        );
    }
}
