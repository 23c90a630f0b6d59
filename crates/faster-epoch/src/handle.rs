//! A thread's registration ([`Handle`]) and its protection ([`Guard`]).

use std::cell::Cell;
use std::marker::PhantomData;

use crate::epoch::{Epoch, UNPROTECTED};
use crate::sync::{Arc, Ordering};

/// A registered slot of an [`Epoch`] table, owned by one thread at a time.
///
/// A handle is `Send` (it may move to another thread between uses) but not `Sync`: the slot
/// describes one thread's protection. Dropping the handle unprotects and frees the slot
/// (rule E1).
pub struct Handle {
    epoch: Arc<Epoch>,
    index: usize,
    /// Number of live guards of this handle; the slot is protected while it is non-zero.
    depth: Cell<u32>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("slot", &self.index)
            .field("depth", &self.depth.get())
            .field("local_epoch", &self.local_epoch())
            .finish()
    }
}

impl Handle {
    pub(crate) fn new(epoch: Arc<Epoch>, index: usize) -> Self {
        Self {
            epoch,
            index,
            depth: Cell::new(0),
        }
    }

    /// The epoch this handle is registered with.
    pub fn epoch(&self) -> &Arc<Epoch> {
        &self.epoch
    }

    /// The index of the slot this handle owns.
    pub fn slot_index(&self) -> usize {
        self.index
    }

    /// The epoch this handle is protected in, or `None` when it is not protected.
    pub fn local_epoch(&self) -> Option<u64> {
        let local = self.epoch.slot(self.index).local.load(Ordering::Relaxed);
        (local != UNPROTECTED).then_some(local)
    }

    /// Whether a guard of this handle is alive.
    pub fn is_protected(&self) -> bool {
        self.depth.get() > 0
    }

    /// Protects the thread: until the guard drops, no action deferred after this point runs
    /// (rule E4). Guards nest; the slot stays protected until the outermost one drops.
    #[inline]
    pub fn protect(&self) -> Guard<'_> {
        self.enter();
        Guard {
            handle: Owner::Borrowed(self),
            _not_send: PhantomData,
        }
    }

    /// Like [`protect`](Self::protect), but the guard owns the handle: for protection that
    /// lives inside another structure (a log scan, say). [`Guard::into_handle`] gives the
    /// handle back, unprotected.
    pub fn into_guard(self) -> Guard<'static> {
        self.enter();
        Guard {
            handle: Owner::Owned(self),
            _not_send: PhantomData,
        }
    }

    fn enter(&self) {
        let depth = self.depth.get();
        if depth == 0 {
            let current = self.epoch.load_current_for_protect();
            self.epoch.publish_local(self.index, current);
        }
        self.depth.set(depth + 1);
    }

    /// Publishes `marker` in this handle's slot, for [`Epoch::all_protected_marked`].
    pub fn set_marker(&self, marker: u64) {
        self.epoch
            .slot(self.index)
            .marker
            .store(marker, Ordering::Release);
    }

    /// The marker last published by this handle.
    pub fn marker(&self) -> u64 {
        self.epoch.slot(self.index).marker.load(Ordering::Relaxed)
    }

    fn release_guard(&self) {
        let depth = self.depth.get();
        debug_assert!(depth > 0, "a guard outlived its protection count");
        self.depth.set(depth - 1);
        if depth == 1 {
            self.epoch.publish_unprotected(self.index);
            self.epoch.drain_if_pending();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Guards borrow the handle, so none is alive here — but one may have been leaked with
        // `mem::forget`. Releasing the slot clears its protection either way (rule E1).
        self.epoch.release_slot(self.index);
    }
}

/// Proof that the thread is protected: references read from the protected structure stay
/// valid while the guard lives, and no longer.
///
/// A guard is neither `Send` nor `Sync`: its protection belongs to its handle's slot.
pub struct Guard<'h> {
    handle: Owner<'h>,
    /// Keeps the guard on its thread even if `Handle` were ever made `Sync`.
    _not_send: PhantomData<*const ()>,
}

impl std::fmt::Debug for Guard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("epoch", &self.epoch())
            .finish()
    }
}

/// The handle behind a guard: borrowed from the caller or owned by the guard.
enum Owner<'h> {
    Borrowed(&'h Handle),
    Owned(Handle),
}

impl Guard<'_> {
    /// The handle this guard protects.
    #[inline]
    pub fn handle(&self) -> &Handle {
        match &self.handle {
            Owner::Borrowed(handle) => handle,
            Owner::Owned(handle) => handle,
        }
    }

    /// Unprotects and returns the handle if this guard owns it ([`Handle::into_guard`]);
    /// a borrowed guard just unprotects and returns `None`.
    pub fn into_handle(self) -> Option<Handle> {
        let this = std::mem::ManuallyDrop::new(self);
        this.handle().release_guard();
        // SAFETY: rule E7 — `this` is a `ManuallyDrop` that is neither used nor dropped after
        // this read, so the owner is moved out exactly once and the guard's own drop (which
        // would release the protection a second time) never runs.
        let owner = unsafe { std::ptr::read(&this.handle) };
        match owner {
            Owner::Owned(handle) => Some(handle),
            Owner::Borrowed(_) => None,
        }
    }

    /// The epoch the thread is protected in.
    pub fn epoch(&self) -> u64 {
        let handle = self.handle();
        handle
            .epoch
            .slot(handle.index)
            .local
            .load(Ordering::Relaxed)
    }

    /// The shared [`Epoch`].
    pub fn shared(&self) -> &Arc<Epoch> {
        &self.handle().epoch
    }

    /// Moves the protection to the current epoch and runs any deferred actions that became
    /// safe. Returns the epoch the thread is now protected in.
    ///
    /// Taking `&mut self` ends every borrow obtained through this guard: after a refresh, memory
    /// unlinked before it may be reclaimed. When guards are nested, only the outermost may
    /// move the epoch (an inner refresh would pull the protection from under the outer
    /// guard's borrows), so on an inner guard this only drains.
    #[inline]
    pub fn refresh(&mut self) -> u64 {
        let handle = self.handle();
        let epoch = &handle.epoch;
        if handle.depth.get() == 1 {
            let current = epoch.load_current_for_protect();
            if current != self.epoch() {
                epoch.publish_local(handle.index, current);
            }
        }
        epoch.drain_if_pending();
        self.epoch()
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // An owned handle is dropped after this, as a field: it then frees its slot.
        self.handle().release_guard();
    }
}
