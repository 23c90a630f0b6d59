//! Reading records that live only on the device (rule H7).

use faster_device::{AlignedBuf, DeviceExt};

use crate::log::HybridLog;
use crate::{Address, LogError};

/// Bytes of the log read back from the device: the record at [`ReadBuffer::address`] and
/// whatever else the read brought in after it (the rest of its sector; nothing more from a
/// device that reads at any alignment; never past the end of its page).
#[derive(Debug)]
pub struct ReadBuffer {
    buf: AlignedBuf,
    skip: usize,
    address: Address,
}

impl ReadBuffer {
    /// The address the read started at.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The bytes from [`ReadBuffer::address`] on: at least the length asked for.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.skip..]
    }
}

impl HybridLog {
    /// Reads at least `len` bytes at `address` from the device and hands them to `done`, on
    /// the thread that completes the I/O (or on this one, before this call returns, for
    /// devices that complete inline). `address` must be below the head — the bytes are then
    /// flushed and immutable (rule H7) — and `len` is clamped to the end of the page, since
    /// records never span pages. A record longer than `len` needs a second read.
    ///
    /// # Errors
    /// [`LogError::Truncated`] when `address` is below the begin address,
    /// [`LogError::InvalidRange`] when it is at or above the flushed-until address (not on the
    /// device yet; the read is also clamped to it), or the device's synchronous refusal. On an error `done` is not called.
    /// Asynchronous failures reach `done`.
    pub fn read_async(
        &self,
        address: Address,
        len: u64,
        done: impl FnOnce(Result<ReadBuffer, LogError>) + Send + 'static,
    ) -> Result<(), LogError> {
        let (from, buf, skip) = self.read_buffer(address, len, false)?;
        self.submit(address, from, buf, skip, done, false)
    }

    /// [`HybridLog::read_async`] as one read of a batch: the device may hold it unsent until
    /// [`HybridLog::submit_reads`] (faster-device's rule D12), so that the reads a caller
    /// issues together reach the kernel with one system call.
    ///
    /// # Errors
    /// As [`HybridLog::read_async`].
    pub fn read_async_batched(
        &self,
        address: Address,
        len: u64,
        done: impl FnOnce(Result<ReadBuffer, LogError>) + Send + 'static,
    ) -> Result<(), LogError> {
        let (from, buf, skip) = self.read_buffer(address, len, false)?;
        self.submit(address, from, buf, skip, done, true)
    }

    /// Sends the reads [`HybridLog::read_async_batched`] left unsent. Call it before waiting
    /// for one of them.
    pub fn submit_reads(&self) {
        self.shared.device.submit_batch();
    }

    /// Starts the device read of a buffer from [`HybridLog::read_buffer`].
    fn submit(
        &self,
        address: Address,
        from: u64,
        buf: AlignedBuf,
        skip: usize,
        done: impl FnOnce(Result<ReadBuffer, LogError>) + Send + 'static,
        batched: bool,
    ) -> Result<(), LogError> {
        let finish = move |result: Result<(), faster_device::DeviceError>, buf| {
            done(
                result
                    .map(|()| ReadBuffer { buf, skip, address })
                    .map_err(LogError::from),
            );
        };
        let device = &self.shared.device;
        let submitted = if batched {
            device.read_buf_batched(from, buf, finish)
        } else {
            device.read_buf(from, buf, finish)
        };
        submitted.map_err(|rejected| LogError::Device(rejected.error))
    }

    /// Checks a read of `len` bytes at `address` and makes its buffer: the device offset it
    /// starts at, the zeroed buffer, and where `address` lies in it. The read covers whole
    /// sectors, unless `exact` (a device that reads at any alignment on the calling thread,
    /// `Device::reads_unaligned`): then it covers `[address, address + len)` and no more, so
    /// that the read of a small record copies the record, not a sector. The caller's `len` is
    /// its guess of the record's size: a longer record needs a second read.
    fn read_buffer(
        &self,
        address: Address,
        len: u64,
        exact: bool,
    ) -> Result<(u64, AlignedBuf, usize), LogError> {
        let g = &self.shared.geometry;
        let raw = address.raw();
        let begin = self.begin_address();
        if raw < begin.raw() {
            return Err(LogError::Truncated { address, begin });
        }
        let flushed = self.flushed_until_address().raw();
        if raw >= flushed {
            return Err(LogError::InvalidRange {
                from: address,
                to: Address::from_masked(flushed),
                reason: "reads from the device must start below flushed-until",
            });
        }
        let page_end = g.page_start(g.page_of(raw) + 1);
        let end = raw.saturating_add(len.max(1)).min(page_end).min(flushed);
        if exact {
            let buf = AlignedBuf::options()
                .alignment(8)
                .zeroed((end - raw) as usize)?;
            return Ok((raw, buf, 0));
        }
        let from = g.sector_floor(raw);
        let to = g.sector_ceil(end);
        let buf = AlignedBuf::options()
            .alignment(4096.max(g.sector_size as usize))
            .zeroed((to - from) as usize)?;
        Ok((from, buf, (raw - from) as usize))
    }

    /// [`HybridLog::read_blocking`] if the device can answer without waiting for the disk (a
    /// file's bytes in the page cache, `Device::read_cached`); `None` when it cannot.
    ///
    /// # Errors
    /// As [`HybridLog::read_async`].
    pub fn read_cached(&self, address: Address, len: u64) -> Option<Result<ReadBuffer, LogError>> {
        let exact = self.shared.device.reads_unaligned();
        let (from, mut buf, skip) = match self.read_buffer(address, len, exact) {
            Ok(parts) => parts,
            Err(e) => return Some(Err(e)),
        };
        let result = self.shared.device.read_cached(from, &mut buf)?;
        Some(
            result
                .map(|()| ReadBuffer { buf, skip, address })
                .map_err(LogError::from),
        )
    }

    /// [`HybridLog::read_async`], waiting for the result.
    ///
    /// # Errors
    /// As [`HybridLog::read_async`].
    pub fn read_blocking(&self, address: Address, len: u64) -> Result<ReadBuffer, LogError> {
        // A device that can read on this thread saves two thread hand-offs per read.
        let exact = self.shared.device.reads_unaligned();
        let (from, mut buf, skip) = self.read_buffer(address, len, exact)?;
        if let Some(result) = self.shared.device.read_now(from, &mut buf) {
            return result
                .map(|()| ReadBuffer { buf, skip, address })
                .map_err(LogError::from);
        }
        // Only whole sectors go through the device's own threads.
        let (from, buf, skip) = if exact {
            self.read_buffer(address, len, false)?
        } else {
            (from, buf, skip)
        };
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        self.submit(
            address,
            from,
            buf,
            skip,
            move |result| {
                // The receiver waits below; a send can only fail if it is gone, and then nobody
                // wants the result.
                let _ = sender.send(result);
            },
            false,
        )?;
        loop {
            match receiver.recv_timeout(std::time::Duration::from_millis(10)) {
                Ok(result) => return result,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    // Devices whose completions need the caller's thread.
                    self.shared.device.poll();
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(LogError::Device(faster_device::DeviceError::Closed));
                }
            }
        }
    }
}
