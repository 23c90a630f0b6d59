//! The blocking work of a checkpoint, run on its worker thread: the index snapshot, making
//! the log's version-`v` image durable, and the metadata with its completion marker.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Duration;

use faster_cpr::{
    CheckpointDir, CheckpointMeta, IndexMeta, LogCheckpointKind, LogMeta, SNAPSHOT_FILE,
};
use faster_device::{Device, FileDevice, FileDeviceBuilder};
use faster_hlog::Address;

use super::error::CheckpointError;
use super::run::Run;
use super::snapshot::SnapshotWriter;
use crate::codec::Codec;
use crate::store::Store;
use crate::sync::lock;

/// The file of a checkpoint's index snapshot, in the checkpoint's directory: the one segment
/// file of [`index_files`].
pub(crate) const INDEX_SEGMENT_FILE: &str = "index.00000000";

/// The segment files of an index snapshot's device: `index.<n>` in the checkpoint's
/// directory, one segment large enough for any snapshot.
pub(crate) fn index_files(dir: &Path) -> FileDeviceBuilder {
    FileDevice::builder(dir)
        .prefix("index")
        .segment_size(1 << 40)
}

/// The device an index snapshot is written to and read from: one file `index.00000000` in the
/// checkpoint's directory, written and read with `O_DIRECT` (once each: the page cache would
/// only add a copy), or buffered where the file system refuses it.
pub(crate) fn index_device(dir: &Path) -> Result<FileDevice, faster_device::DeviceError> {
    let builder = index_files(dir).io_threads(2);
    builder
        .clone()
        .direct_io(true)
        .open()
        .or_else(|_| builder.open())
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Store<K, V> {
    /// Writes a fuzzy snapshot of the index into `dir` and makes it durable.
    pub(crate) fn write_index_snapshot(
        &self,
        dir: &Path,
        start_address: Address,
    ) -> Result<IndexMeta, CheckpointError> {
        let device = index_device(dir)?;
        let handle = self.epoch.register()?;
        let info = {
            let guard = handle.protect();
            // Rule RC7: no read-cache address reaches the device.
            if self.read_cache.is_some() {
                self.index
                    .write_snapshot_mapped(&device, 0, &guard, &|address| {
                        self.snapshot_address(address, &guard)
                    })?
            } else {
                self.index.write_snapshot(&device, 0, &guard)?
            }
        };
        device.flush()?;
        Ok(IndexMeta {
            start_address: start_address.raw(),
            bytes: info.bytes,
            buckets: info.buckets,
        })
    }

    /// Makes the log's image of the checkpoint's version durable (the WAIT_FLUSH work).
    pub(crate) fn freeze_log(
        self: &Arc<Self>,
        run: &Arc<Run>,
        kind: LogCheckpointKind,
    ) -> Result<(), CheckpointError> {
        let final_address = run.addresses().final_address;
        match kind {
            LogCheckpointKind::FoldOver => {
                let target = self.log.flush_until(final_address);
                while !self.log.wait_flushed(target, Duration::from_millis(100))? {}
                self.log.device().flush()?;
                run.addresses().snapshot_start = final_address;
                Ok(())
            }
            LogCheckpointKind::Snapshot | LogCheckpointKind::IncrementalSnapshot => {
                let previous = lock(&self.cpr.last).clone();
                let base = previous.as_ref().and_then(|m| {
                    m.log
                        .as_ref()
                        .filter(|l| {
                            kind == LogCheckpointKind::IncrementalSnapshot
                                && l.kind != LogCheckpointKind::FoldOver
                        })
                        .map(|l| (m.token, l.clone()))
                });
                // Whole pages from the one holding the flushed-until address, so that every
                // chunk starts on a page (and sector) boundary and can be written back to the
                // device at recovery; the checkpoint's data starts at the begin address if
                // that is later (a log that never flushed starts at `FIRST_VALID`, inside
                // its first page).
                let flushed = self.log.flushed_until_address();
                let copy_from = self
                    .log
                    .page_start(self.log.page_of(flushed))
                    .min(final_address);
                let snapshot_start = copy_from.max(self.log.begin_address()).min(final_address);
                let (chain, new_from) = match &base {
                    Some((token, log)) => {
                        let mut chain = log.base_chain.clone();
                        chain.push(*token);
                        // Below 2^48: checked when the metadata was decoded.
                        (chain, Address::from_masked(log.final_address))
                    }
                    None => (Vec::new(), Address::INVALID),
                };
                self.write_snapshot_file(
                    run,
                    copy_from,
                    final_address,
                    base.is_some().then_some(new_from),
                )?;
                // Everything below the snapshot is flushed; make it durable.
                self.log.device().flush()?;
                let mut a = run.addresses();
                a.snapshot_start = snapshot_start;
                a.base_chain = chain;
                Ok(())
            }
        }
    }

    /// Copies `[from, to)` of the log into the checkpoint's snapshot file. With
    /// `incremental_from`, only pages changed in place since the last snapshot and pages at or
    /// after that address are copied (rule R10).
    ///
    /// Version-`v + 1` sessions must copy a version-`v` record to the tail to update it until
    /// its page is copied here (rule R12), so the pages are copied into buffers as fast as
    /// memory allows, up to the store's snapshot buffer ahead of a second thread that writes
    /// them to the file.
    fn write_snapshot_file(
        &self,
        run: &Arc<Run>,
        from: Address,
        to: Address,
        incremental_from: Option<Address>,
    ) -> Result<(), CheckpointError> {
        let path = run.dir.join(SNAPSHOT_FILE);
        let io = |e: std::io::Error| {
            CheckpointError::Files(faster_cpr::CheckpointFileError::Io {
                path: path.clone(),
                source: e,
            })
        };
        let mut writer = SnapshotWriter::create(&path, run.token).map_err(io)?;
        let handle = self.epoch.register()?;
        let page_size = self.log.page_size();
        let ahead = (self.cpr.snapshot_buffer / page_size.max(1)).max(1) as usize;
        let (full, to_write) = std::sync::mpsc::sync_channel::<(Address, Vec<u64>)>(ahead);
        let (give_back, free) = std::sync::mpsc::channel::<Vec<u64>>();
        let written = std::thread::scope(|scope| {
            let writing = std::thread::Builder::new()
                .name("faster-snapshot-write".into())
                .spawn_scoped(scope, move || -> std::io::Result<()> {
                    for (address, buffer) in to_write {
                        writer.chunk(address.raw(), bytemuck::cast_slice(&buffer))?;
                        // The copier may have finished; a buffer nobody takes is dropped.
                        let _ = give_back.send(buffer);
                    }
                    writer.finish()
                })
                .map_err(|e| CheckpointError::Io(Arc::new(e)))?;
            let copied = self.copy_pages(&handle, (from, to, incremental_from), full, &free);
            let written = writing
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("snapshot writer panicked")));
            copied.and(written.map_err(io))
        });
        written?;
        faster_cpr::sync_dir(&run.dir)?;
        Ok(())
    }

    /// The copier of [`write_snapshot_file`](Self::write_snapshot_file): copies the wanted
    /// pages of `[from, to)` into buffers (reused from `free`) and sends them to the writer
    /// through `full`, publishing after each page what is captured (rule R12).
    fn copy_pages(
        &self,
        handle: &faster_epoch::Handle,
        (from, to, incremental_from): (Address, Address, Option<Address>),
        full: SyncSender<(Address, Vec<u64>)>,
        free: &Receiver<Vec<u64>>,
    ) -> Result<(), CheckpointError> {
        let page_size = self.log.page_size();
        let mut address = from;
        while address < to {
            let page = self.log.page_of(address);
            let end = self.log.page_start(page + 1).min(to);
            // Clear the mark before copying, so an update during the copy is caught next time.
            let dirty = self.cpr.dirty.take(page);
            let wanted = match incremental_from {
                None => true,
                Some(new_from) => dirty || page >= self.log.page_of(new_from),
            };
            if wanted {
                let mut buffer = free
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity((page_size / 8) as usize));
                self.copy_range(handle, address, end, &mut buffer)?;
                if full.send((address, buffer)).is_err() {
                    // The writer stopped on an error, reported by its join.
                    break;
                }
            }
            // Rule R12: every version-`v` byte below `end` is in the snapshot (copied above, or
            // unchanged since the base snapshot): version-`v + 1` sessions may now update
            // those records in place.
            self.cpr.captured.store(end.raw(), Ordering::Release);
            address = end;
        }
        Ok(())
    }

    /// Copies log bytes `[from, to)` (within one page, 8-aligned) into `out`, as words: from
    /// the page frame if it is still in memory, else from the device (where it is then
    /// flushed); zeros below the begin address.
    fn copy_range(
        &self,
        handle: &faster_epoch::Handle,
        from: Address,
        to: Address,
        out: &mut Vec<u64>,
    ) -> Result<(), CheckpointError> {
        out.clear();
        // Bytes below the begin address (the start of a log's first page) belong to no record
        // and may be on no device any more: zeros.
        let from = {
            let live = from.max(self.log.begin_address()).min(to);
            out.resize(((live.raw() - from.raw()) / 8) as usize, 0);
            live
        };
        let len = to.raw() - from.raw();
        let words = (len / 8) as usize;
        {
            let guard = handle.protect();
            if from >= self.log.head_address() {
                let base = self.log.frame_ptr(from);
                // SAFETY: rules H6, R3, R4 — `from >= head` was checked under `guard`, so the
                // frame holds this page until the guard drops; `from` is 8-aligned and `[from, to)`
                // lies within the page, so the range is `words` aligned words of the frame. Every
                // word is only ever accessed atomically while a version-`v + 1` session may
                // update one in place, and a shared slice of atomics permits exactly that.
                let frame = unsafe { std::slice::from_raw_parts(base.cast::<AtomicU64>(), words) };
                out.extend(frame.iter().map(|word| word.load(Ordering::Relaxed)));
                drop(guard);
                return Ok(());
            }
        }
        // Evicted meanwhile: it was flushed first, so the device has it.
        let read = self.log.read_blocking(from, len)?;
        let zeros = out.len();
        out.resize(zeros + words, 0);
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut out[zeros..]);
        bytes.copy_from_slice(&read.bytes()[..len as usize]);
        Ok(())
    }

    /// Writes the checkpoint's metadata and completion marker (rule C5), then applies the
    /// retention setting.
    pub(crate) fn persist(&self, run: &Arc<Run>) -> Result<(), CheckpointError> {
        let dir = self
            .cpr
            .dir
            .as_ref()
            .ok_or(CheckpointError::NoCheckpointDir)?;
        let previous = lock(&self.cpr.last).clone();
        let a = run.addresses().clone();
        let (index_token, index_meta) = match (&a.index, &previous) {
            (Some(index), _) => (run.token, index.clone()),
            (None, Some(prev)) => (prev.index_token, prev.index_meta.clone()),
            (None, None) => return Err(CheckpointError::NoCheckpointDir),
        };
        let log = match run.action {
            faster_cpr::Action::Checkpoint {
                log: Some(kind), ..
            } => Some(LogMeta {
                kind,
                begin: a.begin.raw(),
                start: a.start.raw(),
                final_address: a.final_address.raw(),
                snapshot_start: a.snapshot_start.raw(),
                base_chain: a.base_chain.clone(),
            }),
            _ => None,
        };
        let sessions = match (&log, &previous) {
            (Some(_), _) => self.cpr.sessions.commits(run.version),
            (None, Some(prev)) => prev.sessions.clone(),
            (None, None) => Vec::new(),
        };
        let meta = CheckpointMeta {
            token: run.token,
            store_id: self.cpr.identity.store_id,
            log_id: self.cpr.identity.log_id,
            version: run.version,
            log,
            index: a.index.clone(),
            index_token,
            index_meta,
            sessions,
            created_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        };
        dir.commit(&meta)?;
        if meta.log.is_some() || previous.is_none() {
            *lock(&self.cpr.last) = Some(meta.clone());
        } else if let Some(prev) = lock(&self.cpr.last).as_mut() {
            // An index-only checkpoint: later log checkpoints use its index.
            prev.index_token = meta.index_token;
            prev.index_meta = meta.index_meta.clone();
        }
        self.apply_retention(dir, &meta)?;
        // The checkpoints recovery could choose changed: delete what none of them needs
        // (rule R14). A failure leaves bytes behind, never loses any; the next try deletes them.
        if let Err(e) = self.reclaim_unchecked() {
            tracing::warn!("faster-kv: deleting the log below its begin address: {e}");
        }
        Ok(())
    }

    /// Removes checkpoints beyond the newest `retention` log checkpoints, keeping those the
    /// kept ones need (their index snapshots and snapshot chains), and incomplete leftovers.
    /// A log checkpoint kept only for what a newer one needs is retired (its completion
    /// marker removed, durably): recovery never chooses it, so the device need not keep its
    /// log (rule R14) — otherwise the checkpoint holding the index snapshot that log-only
    /// checkpoints reuse would keep every byte of log written since it.
    fn apply_retention(
        &self,
        dir: &CheckpointDir,
        newest: &CheckpointMeta,
    ) -> Result<(), CheckpointError> {
        let tokens = dir.tokens()?;
        let mut kept_logs = 0;
        let mut other_logs = Vec::new();
        let mut needed = std::collections::BTreeSet::new();
        needed.insert(newest.token);
        needed.insert(newest.index_token);
        for &token in tokens.iter().rev() {
            if token > newest.token {
                continue; // a newer run in progress (not possible today, but never remove it)
            }
            let Ok(meta) = dir.read(token) else { continue };
            let Some(log) = &meta.log else { continue };
            if kept_logs < self.cpr.retention {
                kept_logs += 1;
                needed.insert(meta.token);
                needed.insert(meta.index_token);
                needed.extend(log.base_chain.iter().copied());
            } else {
                other_logs.push(token);
            }
        }
        for token in other_logs {
            if needed.contains(&token) {
                dir.retire(token)?;
            }
        }
        for token in tokens {
            if token < newest.token && !needed.contains(&token) {
                dir.remove(token)?;
            }
        }
        Ok(())
    }
}

/// Reads an index snapshot written by [`Store::write_index_snapshot`].
pub(crate) fn read_index_snapshot(
    dir: &Path,
    epoch: Arc<faster_epoch::Epoch>,
) -> Result<faster_index::HashIndex, faster_index::IndexError> {
    let device = index_device(dir).map_err(faster_index::IndexError::from)?;
    faster_index::HashIndex::read_snapshot(&device, 0, epoch)
}
