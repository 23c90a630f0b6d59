//! Enqueueing (rule L2): one fetch-add on the hybrid log's tail reserves the bytes of an
//! entry, or of a whole batch; the payload is copied once, straight into the page frame; the
//! header follows. When the page ring is full, writers wait for flushes (back-pressure) or,
//! with `try_enqueue`, are told so.

use std::sync::atomic::Ordering;
use std::time::Duration;

use faster_hlog::Address;

use crate::entry::{ENTRY_HEADER_SIZE, EntryKind, entry_size, header, payload_hash};
use crate::error::EnqueueError;
use crate::log::{FasterLog, Inner};

impl FasterLog {
    /// Appends `payload` as one entry and returns its address. Blocks while the log's memory
    /// is full of pages not yet written to the device (back-pressure); never overwrites an
    /// unflushed page. Callable from any number of threads at once.
    ///
    /// The entry is in memory when this returns: [`FasterLog::commit`] makes it durable.
    ///
    /// # Errors
    /// [`EnqueueError::EntryTooLarge`] when the payload exceeds
    /// [`FasterLog::max_entry_size`]; [`EnqueueError::Poisoned`] after a failed commit;
    /// [`EnqueueError::Epoch`] when more threads than the builder's `max_threads` use the log.
    pub fn enqueue(&self, payload: &[u8]) -> Result<Address, EnqueueError> {
        self.inner
            .append(std::slice::from_ref(&payload), EntryKind::Data, true)?
            .ok_or(EnqueueError::Closed)
    }

    /// Like [`FasterLog::enqueue`], but returns `Ok(None)` instead of blocking when the
    /// memory is full: the caller may retry after [`FasterLog::commit`] or a while.
    ///
    /// # Errors
    /// As [`FasterLog::enqueue`].
    pub fn try_enqueue(&self, payload: &[u8]) -> Result<Option<Address>, EnqueueError> {
        self.inner
            .append(std::slice::from_ref(&payload), EntryKind::Data, false)
    }

    /// Appends the entries of `batch` contiguously, in order, and returns the address of the
    /// first; each next entry starts at the previous one's address plus
    /// [`entry_size`](crate::entry::entry_size) of its length. The batch is one allocation
    /// inside one page, so a commit includes all of it or none of it.
    ///
    /// # Errors
    /// [`EnqueueError::BatchTooLarge`] when the entries do not fit in one page,
    /// [`EnqueueError::EmptyBatch`], and the errors of [`FasterLog::enqueue`].
    pub fn enqueue_batch<P: AsRef<[u8]>>(&self, batch: &[P]) -> Result<Address, EnqueueError> {
        self.inner
            .append(batch, EntryKind::Data, true)?
            .ok_or(EnqueueError::Closed)
    }

    /// [`FasterLog::enqueue_batch`] that returns `Ok(None)` instead of blocking when the
    /// memory is full.
    ///
    /// # Errors
    /// As [`FasterLog::enqueue_batch`].
    pub fn try_enqueue_batch<P: AsRef<[u8]>>(
        &self,
        batch: &[P],
    ) -> Result<Option<Address>, EnqueueError> {
        self.inner.append(batch, EntryKind::Data, false)
    }
}

impl Inner {
    /// Fails when the log is poisoned or closed.
    pub(crate) fn check_writable(&self) -> Result<(), EnqueueError> {
        if self.commits.is_poisoned()
            && let Some(cause) = self.commits.poison_cause()
        {
            return Err(EnqueueError::Poisoned(cause));
        }
        if self.is_closed() {
            return Err(EnqueueError::Closed);
        }
        Ok(())
    }

    /// Appends `entries` of `kind` as one allocation; `Ok(None)` when the memory is full and
    /// `block` is false.
    pub(crate) fn append<P: AsRef<[u8]>>(
        &self,
        entries: &[P],
        kind: EntryKind,
        block: bool,
    ) -> Result<Option<Address>, EnqueueError> {
        let Some(first) = entries.first() else {
            return Err(EnqueueError::EmptyBatch);
        };
        self.check_writable()?;
        let max = self.settings.max_payload;
        let mut total = 0usize;
        for entry in entries {
            let len = entry.as_ref().len();
            if len > max {
                return Err(EnqueueError::EntryTooLarge { len, max });
            }
            total += entry_size(len);
        }
        if total as u64 > self.settings.page_size {
            return Err(EnqueueError::BatchTooLarge {
                bytes: total,
                page_size: self.settings.page_size as usize,
            });
        }
        // A lone entry is hashed before protection is taken, to keep the protected step short.
        let lone_hash = (entries.len() == 1).then(|| payload_hash(first.as_ref()));
        // The flushed-until address when the memory was last found full.
        let mut full_at = None;
        loop {
            let reserved = self.handles.protected(|guard| {
                let Some(address) = self.hlog.try_allocate(total as u64, guard)? else {
                    return Ok(None);
                };
                let mut at = address.raw();
                for entry in entries {
                    let payload = entry.as_ref();
                    let hash = lone_hash.unwrap_or_else(|| payload_hash(payload));
                    let head = header(at, kind, self.header_generation, payload.len(), hash);
                    let dst = self.hlog.frame_ptr(Address::from_masked(at));
                    // SAFETY: rules L2, H2, H4 — `[address, address + total)` was just reserved
                    // by this thread under `guard`, lies inside one page frame (allocations
                    // never span pages), and nobody else reads or writes it until this thread
                    // unprotects; `at + entry_size(len)` stays within it.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            payload.as_ptr(),
                            dst.add(ENTRY_HEADER_SIZE),
                            payload.len(),
                        );
                        std::ptr::copy_nonoverlapping(head.as_ptr(), dst, ENTRY_HEADER_SIZE);
                    }
                    at += entry_size(payload.len()) as u64;
                }
                Ok::<_, faster_hlog::LogError>(Some(address))
            })??;
            match reserved {
                Some(address) => {
                    self.after_append(address.raw(), total as u64);
                    return Ok(Some(address));
                }
                None if !block => return Ok(None),
                None => {
                    full_at = Some(self.wait_for_room(full_at));
                    self.check_writable()?;
                }
            }
        }
    }

    /// The every-N-bytes policy: wakes the background committer when an append ends past
    /// the next multiple of N (one relaxed load per append; a write once per N bytes).
    #[inline]
    fn after_append(&self, address: u64, size: u64) {
        let Some(every) = self.settings.commit_every_bytes else {
            return;
        };
        let end = address + size;
        if end > self.commit_trigger.load(Ordering::Relaxed) {
            let next = (end / every + 1) * every;
            if self.commit_trigger.fetch_max(next, Ordering::Relaxed) < next {
                self.background.wake();
            }
        }
    }

    /// Back-pressure: the memory was found full, `full_at` being the flushed-until address
    /// the previous time (if any). Unprotected (rule L3), runs the epoch actions that free
    /// page frames; if no flush completed since the previous time, waits for one — woken by
    /// the hybrid log's flush condition variable (the short timeout only bounds the wait when
    /// a frame is held back by an epoch action rather than by a write). Returns the
    /// flushed-until address it saw, for the next call.
    fn wait_for_room(&self, full_at: Option<u64>) -> u64 {
        self.handles.epoch().try_drain();
        let flushed = self.hlog.flushed_until_address().raw();
        if full_at.is_none_or(|before| flushed > before) {
            // A flush completed (or this is the first try): its frame may be free now.
            return flushed;
        }
        if self.hlog.flushes_outstanding() > 0 {
            let next = Address::from_masked(flushed + 1);
            // An error here is the poisoned log, which the next allocation reports.
            let _ = self.hlog.wait_flushed(next, Duration::from_millis(10));
        } else {
            std::thread::yield_now();
        }
        flushed
    }
}
