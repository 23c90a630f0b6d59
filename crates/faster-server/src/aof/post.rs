//! Post-images: what a store worker gathers while it runs a job's operations, one log entry
//! per write — the state of the key after the write — to append with one reservation once
//! the job's operations are done.

use faster_kv::Codec;

use super::entry::{AofEntry, KEY_ENTRY_OVERHEAD};
use crate::keyops::{KeyOp, Value};

/// The encoded entries of one job; gathers nothing when the server keeps no log.
#[derive(Debug, Default)]
pub(crate) struct PostImages {
    /// `None` when the server keeps no log; else the largest entry the log takes.
    max_entry: Option<usize>,
    entries: Vec<Vec<u8>>,
}

impl PostImages {
    /// Gathers entries of at most `max_entry` bytes, or nothing when `None`.
    pub(crate) fn new(max_entry: Option<usize>) -> Self {
        Self {
            max_entry,
            entries: Vec::new(),
        }
    }

    /// After the write, `key` holds `value` (the value given to the store, or the one an
    /// update stored); the entry holds its encoding, expiry included.
    pub(crate) fn put(&mut self, key: &[u8], value: &Value) {
        if self.max_entry.is_some() {
            let encoded = value.with_bytes(|value| AofEntry::Put { key, value }.encode());
            // Encoding bytes cannot fail; were it to, the write is not logged and the
            // durability wait would not cover it, so make that loud.
            match encoded {
                Ok(entry) => self.entries.push(entry),
                Err(e) => tracing::error!("faster-server: a post-image did not encode: {e}"),
            }
        }
    }

    /// After the write, `key` is absent.
    pub(crate) fn del(&mut self, key: &[u8]) {
        if self.max_entry.is_some() {
            self.entries.push(AofEntry::Del { key }.encode());
        }
    }

    /// The error reply for an operation whose entry could not go into the log, checked
    /// before the operation runs (an `APPEND` that grows a value past the limit is caught
    /// only when its entry is appended).
    pub(crate) fn refusal(&self, op: &KeyOp) -> Option<String> {
        let max = self.max_entry?;
        // A stored value carries its 8-byte expiry.
        let written = match op {
            KeyOp::Set { key, value, .. } | KeyOp::SetNx(key, value) => key.len() + value.len() + 8,
            KeyOp::Append(key, tail) => key.len() + tail.len(),
            _ => 0,
        };
        (written + KEY_ENTRY_OVERHEAD > max).then(|| {
            format!(
                "ERR key and value too large for the append-only log ({written} bytes; at most {})",
                max.saturating_sub(KEY_ENTRY_OVERHEAD)
            )
        })
    }

    /// The entries gathered since the last call.
    pub(crate) fn take(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.entries)
    }
}
