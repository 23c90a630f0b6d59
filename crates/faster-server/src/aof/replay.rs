//! Replay at start: read and check the whole log, then apply it to the store (see the module
//! above for why re-applying post-images on top of the recovered checkpoint is right).

use faster_log::{Address, FasterLog, LogIterator};

use super::AofError;
use super::entry::AofEntry;
use faster_kv::Codec;

use crate::keyops::{ByteStore, Value};

/// What replay found and applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Entries read (marks included).
    pub entries: u64,
    /// `Put` entries applied.
    pub puts: u64,
    /// `Del` entries applied.
    pub dels: u64,
}

/// Calls `each` with every committed entry from the begin address on, in order.
fn for_each(
    log: &FasterLog,
    mut each: impl FnMut(AofEntry<'_>) -> Result<(), AofError>,
) -> Result<(), AofError> {
    let mut iter: LogIterator = log.iter();
    let end = log.committed_until().raw();
    while iter.next_address().raw() < end {
        let at = iter.next_address();
        let damaged = |reason: String| AofError::Damaged {
            address: at,
            reason,
        };
        let Some(found) = iter.next().map_err(|e| damaged(e.to_string()))? else {
            break;
        };
        let address = found.address;
        let entry = AofEntry::decode(found.payload).map_err(|e| AofError::Damaged {
            address,
            reason: e.to_string(),
        })?;
        each(entry)?;
    }
    Ok(())
}

/// Checks every entry of `log`, then applies them to `store`.
pub(super) fn replay(log: &FasterLog, store: &ByteStore) -> Result<ReplayReport, AofError> {
    let begin = log.begin_address().raw();
    let mut needed: Option<u32> = None;
    let mut report = ReplayReport::default();
    for_each(log, |entry| {
        report.entries += 1;
        if let AofEntry::Checkpoint { version, start } = entry
            && start == begin
        {
            needed = needed.max(Some(version));
        }
        Ok(())
    })?;
    let opened = store.opened();
    let recovered = opened.recovered().map(|r| r.version);
    if let Some(needed) = needed
        && recovered.is_none_or(|v| v < needed)
    {
        return Err(AofError::CheckpointBehindLog {
            needed,
            recovered: recovered.map_or("no checkpoint".to_owned(), |v| format!("version {v}")),
        });
    }
    if report.entries == 0 {
        return Ok(report);
    }
    let mut session = store
        .session()
        .map_err(|e| AofError::Replay(e.to_string()))?;
    let replay = |e: faster_kv::OpError| AofError::Replay(e.to_string());
    for_each(log, |entry| {
        match entry {
            AofEntry::Put { key, value } => {
                let value = Value::decode(value).map_err(|e| AofError::Replay(e.to_string()))?;
                session.upsert(key, &value).map_err(replay)?;
                report.puts += 1;
            }
            AofEntry::Del { key } => {
                session.delete(key).map_err(replay)?;
                report.dels += 1;
            }
            AofEntry::Checkpoint { .. } => {}
        }
        Ok(())
    })?;
    tracing::info!(
        entries = report.entries,
        puts = report.puts,
        dels = report.dels,
        begin = %Address::from_masked(begin),
        "faster-server: replayed the append-only log"
    );
    Ok(report)
}
