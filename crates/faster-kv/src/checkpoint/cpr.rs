//! [`Cpr`], the store's checkpoint machinery, and [`DirtyPages`], the pages an incremental
//! snapshot must copy. Built here from the store's settings; its rules for operations are in
//! [`super::rules`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_utils::CachePadded;
use faster_cpr::{CheckpointDir, CheckpointMeta, StateMachine};
use faster_epoch::Epoch;
use faster_hlog::Address;

use super::run::Run;
use super::sessions::SessionTable;
use crate::store_dir::Identity;
use crate::sync::lock;

/// The start of the version change when none is under way: the last address, where no record
/// starts (records are 8-byte aligned), so that no record counts as of the next version.
pub(crate) const NO_START: Address = Address::MAX;

/// What the checkpoint machinery of a store starts from.
pub(crate) struct CprParts {
    pub(crate) epoch: Arc<Epoch>,
    /// The version operations belong to at first (the recovered one, or 1).
    pub(crate) version: u32,
    pub(crate) dir: Option<CheckpointDir>,
    /// The newest complete checkpoint, when the store was recovered from one.
    pub(crate) last: Option<CheckpointMeta>,
    pub(crate) max_sessions: usize,
    pub(crate) retention: usize,
    /// Page frames of the log (one dirty flag each).
    pub(crate) frames: u64,
    pub(crate) snapshot_buffer: u64,
    pub(crate) identity: Identity,
}

/// The store's checkpoint machinery.
pub(crate) struct Cpr {
    pub(crate) machine: StateMachine,
    pub(crate) sessions: SessionTable,
    pub(crate) dir: Option<CheckpointDir>,
    pub(crate) run: Mutex<Option<Arc<Run>>>,
    /// The worker threads started, joined when the store closes.
    pub(crate) workers: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// The tail when the version change of the checkpoint in progress began (records of the
    /// new version lie at or above it); [`NO_START`] when none is in progress.
    pub(crate) start: AtomicU64,
    pub(crate) next_token: AtomicU64,
    /// Complete checkpoints kept on disk (older ones are removed).
    pub(crate) retention: usize,
    /// The newest complete checkpoint (for index reuse and incremental chains).
    pub(crate) last: Mutex<Option<faster_cpr::CheckpointMeta>>,
    pub(crate) dirty: DirtyPages,
    /// While a snapshot checkpoint of version `v` copies the log, the address below which it
    /// has copied (or, incremental, skipped as unchanged) every page: version-`v + 1` sessions
    /// may update version-`v` records below it in place (rule R12). 0 outside that copy: it
    /// starts at 0 and each run sets it back to 0 when it reaches rest (`cpr_finish`), before
    /// the next run can start.
    pub(crate) captured: AtomicU64,
    /// Bytes a snapshot copies ahead of its file writes
    /// ([`FasterKvBuilder::snapshot_buffer`](crate::FasterKvBuilder::snapshot_buffer)).
    pub(crate) snapshot_buffer: u64,
    /// The identities every checkpoint records.
    pub(crate) identity: Identity,
    /// Log and index checkpoints that completed / failed since the store opened.
    pub(crate) completed: AtomicU64,
    pub(crate) failed: AtomicU64,
}

impl Cpr {
    pub(crate) fn current_run(&self) -> Option<Arc<Run>> {
        lock(&self.run).clone()
    }
}

impl Cpr {
    pub(crate) fn new(parts: CprParts) -> Self {
        let next_token = match &parts.dir {
            Some(dir) => dir
                .tokens()
                .ok()
                .and_then(|t| t.last().copied())
                .map_or(1, |t| t.get() + 1),
            None => 1,
        };
        Self {
            machine: StateMachine::new(parts.epoch, parts.version),
            sessions: SessionTable::new(parts.max_sessions),
            dir: parts.dir,
            run: Mutex::new(None),
            workers: Mutex::new(Vec::new()),
            start: AtomicU64::new(NO_START.raw()),
            next_token: AtomicU64::new(next_token),
            retention: parts.retention,
            last: Mutex::new(parts.last),
            dirty: DirtyPages::new(parts.frames),
            captured: AtomicU64::new(0),
            snapshot_buffer: parts.snapshot_buffer,
            identity: parts.identity,
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }
}

/// Which pages changed in place since the last snapshot, for incremental snapshots: one flag
/// per page frame, holding the number of the page that was updated (rule R10).
///
/// At rest an in-place update marks its page only if the flag does not name it already (one
/// load, rarely a store). While a checkpoint is in progress — the only time a snapshot copies
/// pages — updates store the flag unconditionally after writing (release), and the copier
/// clears a page's flag with a swap (acquire) *before* copying it: an update either happened
/// before the swap, and the copy sees it, or re-marks the page for the next increment.
pub(crate) struct DirtyPages {
    flags: Box<[CachePadded<AtomicU64>]>,
    mask: u64,
}

const CLEAN: u64 = u64::MAX;

impl DirtyPages {
    pub(crate) fn new(frames: u64) -> Self {
        Self {
            flags: (0..frames)
                .map(|_| CachePadded::new(AtomicU64::new(CLEAN)))
                .collect(),
            mask: frames - 1,
        }
    }

    #[inline]
    pub(crate) fn mark(&self, page: u64, always: bool) {
        let flag = &self.flags[(page & self.mask) as usize];
        if always || flag.load(Ordering::Relaxed) != page {
            flag.store(page, Ordering::Release);
        }
    }

    /// Clears `page`'s mark; returns whether it was marked.
    pub(crate) fn take(&self, page: u64) -> bool {
        let flag = &self.flags[(page & self.mask) as usize];
        flag.compare_exchange(page, CLEAN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}
