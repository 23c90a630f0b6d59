//! What a checkpoint needs to know of every session: its commit point (rule R9).
//!
//! Each session publishes, in a [`SessionShared`] the store can read, the serial number of its
//! last finished operation, the version its operations belong to, the commit point it recorded
//! when it moved to a new version, and the serial numbers of its operations still waiting for
//! the device. The checkpoint of version `v` takes, for each session:
//!
//! - if the session moved past `v`: the commit point it recorded at that move;
//! - otherwise (it was idle through the version change): its last finished serial, minus its
//!   pending operations — read serial first, version second, so that a session that moves on
//!   between the two reads is never credited with an operation of `v + 1`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use faster_cpr::SessionCommit;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A session's state as checkpoints see it.
#[derive(Debug)]
pub(crate) struct SessionShared {
    pub(crate) id: u64,
    /// Serial number of the last operation that finished or went pending.
    serial: AtomicU64,
    /// The version the session's operations belong to.
    version: AtomicU32,
    /// `(old version, commit point)` recorded at the last version change.
    switched: Mutex<Option<(u32, SessionCommit)>>,
    /// Serial numbers of operations waiting for the device.
    pending: Mutex<Vec<u64>>,
}

impl SessionShared {
    pub(crate) fn new(id: u64, serial: u64, version: u32) -> Self {
        Self {
            id,
            serial: AtomicU64::new(serial),
            version: AtomicU32::new(version),
            switched: Mutex::new(None),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Publishes that operation `serial` finished (or went pending).
    #[inline]
    pub(crate) fn finished(&self, serial: u64) {
        self.serial.store(serial, Ordering::Release);
    }

    pub(crate) fn add_pending(&self, serial: u64) {
        lock(&self.pending).push(serial);
    }

    pub(crate) fn remove_pending(&self, serial: u64) {
        lock(&self.pending).retain(|&s| s != serial);
    }

    /// The commit point as of now, with `completed` the last finished serial.
    pub(crate) fn commit_now(&self, completed: u64) -> SessionCommit {
        SessionCommit {
            id: self.id,
            serial: completed,
            excluded: lock(&self.pending)
                .iter()
                .copied()
                .filter(|&s| s <= completed)
                .collect(),
        }
    }

    /// Records the move from `old` to `new` with the commit point of `old` (rule R9), then
    /// publishes the new version.
    pub(crate) fn switch(&self, old: u32, new: u32, completed: u64) {
        let commit = self.commit_now(completed);
        *lock(&self.switched) = Some((old, commit));
        self.version.store(new, Ordering::Release);
    }

    /// This session's commit point for the checkpoint of `version`.
    pub(crate) fn commit_for(&self, version: u32) -> SessionCommit {
        let serial = self.serial.load(Ordering::Acquire);
        let current = self.version.load(Ordering::Acquire);
        if current != version
            && let Some((old, commit)) = lock(&self.switched).as_ref()
            && *old == version
        {
            return commit.clone();
        }
        self.commit_now(serial)
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

/// The store's table of sessions: live ones, and ended or recovered ones (so that a later
/// checkpoint still records their commit points).
#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    live: Mutex<HashMap<u64, Weak<SessionShared>>>,
    ended: Mutex<HashMap<u64, Ended>>,
    next_id: AtomicU64,
}

impl SessionTable {
    pub(crate) fn new(first_id: u64) -> Self {
        Self {
            next_id: AtomicU64::new(first_id),
            ..Self::default()
        }
    }

    pub(crate) fn fresh_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn register(&self, shared: &Arc<SessionShared>) {
        let mut live = lock(&self.live);
        live.retain(|_, w| w.strong_count() > 0);
        live.insert(shared.id, Arc::downgrade(shared));
    }

    /// A session ended: keep its (now frozen) state for later checkpoints.
    pub(crate) fn ended(&self, shared: Arc<SessionShared>) {
        lock(&self.live).remove(&shared.id);
        lock(&self.ended).insert(shared.id, Ended::Dropped(shared));
    }

    /// Sessions restored by recovery, to be continued or carried into later checkpoints.
    pub(crate) fn restore(&self, commits: &[SessionCommit]) {
        let mut ended = lock(&self.ended);
        for c in commits {
            ended.insert(c.id, Ended::Recovered(c.clone()));
        }
        let max = commits.iter().map(|c| c.id).max().unwrap_or(0);
        self.next_id.fetch_max(max + 1, Ordering::Relaxed);
    }

    /// Takes an ended or recovered session's commit point (as of `version`) to continue it;
    /// `None` when the session is live or unknown.
    pub(crate) fn take_ended(&self, id: u64, version: u32) -> Option<SessionCommit> {
        if lock(&self.live)
            .get(&id)
            .is_some_and(|w| w.strong_count() > 0)
        {
            return None;
        }
        lock(&self.ended).remove(&id).map(|e| e.commit_for(version))
    }

    /// Every session's commit point for the checkpoint of `version`, sorted by id.
    pub(crate) fn commits(&self, version: u32) -> Vec<SessionCommit> {
        let mut out: HashMap<u64, SessionCommit> = lock(&self.ended)
            .iter()
            .map(|(&id, ended)| (id, ended.commit_for(version)))
            .collect();
        for shared in lock(&self.live).values().filter_map(Weak::upgrade) {
            out.insert(shared.id, shared.commit_for(version));
        }
        let mut commits: Vec<SessionCommit> = out.into_values().collect();
        commits.sort_by_key(|c| c.id);
        commits
    }
}
