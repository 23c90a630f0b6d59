//! One commit round (rules L4, L5): snapshot the tail, the begin address and the named
//! iterator positions; write the pages below the snapshot; make them durable; then make the
//! commit record durable — in the log itself (a fast commit, one device flush) or in a
//! metadata slot (a second flush, on the commit device).

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use faster_hlog::{Address, LogError};

use crate::commit::LastCommit;
use crate::commit_record::CommitRecord;
use crate::entry::{EntryKind, entry_size};
use crate::error::{CommitError, EnqueueError};
use crate::log::Inner;
use crate::sync::{ignore_poison, lock};

/// The result of a flush, delivered by the hybrid log's completion callback.
#[derive(Default)]
struct FlushSignal {
    result: Mutex<Option<Result<(), LogError>>>,
    done: Condvar,
}

impl Inner {
    /// Runs one round from the durable state `start`; returns the new durable state.
    pub(crate) fn run_round(&self, start: LastCommit) -> Result<LastCommit, CommitError> {
        let tail = self.hlog.tail_address().raw();
        let begin = self.begin_requested();
        let (iterators, iterators_version) = self.named.snapshot(begin);
        let from = start.committed_until;
        if tail == from && begin == start.begin && iterators_version == start.iterators_version {
            self.retry_segment_removal(start)
        } else {
            self.commit_snapshot(start, tail, begin, iterators, iterators_version)
        }
    }

    fn commit_snapshot(
        &self,
        start: LastCommit,
        tail: u64,
        begin: u64,
        iterators: Vec<(String, u64)>,
        iterators_version: u64,
    ) -> Result<LastCommit, CommitError> {
        let started = Instant::now();
        let from = start.committed_until;
        let page_bits = self.settings.page_size_bits;
        // Rule L5: a fast commit record may only claim a range its recovery scan can verify
        // without crossing a page end (a zero-filled page end cannot be told from a lost
        // write). Truncation also goes through the metadata slot, because removing segments
        // must never outrun the durable begin address that recovery starts from.
        let crosses_page = tail != from && (tail >> page_bits) != (from >> page_bits);
        let fast = self.settings.fast_commit
            && !crosses_page
            && begin == start.begin
            && tail - start.metadata_until < self.settings.metadata_interval_bytes;
        let record = CommitRecord {
            sequence: start.sequence + 1,
            generation: self.generation,
            begin,
            until: tail,
            prev_until: from,
            page_size_bits: page_bits as u8,
            fast,
            iterators,
        };
        let max = self.named.max_record_len();
        if record.encoded_len() > max {
            return Err(CommitError::RecordTooLarge {
                bytes: record.encoded_len(),
                max,
            });
        }
        let (flush_to, committed_until) = if fast {
            let bytes = record.encode();
            let at = self.append_commit_entry(&bytes)?;
            let end = at + entry_size(bytes.len()) as u64;
            // A record right at the snapshot is itself covered: recovery resumes after it.
            (end, if at == tail { end } else { tail })
        } else {
            (tail, tail)
        };
        self.flush_and_wait(flush_to)?;
        self.hlog.device().flush()?;
        if !fast {
            self.metadata.write(&record)?;
        }
        let mut durable = LastCommit {
            sequence: record.sequence,
            committed_until,
            begin,
            removed_begin: start.removed_begin,
            metadata_until: if fast { start.metadata_until } else { tail },
            iterators_version,
        };
        if !fast {
            durable = self.retry_segment_removal(durable)?;
        }
        self.counters.committed(started.elapsed(), fast);
        tracing::trace!(until = committed_until, fast, "commit round durable");
        Ok(durable)
    }

    /// Removes the device segments below the durable begin address (rule L7), if that has not
    /// happened yet. A failure is logged and retried at the next round: the commit itself is
    /// durable, and the segments are only wasted space.
    fn retry_segment_removal(&self, durable: LastCommit) -> Result<LastCommit, CommitError> {
        if durable.removed_begin >= durable.begin {
            return Ok(durable);
        }
        match self.hlog.shift_begin(Address::from_masked(durable.begin)) {
            Ok(()) => Ok(LastCommit {
                removed_begin: durable.begin,
                ..durable
            }),
            Err(e) => {
                tracing::warn!(
                    "FasterLog: removing segments below {} failed, will retry: {e}",
                    durable.begin
                );
                Ok(durable)
            }
        }
    }

    /// Appends a commit entry holding `record` (a fast commit), waiting for room.
    fn append_commit_entry(&self, record: &[u8]) -> Result<u64, CommitError> {
        match self.append(std::slice::from_ref(&record), EntryKind::Commit, true) {
            Ok(Some(address)) => Ok(address.raw()),
            Ok(None) => Err(CommitError::Closed),
            Err(EnqueueError::Log(e)) => Err(CommitError::Log(e)),
            Err(EnqueueError::Epoch(e)) => Err(CommitError::Epoch(e)),
            Err(EnqueueError::Poisoned(cause)) => Err(CommitError::Poisoned(cause)),
            Err(_) => Err(CommitError::Closed),
        }
    }

    /// Writes every page below `address` to the device and waits for the writes, woken by
    /// the hybrid log's flush completion (`on_flushed`), not by polling. Not protected
    /// (rule L3): the writes start only once every protected thread has refreshed.
    fn flush_and_wait(&self, address: u64) -> Result<(), CommitError> {
        let target = self.hlog.flush_until(Address::from_masked(address));
        let signal = Arc::new(FlushSignal::default());
        let notify = Arc::clone(&signal);
        self.hlog.on_flushed(target, move |result| {
            *lock(&notify.result) = Some(result);
            notify.done.notify_all();
        });
        let mut result = lock(&signal.result);
        loop {
            if let Some(outcome) = result.take() {
                return outcome.map_err(CommitError::Log);
            }
            // The completion wakes us. The timeout is a safety net only: it drains epoch
            // actions in case every thread that could run the flush's trigger went idle
            // (faster-epoch drains on unprotect, so this should never be what wakes us).
            result = ignore_poison(signal.done.wait_timeout(result, Duration::from_millis(100))).0;
            if result.is_none() {
                drop(result);
                self.handles.epoch().try_drain();
                result = lock(&signal.result);
            }
        }
    }
}
