//! Truncation (rule L7): the begin address moves at once for readers; the next commit
//! records it (always in a metadata slot); only after that commit is durable are the device
//! segments wholly below it removed.

use faster_hlog::Address;

use crate::error::TruncateError;
use crate::log::FasterLog;

impl FasterLog {
    /// Drops every entry below `address`: iterators and reads skip them from now on, the
    /// next commit makes the new begin address durable, and after that commit the device
    /// segments that lie wholly below it are removed. Until that commit, a crash brings the
    /// entries back. Moving the begin address backwards does nothing.
    ///
    /// `address` must be an entry boundary: where an entry starts or ends (an address
    /// returned by [`FasterLog::enqueue`] or
    /// [`LogEntry::next_address`](crate::LogEntry::next_address)), a page start, or the
    /// committed-until address.
    ///
    /// # Errors
    /// [`TruncateError::BeyondCommitted`] when `address` is above the committed-until
    /// address; [`TruncateError::NotAnEntry`] when no entry starts there.
    pub fn truncate_until(&self, address: Address) -> Result<(), TruncateError> {
        let inner = &self.inner;
        let raw = address.raw();
        let committed = inner.commits.committed_until();
        if raw > committed {
            return Err(TruncateError::BeyondCommitted {
                address,
                committed: Address::from_masked(committed),
            });
        }
        if raw <= inner.begin_requested() {
            return Ok(());
        }
        let page_start = raw.is_multiple_of(inner.settings.page_size);
        if raw != committed && !page_start {
            inner
                .check_boundary(raw)
                .map_err(|source| TruncateError::NotAnEntry { address, source })?;
        }
        inner
            .begin
            .fetch_max(raw, std::sync::atomic::Ordering::AcqRel);
        Ok(())
    }
}
