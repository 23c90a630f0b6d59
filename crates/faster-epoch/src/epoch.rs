//! The shared epoch state: the global epoch, the slot table and the list of deferred actions.
//!
//! The protocol is written once in the crate documentation (rules E1–E7); the code below
//! cites those rules where the orderings matter.

use crossbeam_utils::CachePadded;

use crate::EpochError;
use crate::handle::Handle;
use crate::sync::{Arc, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering, fence, lock};

/// The value of a slot's local epoch while its owner is not protected.
pub(crate) const UNPROTECTED: u64 = 0;

/// The epoch a fresh [`Epoch`] starts in. It is above [`UNPROTECTED`] so that a protected slot
/// can never hold the value that means "not protected".
const FIRST_EPOCH: u64 = 1;

/// Default number of slots in the table: comfortably above the thread counts a store sees,
/// small enough that a scan of the table (done only when actions are pending) stays cheap.
pub const DEFAULT_CAPACITY: usize = 128;

/// One slot of the table, owned by at most one [`Handle`] at a time (rule E1).
#[derive(Debug)]
pub(crate) struct Slot {
    /// The epoch the owner is protected in, or [`UNPROTECTED`].
    pub(crate) local: AtomicU64,
    /// Whether a handle owns this slot.
    pub(crate) owned: AtomicBool,
    /// A value the owner publishes for others to check; see [`Handle::set_marker`].
    pub(crate) marker: AtomicU64,
}

impl Slot {
    fn new() -> Self {
        Self {
            local: AtomicU64::new(UNPROTECTED),
            owned: AtomicBool::new(false),
            marker: AtomicU64::new(0),
        }
    }
}

/// An action deferred by [`Epoch::bump_with`] until its trigger epoch is safe.
struct Deferred {
    /// The epoch that was current before the bump: the action may run once every slot has
    /// left it (the safe epoch is at least `trigger`).
    trigger: u64,
    action: Box<dyn FnOnce() + Send + 'static>,
}

/// Epoch protection for one data structure (a log, an index, a store).
///
/// Threads register to obtain a [`Handle`], protect themselves with a [`Guard`](crate::Guard)
/// while they read shared memory, and refresh it from time to time. Writers that unlink memory
/// call [`bump_with`](Self::bump_with) with the action that frees it; the action runs once no
/// thread can still hold a reference obtained before the bump. See the crate documentation for
/// the protocol.
pub struct Epoch {
    /// The global epoch (rule E2). Starts at [`FIRST_EPOCH`], only increases.
    current: CachePadded<AtomicU64>,
    /// The largest epoch known to be safe: no protected slot holds it or any older one.
    safe_to_reclaim: CachePadded<AtomicU64>,
    /// Number of deferred actions not yet run; the fast paths read only this word.
    pending: CachePadded<AtomicUsize>,
    /// Deferred actions. Locked only when `pending > 0`, never while an action runs (rule E5).
    deferred: Mutex<Vec<Deferred>>,
    /// The smallest trigger among the deferred actions (`u64::MAX` when there are none),
    /// written under `deferred`'s lock: a drain whose safe epoch is below it has nothing to
    /// run and does not take the lock (rule E5).
    earliest: CachePadded<AtomicU64>,
    /// One past the highest slot index ever claimed. [`Epoch::register`] claims the lowest
    /// free slot, so this stays near the number of handles alive at once, and a scan for the
    /// oldest protected epoch stops here: slots above were never owned (rule E3).
    high_water: CachePadded<AtomicUsize>,
    slots: Box<[CachePadded<Slot>]>,
}

impl std::fmt::Debug for Epoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Epoch")
            .field("current", &self.current())
            .field("safe_to_reclaim", &self.safe_to_reclaim())
            .field("pending_actions", &self.pending_actions())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl Epoch {
    /// Creates an epoch with [`DEFAULT_CAPACITY`] slots.
    pub fn new() -> Arc<Self> {
        Self::build(DEFAULT_CAPACITY)
    }

    /// Creates an epoch whose table holds `capacity` slots: at most `capacity` handles can be
    /// registered at once.
    ///
    /// # Errors
    /// [`EpochError::InvalidCapacity`] when `capacity` is zero.
    pub fn with_capacity(capacity: usize) -> Result<Arc<Self>, EpochError> {
        if capacity == 0 {
            return Err(EpochError::InvalidCapacity { capacity });
        }
        Ok(Self::build(capacity))
    }

    fn build(capacity: usize) -> Arc<Self> {
        let slots = (0..capacity)
            .map(|_| CachePadded::new(Slot::new()))
            .collect();
        Arc::new(Self {
            current: CachePadded::new(AtomicU64::new(FIRST_EPOCH)),
            safe_to_reclaim: CachePadded::new(AtomicU64::new(FIRST_EPOCH - 1)),
            pending: CachePadded::new(AtomicUsize::new(0)),
            deferred: Mutex::new(Vec::new()),
            earliest: CachePadded::new(AtomicU64::new(u64::MAX)),
            high_water: CachePadded::new(AtomicUsize::new(0)),
            slots,
        })
    }

    /// The number of slots in the table.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Claims a free slot for the calling thread (rule E1).
    ///
    /// The slot is released when the [`Handle`] drops, so a thread that exits frees its slot
    /// and a later thread reuses it.
    ///
    /// # Errors
    /// [`EpochError::TableFull`] when every slot is owned. It never blocks waiting for one.
    pub fn register(self: &Arc<Self>) -> Result<Handle, EpochError> {
        let n = self.slots.len();
        for (index, slot) in self.slots.iter().enumerate() {
            // Acquire pairs with the Release in `release_slot`: the previous owner's last
            // writes to the slot happen before ours.
            if slot
                .owned
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // Rule E3: raised before the new owner can publish an epoch in the slot, so a
                // scanner that could miss the slot could also miss that publication.
                self.high_water.fetch_max(index + 1, Ordering::SeqCst);
                return Ok(Handle::new(Arc::clone(self), index));
            }
        }
        Err(EpochError::TableFull { capacity: n })
    }

    /// The slot at `index`. Only handles call this, with the index they own.
    pub(crate) fn slot(&self, index: usize) -> &Slot {
        &self.slots[index]
    }

    /// Returns slot `index` to the free pool (rule E1). Called by the owning handle's drop.
    pub(crate) fn release_slot(&self, index: usize) {
        self.publish_unprotected(index);
        let slot = &self.slots[index];
        slot.marker.store(0, Ordering::Relaxed);
        slot.owned.store(false, Ordering::Release);
        self.drain_if_pending();
    }

    /// The current global epoch.
    pub fn current(&self) -> u64 {
        self.current.load(Ordering::Acquire)
    }

    /// Loads the global epoch for a thread that is about to protect itself (rule E3).
    pub(crate) fn load_current_for_protect(&self) -> u64 {
        self.current.load(Ordering::Acquire)
    }

    /// The largest epoch known to be safe (every action triggered at or below it may run).
    /// It is recomputed by [`try_drain`](Self::try_drain) and whenever actions are pending.
    pub fn safe_to_reclaim(&self) -> u64 {
        self.safe_to_reclaim.load(Ordering::Acquire)
    }

    /// Whether `epoch` is known to be safe: no protected thread is still in it or older.
    pub fn is_safe(&self, epoch: u64) -> bool {
        epoch <= self.safe_to_reclaim()
    }

    /// Number of deferred actions that have not run yet.
    pub fn pending_actions(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Advances the global epoch and returns the new value.
    pub fn bump(&self) -> u64 {
        let next = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.drain_if_pending();
        next
    }

    /// Advances the global epoch and defers `action` until every thread that was protected
    /// before the bump has refreshed or unprotected (rule E4). Returns the new epoch.
    ///
    /// The action runs exactly once, on whichever thread next finds it safe: this one (if no
    /// thread is protected in an older epoch), or a thread that refreshes, unprotects or
    /// drains later. It runs outside every lock of the epoch, so it may itself bump.
    pub fn bump_with(&self, action: impl FnOnce() + Send + 'static) -> u64 {
        let trigger = self.current.fetch_add(1, Ordering::SeqCst);
        {
            let mut deferred = lock(&self.deferred);
            deferred.push(Deferred {
                trigger,
                action: Box::new(action),
            });
            self.earliest.fetch_min(trigger, Ordering::SeqCst);
            // Counted after the push and under the lock: a drainer that sees the count
            // finds the entry and its trigger (rule E5).
            self.pending.fetch_add(1, Ordering::SeqCst);
        }
        self.try_drain();
        trigger + 1
    }

    /// Runs the deferred actions if any are pending. The fast paths call this.
    #[inline]
    pub(crate) fn drain_if_pending(&self) {
        if self.pending.load(Ordering::Acquire) > 0 {
            self.try_drain();
        }
    }

    /// Recomputes the safe epoch and runs every deferred action it allows; returns how many ran.
    ///
    /// Threads that wait for an action (rather than refreshing a guard) call this in their loop.
    pub fn try_drain(&self) -> usize {
        let safe = self.compute_safe_to_reclaim();
        // Rule E5: nothing deferred is ready yet; the thread that holds the oldest action back
        // drains again when it refreshes or leaves.
        if self.earliest.load(Ordering::SeqCst) > safe {
            return 0;
        }
        let ready: Vec<Deferred> = {
            let mut deferred = lock(&self.deferred);
            if deferred.is_empty() {
                return 0;
            }
            let mut ready = Vec::new();
            let mut i = 0;
            while i < deferred.len() {
                if deferred[i].trigger <= safe {
                    ready.push(deferred.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            let earliest = deferred.iter().map(|d| d.trigger).min().unwrap_or(u64::MAX);
            self.earliest.store(earliest, Ordering::SeqCst);
            self.pending.fetch_sub(ready.len(), Ordering::SeqCst);
            ready
        };
        let ran = ready.len();
        // Rule E5: actions run with no lock held, so an action may bump or drain again.
        for entry in ready {
            (entry.action)();
        }
        ran
    }

    /// Scans the table for the oldest protected epoch; everything below it is safe (rule E4).
    /// Lock-free: a fence, one load of the global epoch and one load per slot.
    fn compute_safe_to_reclaim(&self) -> u64 {
        // Rule E3: this fence pairs with the fence after a slot's store of its local epoch.
        fence(Ordering::SeqCst);
        let mut oldest = self.current.load(Ordering::SeqCst);
        let used = self.high_water.load(Ordering::SeqCst).min(self.slots.len());
        for slot in &self.slots[..used] {
            // Acquire pairs with the Release store of `UNPROTECTED` or of a newer epoch:
            // what the owner did under the old epoch happens before the actions we run.
            let local = slot.local.load(Ordering::Acquire);
            if local != UNPROTECTED && local < oldest {
                oldest = local;
            }
        }
        let safe = oldest - 1;
        self.safe_to_reclaim.fetch_max(safe, Ordering::AcqRel);
        safe
    }

    /// Whether every protected slot has published `marker` through [`Handle::set_marker`].
    ///
    /// Unprotected slots are not consulted: a thread that is not protected holds no reference
    /// into the structure and will observe the new state when it next protects itself. A state
    /// machine (the checkpoint phases) uses this to learn that every active thread has
    /// acknowledged a phase.
    pub fn all_protected_marked(&self, marker: u64) -> bool {
        fence(Ordering::SeqCst);
        self.slots.iter().all(|slot| {
            slot.local.load(Ordering::Acquire) == UNPROTECTED
                || slot.marker.load(Ordering::Acquire) == marker
        })
    }

    /// Number of handles currently registered.
    pub fn registered(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.owned.load(Ordering::Acquire))
            .count()
    }

    /// Number of registered handles that are protected right now.
    pub fn protected(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.local.load(Ordering::Acquire) != UNPROTECTED)
            .count()
    }

    /// Publishes `epoch` as the local epoch of slot `index` (rule E3).
    #[inline]
    pub(crate) fn publish_local(&self, index: usize, epoch: u64) {
        let slot = &self.slots[index];
        // Release: accesses made under an older local epoch happen before a scanner's
        // Acquire load that sees this newer value. The fence orders the store before every
        // later load of shared state (rule E3).
        slot.local.store(epoch, Ordering::Release);
        fence(Ordering::SeqCst);
    }

    /// Marks slot `index` unprotected (rule E3).
    ///
    /// The fence orders the store before the caller's next load of the pending count: a
    /// bumper increments that count and then scans the slots, so without the fence both
    /// sides could read the other's old value, and an action would wait for a thread that
    /// has already left (rule E5).
    #[inline]
    pub(crate) fn publish_unprotected(&self, index: usize) {
        self.slots[index]
            .local
            .store(UNPROTECTED, Ordering::Release);
        fence(Ordering::SeqCst);
    }
}

impl Drop for Epoch {
    fn drop(&mut self) {
        // No handle can exist (each holds an `Arc<Epoch>`), so no thread is protected: every
        // remaining action is safe and runs now, exactly once (rule E6).
        let deferred = std::mem::take(&mut *lock(&self.deferred));
        for entry in deferred {
            (entry.action)();
        }
    }
}
