//! Device pages for iterators: the page being read plus one read ahead, so that two buffers
//! are in flight while an iterator walks entries that have left memory (rule L9).

use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use faster_device::Device;
use faster_hlog::{Address, HybridLog, LogError, ReadBuffer};

use crate::sync::{ignore_poison, lock};

/// The completion of one device read, waited for by blocking or async iterators.
#[derive(Default)]
pub(crate) struct ReadSlot {
    state: Mutex<ReadState>,
    done: Condvar,
}

#[derive(Default)]
struct ReadState {
    result: Option<Result<ReadBuffer, LogError>>,
    waker: Option<Waker>,
}

impl ReadSlot {
    fn complete(&self, result: Result<ReadBuffer, LogError>) {
        let waker = {
            let mut state = lock(&self.state);
            state.result = Some(result);
            state.waker.take()
        };
        self.done.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn take(&self) -> Option<Result<ReadBuffer, LogError>> {
        lock(&self.state).result.take()
    }

    fn is_done(&self) -> bool {
        lock(&self.state).result.is_some()
    }

    /// Blocks until the read completes. Woken by the completion; the timeout only lets
    /// devices whose completions need reaping ([`Device::poll`]) make progress.
    pub(crate) fn wait_blocking(&self, device: &dyn Device) {
        let mut state = lock(&self.state);
        while state.result.is_none() {
            state = ignore_poison(self.done.wait_timeout(state, Duration::from_millis(10))).0;
            if state.result.is_none() {
                drop(state);
                device.poll();
                state = lock(&self.state);
            }
        }
    }

    /// Ready once the read completed; otherwise registers the waker.
    pub(crate) fn poll_ready(&self, cx: &Context<'_>) -> Poll<()> {
        let mut state = lock(&self.state);
        if state.result.is_some() {
            return Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Log bytes `[from, valid_to)` of one page, read from the device.
struct Loaded {
    page: u64,
    from: u64,
    valid_to: u64,
    buf: ReadBuffer,
}

/// A read in flight for `[from, valid_to)` of `page`.
struct Pending {
    page: u64,
    from: u64,
    valid_to: u64,
    slot: Arc<ReadSlot>,
}

impl Pending {
    fn covers(&self, page: u64, address: u64, need: u64) -> bool {
        self.page == page && self.from <= address && address + need <= self.valid_to
    }
}

/// What [`PageReader::lookup`] found.
pub(crate) enum Lookup {
    /// The current buffer holds the bytes: see [`PageReader::slice`].
    Ready,
    /// A read is in flight; wait for it and look again.
    Wait(Arc<ReadSlot>),
}

/// The current device page of an iterator and the reads in flight.
#[derive(Default)]
pub(crate) struct PageReader {
    current: Option<Loaded>,
    /// The read of the bytes the iterator needs now.
    wanted: Option<Pending>,
    /// The read of the next page, started when the current one was taken.
    ahead: Option<Pending>,
}

impl PageReader {
    /// Makes the current buffer hold `[address, address + need)` (which must lie below the
    /// flushed-until address), reading from the device if needed. `limit` (the committed
    /// address) bounds the read-ahead.
    pub(crate) fn lookup(
        &mut self,
        hlog: &HybridLog,
        address: u64,
        need: u64,
        limit: u64,
    ) -> Result<Lookup, LogError> {
        let page = hlog.page_of(Address::from_masked(address));
        loop {
            if let Some(current) = &self.current
                && current.page == page
                && current.from <= address
                && address + need <= current.valid_to
            {
                return Ok(Lookup::Ready);
            }
            let pending = [&mut self.wanted, &mut self.ahead]
                .into_iter()
                .find(|p| p.as_ref().is_some_and(|p| p.covers(page, address, need)));
            if let Some(pending) = pending {
                let Some(read) = pending.take() else {
                    continue;
                };
                if !read.slot.is_done() {
                    let slot = Arc::clone(&read.slot);
                    *pending = Some(read);
                    return Ok(Lookup::Wait(slot));
                }
                let buf = read
                    .slot
                    .take()
                    .unwrap_or(Err(LogError::Device(faster_device::DeviceError::Closed)))?;
                self.current = Some(Loaded {
                    page: read.page,
                    from: read.from,
                    valid_to: read.valid_to,
                    buf,
                });
                self.read_ahead(hlog, page + 1, limit)?;
                continue;
            }
            let page_end = hlog.page_start(page + 1).raw();
            self.wanted = Some(start_read(hlog, page, address, page_end)?);
        }
    }

    /// Starts reading `page` from its start if it lies wholly on the device only and below
    /// `limit`, unless that read is already in flight.
    fn read_ahead(&mut self, hlog: &HybridLog, page: u64, limit: u64) -> Result<(), LogError> {
        let start = hlog.page_start(page).raw();
        if self.ahead.as_ref().is_some_and(|p| p.page == page)
            || start >= limit
            || start >= hlog.head_address().raw()
        {
            return Ok(());
        }
        let page_end = hlog.page_start(page + 1).raw();
        self.ahead = Some(start_read(hlog, page, start, page_end)?);
        Ok(())
    }

    /// The bytes of the current buffer from `address` on (empty if it does not hold them).
    pub(crate) fn slice(&self, address: u64) -> &[u8] {
        let Some(current) = &self.current else {
            return &[];
        };
        if address < current.from || address >= current.valid_to {
            return &[];
        }
        let bytes = current.buf.bytes();
        let from = (address - current.from) as usize;
        let to = ((current.valid_to - current.from) as usize).min(bytes.len());
        bytes.get(from..to).unwrap_or(&[])
    }
}

/// Starts reading `[address, page_end)` (clamped to what is flushed now).
fn start_read(
    hlog: &HybridLog,
    page: u64,
    address: u64,
    page_end: u64,
) -> Result<Pending, LogError> {
    // Flushed-until only grows, and the hybrid log clamps the read to its own (later) value,
    // so every byte below this one's value is in the buffer.
    let valid_to = page_end.min(hlog.flushed_until_address().raw());
    let slot = Arc::new(ReadSlot::default());
    let done = Arc::clone(&slot);
    hlog.read_async(
        Address::from_masked(address),
        page_end - address,
        move |result| done.complete(result),
    )?;
    Ok(Pending {
        page,
        from: address,
        valid_to,
        slot,
    })
}
