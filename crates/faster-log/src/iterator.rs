//! [`LogIterator`]: committed entries in address order, from memory or from the device, with
//! blocking and async waits for new commits (rules L3, L8, L9).

use std::sync::Arc;
use std::time::{Duration, Instant};

use faster_hlog::{Address, LogError};

use crate::async_wait::{CommitWait, ReadWait};
use crate::commit::{Check, CommitState};
use crate::entry::{ENTRY_HEADER_SIZE, EntryKind, claimed_size, parse_entry};
use crate::error::{IterError, NamedIteratorError};
use crate::log::{FasterLog, Inner};
use crate::named::NamedSlot;
use crate::page_reader::{Lookup, PageReader, ReadSlot};

/// One entry handed out by a [`LogIterator`]; borrows the iterator until its next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntry<'a> {
    /// The entry's address.
    pub address: Address,
    /// The address just after the entry: where the iterator continues, and what to pass to
    /// [`LogIterator::complete_until`] once the entry is processed.
    pub next_address: Address,
    /// The payload, exactly as enqueued.
    pub payload: &'a [u8],
}

/// An iterator over committed entries; see the crate documentation.
///
/// It holds no epoch protection between steps (rule L3), so a consumer that sits on an
/// iterator never holds up flushes or commits. Entries in memory are copied into the
/// iterator's buffer under a brief protection; entries on the device are served from the
/// page read for them, with the next page read ahead.
///
/// After an error the iterator stays where it was: the next step returns the same error.
pub struct LogIterator {
    inner: Arc<Inner>,
    next: u64,
    end: u64,
    named: Option<(String, Arc<NamedSlot>)>,
    pages: PageReader,
    copy: Vec<u8>,
}

impl std::fmt::Debug for LogIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogIterator")
            .field("next", &Address::from_masked(self.next))
            .field("end", &Address::from_masked(self.end))
            .field("name", &self.named.as_ref().map(|(n, _)| n))
            .finish()
    }
}

/// Where a found entry's bytes are.
#[derive(Clone, Copy)]
enum Source {
    Copy,
    Page,
}

/// A found entry, before it is borrowed out.
#[derive(Clone, Copy)]
struct Found {
    address: u64,
    next: u64,
    source: Source,
    payload_len: usize,
}

/// One step of the iterator.
enum Step {
    Found(Found),
    /// No committed entry at the position yet.
    CaughtUp,
    /// The position reached the iterator's end.
    End,
    /// A device read is in flight.
    Read(Arc<ReadSlot>),
}

/// What a look into memory found.
enum Memory {
    /// The entry's bytes are in `copy`.
    Copied,
    /// Page-end padding.
    Padding,
    /// The page is on the device only.
    Evicted,
}

impl LogIterator {
    pub(crate) fn new(
        inner: Arc<Inner>,
        from: u64,
        end: u64,
        named: Option<(String, Arc<NamedSlot>)>,
    ) -> Self {
        Self {
            inner,
            next: from,
            end,
            named,
            pages: PageReader::default(),
            copy: Vec::new(),
        }
    }

    /// The address the iterator looks at next.
    pub fn next_address(&self) -> Address {
        Address::from_masked(self.next)
    }

    /// The iterator's name, if it is a named iterator.
    pub fn name(&self) -> Option<&str> {
        self.named.as_ref().map(|(name, _)| name.as_str())
    }

    /// Whether the iterator reached its end address (never true for a tailing iterator).
    pub fn is_at_end(&self) -> bool {
        self.next >= self.end
    }

    /// Marks every entry below `address` as processed (use an entry's
    /// [`next_address`](LogEntry::next_address)). For a named iterator the position is
    /// recorded by the next commit that starts after this call, and the iterator resumes
    /// there when the log reopens; until that commit completes, a crash resumes it at the
    /// position recorded before. Addresses past the iterator's own position are clamped to
    /// it; positions never move back. Does nothing for unnamed iterators.
    pub fn complete_until(&mut self, address: Address) {
        if let Some((_, slot)) = &self.named {
            let address = address.raw().min(self.next);
            self.inner.named.complete_until(slot, address);
        }
    }

    /// The next committed entry, or `None` when there is none yet (or the iterator is at its
    /// end; see [`LogIterator::is_at_end`]). Does not wait for commits; may wait for a device
    /// read.
    ///
    /// # Errors
    /// [`IterError::Corrupt`] when bytes read back fail validation; [`IterError::Log`] when
    /// the device fails a read.
    #[expect(
        clippy::should_implement_trait,
        reason = "a lending iterator: the entry borrows the iterator"
    )]
    pub fn next(&mut self) -> Result<Option<LogEntry<'_>>, IterError> {
        let found = loop {
            match self.step()? {
                Step::Found(found) => break found,
                Step::CaughtUp | Step::End => return Ok(None),
                Step::Read(slot) => slot.wait_blocking(self.inner.hlog.device().as_ref()),
            }
        };
        Ok(Some(self.entry(found)))
    }

    /// The next committed entry, waiting for a commit when the iterator has caught up.
    /// Returns `None` at the iterator's end, or once no commit can come (the log was closed
    /// or poisoned).
    ///
    /// # Errors
    /// As [`LogIterator::next`].
    pub fn next_blocking(&mut self) -> Result<Option<LogEntry<'_>>, IterError> {
        self.next_until(None)
    }

    /// [`LogIterator::next_blocking`], giving up after `timeout` (then `None`).
    ///
    /// # Errors
    /// As [`LogIterator::next`].
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<LogEntry<'_>>, IterError> {
        self.next_until(Some(Instant::now() + timeout))
    }

    fn next_until(&mut self, deadline: Option<Instant>) -> Result<Option<LogEntry<'_>>, IterError> {
        let found = loop {
            match self.step()? {
                Step::Found(found) => break found,
                Step::End => return Ok(None),
                Step::Read(slot) => slot.wait_blocking(self.inner.hlog.device().as_ref()),
                Step::CaughtUp => {
                    let next = self.next;
                    let more = self.inner.commits.wait_blocking(deadline, |state| {
                        match beyond(state, next) {
                            Some(more) => Check::Done(more),
                            None => Check::Wait,
                        }
                    });
                    if more != Some(true) {
                        return Ok(None);
                    }
                }
            }
        };
        Ok(Some(self.entry(found)))
    }

    /// [`LogIterator::next_blocking`] for async code: woken by the commit that brings a new
    /// entry, or by the device read it waits for.
    ///
    /// # Errors
    /// As [`LogIterator::next`].
    pub async fn next_async(&mut self) -> Result<Option<LogEntry<'_>>, IterError> {
        let found = loop {
            match self.step()? {
                Step::Found(found) => break found,
                Step::End => return Ok(None),
                Step::Read(slot) => ReadWait(slot).await,
                Step::CaughtUp => {
                    let next = self.next;
                    let more = CommitWait::new(&self.inner.commits, move |state: &CommitState| {
                        beyond(state, next)
                    })
                    .await;
                    if !more {
                        return Ok(None);
                    }
                }
            }
        };
        Ok(Some(self.entry(found)))
    }

    fn entry(&self, found: Found) -> LogEntry<'_> {
        let bytes = match found.source {
            Source::Copy => &self.copy[..],
            Source::Page => self.pages.slice(found.address),
        };
        let payload = bytes
            .get(ENTRY_HEADER_SIZE..ENTRY_HEADER_SIZE + found.payload_len)
            .unwrap_or(&[]);
        LogEntry {
            address: Address::from_masked(found.address),
            next_address: Address::from_masked(found.next),
            payload,
        }
    }

    /// Finds the next committed data entry, skipping page-end padding and commit records.
    fn step(&mut self) -> Result<Step, IterError> {
        let page_bits = self.inner.settings.page_size_bits;
        loop {
            self.next = self.next.max(self.inner.begin_requested());
            if self.next >= self.end {
                return Ok(Step::End);
            }
            let committed = self.inner.commits.committed_until();
            if self.next >= committed {
                return Ok(Step::CaughtUp);
            }
            let address = self.next;
            let page_end = ((address >> page_bits) + 1) << page_bits;
            // Committed entries end at or below `committed`: nothing above it is read.
            let limit = committed.min(page_end);
            if limit - address < ENTRY_HEADER_SIZE as u64 {
                self.next = page_end;
                continue;
            }
            let source = match self.read_memory(address, limit)? {
                Memory::Copied => Source::Copy,
                Memory::Padding => {
                    self.next = page_end;
                    continue;
                }
                Memory::Evicted => {
                    let header = ENTRY_HEADER_SIZE as u64;
                    match self.lookup(address, header, limit)? {
                        Some(Lookup::Wait(slot)) => return Ok(Step::Read(slot)),
                        Some(Lookup::Ready) => {}
                        None => continue,
                    }
                    let Some(claimed) = claimed_size(self.pages.slice(address)) else {
                        self.next = page_end;
                        continue;
                    };
                    let need = (claimed as u64).min(limit - address);
                    match self.lookup(address, need, limit)? {
                        Some(Lookup::Wait(slot)) => return Ok(Step::Read(slot)),
                        Some(Lookup::Ready) => {}
                        None => continue,
                    }
                    Source::Page
                }
            };
            let bytes = match source {
                Source::Copy => &self.copy[..],
                Source::Page => {
                    let bytes = self.pages.slice(address);
                    let claimed = claimed_size(bytes).unwrap_or(0);
                    &bytes[..claimed.min(bytes.len()).min((limit - address) as usize)]
                }
            };
            let Some(entry) = parse_entry(address, bytes)? else {
                self.next = page_end;
                continue;
            };
            let next = address + entry.size as u64;
            let payload_len = entry.payload.len();
            self.next = next;
            if entry.kind == EntryKind::Commit {
                continue;
            }
            return Ok(Step::Found(Found {
                address,
                next,
                source,
                payload_len,
            }));
        }
    }

    /// [`PageReader::lookup`]; `None` when truncation overtook the position (the device no
    /// longer holds it): the caller looks again from the new begin address.
    fn lookup(&mut self, address: u64, need: u64, limit: u64) -> Result<Option<Lookup>, IterError> {
        match self.pages.lookup(&self.inner.hlog, address, need, limit) {
            Ok(lookup) => Ok(Some(lookup)),
            Err(LogError::Truncated { .. }) if address < self.inner.begin_requested() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Copies the entry at `address` into `self.copy` if its page is in memory. Only bytes
    /// below `limit` (committed, within the page) are read.
    fn read_memory(&mut self, address: u64, limit: u64) -> Result<Memory, IterError> {
        let hlog = &self.inner.hlog;
        let copy = &mut self.copy;
        let outcome = self.inner.handles.protected(|_guard| {
            if address < hlog.head_address().raw() {
                return Memory::Evicted;
            }
            let src = hlog.frame_ptr(Address::from_masked(address)).cast_const();
            let available = (limit - address) as usize;
            // SAFETY: rules L9, H4, H6 — `address >= head` was checked under this protection, so
            // the frame holds this page until we unprotect; the bytes `[address, limit)` are
            // committed, hence flushed, hence below the safe read-only address, where nobody
            // writes; `limit` is within the page, and at least 16 bytes above `address` (checked
            // by the caller).
            let header = unsafe { std::slice::from_raw_parts(src, ENTRY_HEADER_SIZE) };
            let Some(claimed) = claimed_size(header) else {
                return Memory::Padding;
            };
            // SAFETY: rule L9 — as above; `claimed.min(available)` stays below `limit`.
            let bytes = unsafe { std::slice::from_raw_parts(src, claimed.min(available)) };
            copy.clear();
            copy.extend_from_slice(bytes);
            Memory::Copied
        })?;
        Ok(outcome)
    }

    /// Releases the iterator's name, keeping its position for the next commit.
    fn release(&mut self) {
        if let Some((_, slot)) = self.named.take() {
            slot.release();
        }
    }
}

impl Drop for LogIterator {
    fn drop(&mut self) {
        self.release();
    }
}

/// Whether an entry beyond `next` is committed (`Some(true)`), none can come
/// (`Some(false)`), or the waiter should keep waiting (`None`).
fn beyond(state: &CommitState, next: u64) -> Option<bool> {
    if state.durable.committed_until > next {
        Some(true)
    } else if state.finished() {
        Some(false)
    } else {
        None
    }
}

impl FasterLog {
    /// A tailing iterator over every committed entry from the begin address on. It never
    /// ends: [`LogIterator::next_blocking`] waits for commits.
    pub fn iter(&self) -> LogIterator {
        self.iter_from(self.begin_address())
    }

    /// A tailing iterator from `from`, which must be the address of an entry (one returned
    /// by [`FasterLog::enqueue`] or [`LogEntry::next_address`]) or a page start; addresses
    /// below the begin address start at the begin address.
    pub fn iter_from(&self, from: Address) -> LogIterator {
        LogIterator::new(Arc::clone(&self.inner), from.raw(), u64::MAX, None)
    }

    /// An iterator over the committed entries in `[from, to)` (entries that start below
    /// `to`). It ends when it reaches `to`; until then it waits for commits like a tailing
    /// iterator.
    pub fn scan(&self, from: Address, to: Address) -> LogIterator {
        LogIterator::new(Arc::clone(&self.inner), from.raw(), to.raw(), None)
    }

    /// The tailing iterator named `name`: it starts where the last commit recorded its
    /// position (created at the begin address if the name is new), and its
    /// [`complete_until`](LogIterator::complete_until) positions are recorded by later
    /// commits. One live iterator per name.
    ///
    /// # Errors
    /// [`NamedIteratorError::InUse`] while another iterator of that name is alive,
    /// [`NamedIteratorError::InvalidName`], [`NamedIteratorError::TooMany`].
    pub fn named_iterator(&self, name: &str) -> Result<LogIterator, NamedIteratorError> {
        let begin = self.inner.begin_requested();
        let slot = self.inner.named.claim(name, begin)?;
        let from = slot.position().max(begin);
        Ok(LogIterator::new(
            Arc::clone(&self.inner),
            from,
            u64::MAX,
            Some((name.to_owned(), slot)),
        ))
    }

    /// Forgets the named iterator `name` (the next commit no longer records it); returns its
    /// last position, or `None` if there was no such iterator.
    ///
    /// # Errors
    /// [`NamedIteratorError::InUse`] while an iterator of that name is alive.
    pub fn remove_named_iterator(&self, name: &str) -> Result<Option<Address>, NamedIteratorError> {
        Ok(self.inner.named.remove(name)?.map(Address::from_masked))
    }

    /// Every named iterator and its current position (as the next commit would record it).
    pub fn named_iterators(&self) -> Vec<(String, Address)> {
        let (list, _) = self.inner.named.snapshot(self.inner.begin_requested());
        list.into_iter()
            .map(|(name, position)| (name, Address::from_masked(position)))
            .collect()
    }

    /// The payload of the committed entry at `address`.
    ///
    /// # Errors
    /// [`IterError::NoEntry`] when no committed entry starts at `address` (truncated, not
    /// committed yet, or not an entry boundary); [`IterError::Corrupt`] or
    /// [`IterError::Log`] as for iterators.
    pub fn read_entry(&self, address: Address) -> Result<Vec<u8>, IterError> {
        self.inner.read_entry(address.raw(), FIRST_READ)
    }

    /// [`FasterLog::read_entry`] with a first device read of `first_read` bytes (at least
    /// the entry header's), for a caller that knows its entries' sizes: a smaller first read
    /// copies fewer bytes; an entry larger than it costs a second read.
    ///
    /// # Errors
    /// As [`FasterLog::read_entry`].
    pub fn read_entry_with_hint(
        &self,
        address: Address,
        first_read: usize,
    ) -> Result<Vec<u8>, IterError> {
        self.inner.read_entry(address.raw(), first_read.max(64))
    }
}

/// Bytes of the first device read of [`FasterLog::read_entry`]: most entries fit.
const FIRST_READ: usize = 4096;

impl Inner {
    /// Checks that `address` (committed, at or above the begin address) is an entry
    /// boundary: an entry or a commit record starts there, or the rest of its page is
    /// padding.
    pub(crate) fn check_boundary(self: &Arc<Self>, address: u64) -> Result<(), IterError> {
        if !address.is_multiple_of(8) {
            return Err(IterError::NoEntry {
                address: Address::from_masked(address),
                reason: "not 8-byte aligned",
            });
        }
        let mut iterator = LogIterator::new(Arc::clone(self), address, address + 1, None);
        loop {
            match iterator.step()? {
                Step::Found(found) if found.address == address => return Ok(()),
                // Padding or a commit record was skipped to reach the end.
                Step::End => return Ok(()),
                Step::Read(slot) => slot.wait_blocking(self.hlog.device().as_ref()),
                Step::Found(_) | Step::CaughtUp => {
                    return Err(IterError::NoEntry {
                        address: Address::from_masked(address),
                        reason: "not an entry boundary",
                    });
                }
            }
        }
    }

    pub(crate) fn read_entry(
        self: &Arc<Self>,
        address: u64,
        first_read: usize,
    ) -> Result<Vec<u8>, IterError> {
        let no_entry = |reason| IterError::NoEntry {
            address: Address::from_masked(address),
            reason,
        };
        if address < self.begin_requested() {
            return Err(no_entry("below the begin address"));
        }
        if address >= self.commits.committed_until() {
            return Err(no_entry("not committed"));
        }
        if !address.is_multiple_of(8) {
            return Err(no_entry("not 8-byte aligned"));
        }
        // Committed, so on the device: read the entry alone, not its page — a first read
        // sized for a small entry, and a second one when its header asks for more.
        let hlog = &self.hlog;
        let at = Address::from_masked(address);
        let page_end = hlog.page_start(hlog.page_of(at) + 1).raw();
        let room = (page_end - address) as usize;
        let mut len = room.min(first_read);
        loop {
            let buffer = hlog.read_blocking(at, len as u64)?;
            // Truncated while we read: the bytes may be gone.
            if address < self.begin_requested() {
                return Err(no_entry("below the begin address"));
            }
            return match crate::entry::parse_entry(address, buffer.bytes()) {
                Ok(Some(entry)) if entry.kind == crate::entry::EntryKind::Data => {
                    Ok(entry.payload.to_vec())
                }
                Ok(_) => Err(no_entry("no entry starts there")),
                Err(crate::entry::EntryError::Truncated { needed, .. })
                    if needed > len && needed <= room =>
                {
                    len = needed;
                    continue;
                }
                Err(e) => Err(e.into()),
            };
        }
    }
}
