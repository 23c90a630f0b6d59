//! FasterLog: a concurrent, durable, recoverable append-only log, built on the FASTER hybrid
//! log. Many threads append entries at memory speed; a commit makes everything appended
//! before it durable with one device flush; iterators read committed entries back, from
//! memory or from the device, and wait for new ones; a log reopened after a crash holds
//! exactly a prefix of what was appended, including everything whose commit returned.
//!
//! ```
//! use std::sync::Arc;
//! use faster_log::{FasterLog, MemDevice};
//!
//! let log = FasterLog::builder(Arc::new(MemDevice::new()), Arc::new(MemDevice::new()))
//!     .page_size_bits(16)
//!     .memory_pages(4)
//!     .open()?;
//! let first = log.enqueue(b"hello")?;
//! log.enqueue_batch(&[&b"all"[..], b"or", b"nothing"])?;
//! log.commit()?;
//!
//! let mut iter = log.iter();
//! let entry = iter.next()?.expect("committed");
//! assert_eq!((entry.address, entry.payload), (first, &b"hello"[..]));
//! # Ok::<(), faster_log::Error>(())
//! ```
//!
//! [`FasterLog::builder`] takes any two [`Device`]s: one for the entries, one for the commit
//! metadata. `FasterLog::builder_in_dir(path)` puts both in files of one directory, opened
//! with `O_DIRECT` (the log keeps its newest pages in memory itself; it falls back to
//! buffered I/O where the file system refuses direct I/O). `examples/log_only.rs` shows a
//! whole program that depends on this crate alone.
//!
//! # Directories
//!
//! A log in a directory is safe to reopen, from any process:
//!
//! - **One process at a time.** Opening locks the directory ([`faster_device::DirLock`])
//!   before reading anything in it; the lock is held until the log and all its iterators are
//!   dropped (after its threads are joined and its devices closed), so the directory can be
//!   reopened at once. A second open fails with [`LogOpenError::Locked`], naming the holder.
//! - **A manifest.** `<dir>/MANIFEST` ([`manifest`]), written once when the log is created,
//!   records the log's random identity and the settings that shape its bytes (page size,
//!   segment size, metadata slot size). A reopen needs none of them repeated, and refuses one
//!   that contradicts it ([`LogOpenError::SettingMismatch`]). Every segment file carries the
//!   identity in its header, so files of another log are refused.
//! - **Nothing else.** A directory without a manifest must be empty: one holding other files,
//!   or a log written by an earlier build, is refused ([`LogOpenError::NotALog`]).
//!
//! # Entries and pages
//!
//! The log is a 48-bit logical address space cut into pages (`page_size_bits`, 4 MiB by
//! default). An entry is a 16-byte header — payload length and kind, the generation of the
//! log's life that wrote it, and a checksum over payload, length, generation and the entry's
//! own address — followed by the payload, padded to 8 bytes (`docs/formats.md`, [`entry`]). An
//! entry never spans pages, so the largest payload is the page size minus 16
//! ([`FasterLog::max_entry_size`]); larger ones are refused with
//! [`EnqueueError::EntryTooLarge`]. When an entry does not fit in the rest of a page, the
//! rest stays zero and the entry starts the next page.
//!
//! The newest pages are in memory (`memory_pages` of them, 16 by default). Every page but
//! the one being filled is written to the device as soon as the tail leaves it; a page frame
//! is reused only after its page is written. When writers outrun the device, `enqueue` waits
//! for a flush to complete (back-pressure), and [`FasterLog::try_enqueue`] returns `Ok(None)`
//! instead.
//!
//! # Threads
//!
//! Any thread may call any method, with nothing to register first. Appending needs epoch
//! protection (the hybrid log's frames are reused only once every protected thread has moved
//! on), so each thread keeps one epoch handle per log in a thread-local list, registered on
//! first use and freed when the thread exits (`max_threads` bounds how many live threads may
//! have used a log; one more gets [`EnqueueError::Epoch`]). A dropped log leaves no slot
//! taken in any live log: the handles it leaves behind belong to its own epoch table and are
//! purged. Protection is held for one step at a time — one reservation and copy, or one read
//! of a page frame — and never while blocking: a flush cannot start while a thread that is
//! waiting for it is protected (rules L1, L3).
//!
//! An enqueue reserves its bytes with one fetch-add on the tail (lock-free), copies the
//! payload once, straight into the page frame, and writes the header. A batch is one
//! reservation inside one page, so a commit covers all of it or none of it.
//!
//! # Commit
//!
//! [`FasterLog::commit`] snapshots the tail `T` (with the begin address and the named
//! iterators' positions), writes every page below `T` to the device, waits for the writes —
//! woken by the hybrid log's flush completion — flushes the device (`fdatasync`), and then
//! makes a *commit record* durable. Only after that does the committed-until address move to
//! `T` (or to the end of the commit record, when that record sits right at `T`) and waiters
//! wake. A commit record holds a magic, a format version, a checksum, its
//! sequence number, the generation, the begin address, committed-until, the previous
//! committed-until, and the named iterators' positions (`docs/formats.md`).
//!
//! The record goes to one of two places (rule L5):
//!
//! - **A metadata slot** on the commit device. Commit `n` overwrites slot `n mod 2` and
//!   flushes the commit device: a torn write damages only that slot, whose checksum then
//!   fails, and the other slot still holds the previous commit. This costs a second flush.
//! - **The log itself** (a *fast commit*, on by default): the record is appended as a commit
//!   entry at the tail (at `T`, or after entries appended since the snapshot) and written and
//!   flushed together with the pages — one device flush per commit. Recovery finds it by scanning forward (below). A fast commit is used
//!   only when the committed range `[previous until, T)` lies within one page, the begin
//!   address did not move, and fewer than `metadata_interval_bytes` were appended since the
//!   last metadata slot write; otherwise the round writes a metadata slot. The page rule is
//!   what makes fast commits safe: the zeros at a page's end cannot be told from a lost
//!   write, so recovery can verify a range entry by entry only while it does not cross a page
//!   end.
//!
//! Commits are grouped: each request takes a ticket; the thread that finds no commit running
//! leads one round for every ticket issued before the round's snapshot, and the others wait
//! for it — one device flush for all of them (rule L4). [`FasterLog::wait_for_commit`]
//! waits for someone else's commit. [`CommitPolicy`] adds automatic commits, run by the
//! log's background thread: every N bytes of tail, or every T milliseconds when something
//! changed. [`FasterLog::commit_async`] hands the round to that thread and awaits it; the
//! async waits ([`FasterLog::wait_for_commit_async`], [`LogIterator::next_async`]) are woken
//! through stored wakers by the commit that satisfies them, and run on any executor.
//!
//! A failed page write, device flush or metadata write poisons the log: the failing commit
//! returns the error, and every later commit or enqueue fails with `Poisoned` until the log
//! is reopened, which recovers the last durable commit.
//!
//! # Iterators
//!
//! [`FasterLog::iter`], [`FasterLog::iter_from`] and [`FasterLog::scan`] hand out committed
//! entries in address order, each exactly once; commit records and page-end padding are
//! skipped; every entry's checksum is verified before it is handed out. Entries still in
//! memory are copied out under a brief protection; older ones are read from the device a
//! page at a time, with the next page read ahead. [`LogIterator::next`] returns `None` when
//! it has caught up; [`LogIterator::next_blocking`] and [`LogIterator::next_async`] wait for
//! the next commit instead. An iterator holds no protection between calls, so a stalled
//! consumer never stalls writers or commits.
//!
//! A *named* iterator ([`FasterLog::named_iterator`]) persists its position. The consumer
//! calls [`LogIterator::complete_until`] with the `next_address` of the last entry it has
//! fully processed; the next commit that *starts* after that call records the position, and
//! the iterator resumes there when the log is reopened. Reading an entry does not move the
//! persisted position, and neither does `complete_until` alone: a crash before the next
//! commit completes resumes at the previously recorded position (rule L8).
//!
//! # Truncation
//!
//! [`FasterLog::truncate_until`] moves the begin address at once: iterators skip what lies
//! below it. The next commit records the new begin in a metadata slot; once that is durable,
//! the device segments wholly below it are removed. Until then a crash brings the truncated
//! entries back (rule L7).
//!
//! # Recovery
//!
//! Opening a log on devices that hold one reads both metadata slots and takes the valid
//! record with the highest sequence number. From its committed-until address, it scans
//! forward: each entry must parse, match its checksum and carry the generation recorded in
//! that metadata; each commit entry found is accepted if it continues the chain (sequence
//! plus one, its previous-until equal to the committed point so far) and no page end was
//! skipped before its `until`. The scan stops at the first entry that fails any check — a
//! torn write, a lost write, bytes from an earlier life — and the log resumes at the last
//! accepted commit point: nothing beyond it is ever returned, and everything whose commit
//! returned is there ([`RecoveryInfo`] says what was found).
//!
//! Appends then continue at that point, over whatever the device still holds beyond it:
//! entries of the crashed life that were written but never committed. They must not come
//! back, not even after a second crash. So every open starts a new *generation*, and
//! records it in a metadata slot before returning (rule L6). New entries carry it; the old
//! ones carry the old generation and fail the next scan's check, even where the new life
//! has not overwritten them. A brand-new log starts at a random generation, so a directory
//! whose metadata was deleted does not resurrect the old log's entries either.
//!
//! # Rules
//!
//! The protocol, cited by number in the code (the `H` rules are faster-hlog's):
//!
//! - **L1 — threads.** Each thread uses its own epoch handle for a log, cached per thread
//!   (`handles.rs`). Protection lasts one step: one reservation and copy, or one read of a
//!   page frame.
//! - **L2 — appending.** An entry or batch is one reservation at the tail (H2), zeroed and
//!   inside one page. The reserving thread writes the payload and header into it before it
//!   unprotects (H4); no one writes those bytes afterwards.
//! - **L3 — waiting.** Nothing waits while protected: not for room, a flush, a commit or a
//!   device read. Flushes start only after every protected thread has refreshed (H4), and
//!   the hybrid log's `wait_flushed` requires it.
//! - **L4 — commit rounds.** One round runs at a time. A round snapshots the tail `T`, then
//!   writes the pages below its flush target, waits for the writes (`on_flushed`), flushes
//!   the device, and only then writes a metadata record, if any; committed-until moves after
//!   all of that. So any commit record that exists proves every earlier round completed.
//! - **L5 — commit records.** A metadata record is written after the data it covers is
//!   durable, to slot `sequence mod 2`. A fast record is appended at or after `T` and claims
//!   `until = T`, chained by `sequence` and `prev_until`; it is written only when
//!   `[prev_until, T)` lies in one page, the begin address is unchanged, and the last
//!   metadata record is less than `metadata_interval_bytes` behind. Recovery accepts a fast
//!   record only if the entries from the last accepted point to its `until` were all valid,
//!   of the current generation, and contiguous (no page end skipped).
//! - **L6 — generations.** Each open starts a generation, durable in a metadata slot before
//!   any entry of it is written. Entries carry its low 32 bits, covered by their checksum.
//!   Recovery's scan accepts only entries of the generation of the metadata record it starts
//!   from. A new log's generation is random.
//! - **L7 — truncation.** The begin address readers see moves at once; a commit records it
//!   in a metadata slot; device segments below it are removed only after that commit is
//!   durable (H8).
//! - **L8 — iterator positions.** A named iterator's position is what
//!   [`LogIterator::complete_until`] last set before the snapshot of a completed commit;
//!   the open after a crash restores it from the commit it recovers.
//! - **L9 — reading.** Readers read only below committed-until, which is below flushed-until
//!   and so below the safe read-only address: those bytes never change (H4). A page frame is
//!   read only under protection, after checking the address is at or above the head (H6);
//!   anything below the head is read from the device (H7).

mod async_wait;
mod builder;
mod commit;
pub mod commit_record;
#[cfg(feature = "config")]
mod config;
mod enqueue;
pub mod entry;
mod error;
mod handles;
mod home;
mod iterator;
mod lock;
mod log;
pub mod manifest;
mod metadata;
#[cfg(any(feature = "prometheus", feature = "metrics"))]
mod metrics;
mod named;
mod open;
mod page_reader;
mod policy;
mod recovery;
mod round;
mod stats;
mod sync;
mod truncate;

pub use builder::FasterLogBuilder;
#[cfg(feature = "config")]
pub use config::{CommitPolicyConfig, FasterLogConfig};
pub use error::{
    CommitError, EnqueueError, Error, IterError, LogOpenError, NamedIteratorError, TruncateError,
};
pub use iterator::{LogEntry, LogIterator};
pub use log::FasterLog;
pub use policy::CommitPolicy;
pub use recovery::{RecoveryInfo, ScanStop};
pub use stats::LogStats;

pub use faster_device::{
    CrashMode, Device, DeviceError, DeviceExt, FaultDevice, FileDevice, MemDevice,
};
pub use faster_epoch::EpochError;
pub use faster_hlog::{Address, LogError};
#[cfg(feature = "prometheus")]
pub use faster_metrics::Exposition;
pub use faster_metrics::HistogramSnapshot;
#[cfg(any(feature = "prometheus", feature = "metrics"))]
pub use faster_metrics::MetricSink;
