//! Whole-table scans: [`HashIndex::stats`], [`HashIndex::check_invariants`] and
//! [`HashIndex::garbage_collect`]. None of them is on the hot path; counts are computed by
//! walking every chain, not kept by the operations.

use faster_address::Address;
use faster_epoch::Guard;

use crate::entry::{Entry, UNSET_ADDRESS};
use crate::error::{Busy, InvariantViolation};
use crate::index::{HashIndex, View};
use crate::sync::Ordering;
use crate::table::Table;

/// Counts from one scan of the index. Entries may change while the scan runs, so under
/// concurrent operations the numbers are a blur of the moments each chain was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct IndexStats {
    /// Buckets of the table operations use (overflow buckets not counted).
    pub buckets: u64,
    /// Final (non-tentative) entries.
    pub used_entries: u64,
    /// Tentative entries: insertions between their claim and their check (rule I3).
    pub tentative_entries: u64,
    /// Overflow buckets linked into chains.
    pub overflow_buckets: u64,
    /// Bytes of bucket memory held: tables and overflow pages (both tables while growing).
    pub memory_bytes: u64,
    /// Whether the table is backed by transparent huge pages.
    pub huge_pages: bool,
    /// Whether a growth is preparing or in progress.
    pub growing: bool,
    /// Old tables freed by completed growths since the index was built.
    pub tables_freed: u64,
}

impl HashIndex {
    /// Calls `visit(chain, table, index)` for every chain operations would use now: chain
    /// `index` of `table`, numbered `chain` in the table operations see. While a growth is in
    /// progress an unsplit old chain stands for the two new chains it will become.
    fn for_each_chain<'g>(
        &'g self,
        guard: &'g Guard<'_>,
        stats: &mut IndexStats,
        mut visit: impl FnMut(u64, &'g Table, usize),
    ) {
        stats.tables_freed = self.shared.tables_freed.load(Ordering::Acquire);
        let view = self.view(guard);
        stats.growing = !matches!(view, View::Rest(_));
        match view {
            View::Rest(table) | View::Preparing(table) => {
                stats.buckets = table.len() as u64;
                stats.memory_bytes = table.bytes();
                stats.huge_pages = table.huge_pages();
                for index in 0..table.len() {
                    visit(index as u64, table, index);
                }
            }
            View::InProgress(grow) => {
                let (old, new) = (grow.old_table(), grow.new_table());
                stats.buckets = new.len() as u64;
                stats.memory_bytes = old.bytes() + new.bytes();
                stats.huge_pages = new.huge_pages();
                let old_len = old.len();
                for index in 0..old_len {
                    if grow.is_split(index) {
                        visit(index as u64, new, index);
                        visit((index + old_len) as u64, new, index + old_len);
                    } else {
                        visit(index as u64, old, index);
                    }
                }
            }
        }
    }

    /// Counts buckets, entries and overflow buckets by walking every chain.
    ///
    /// # Panics
    /// If `guard` is not a guard of this index's epoch.
    pub fn stats(&self, guard: &Guard<'_>) -> IndexStats {
        let mut stats = IndexStats::default();
        let (mut used, mut tentative, mut overflow) = (0, 0, 0);
        self.for_each_chain(guard, &mut stats, |_, table, index| {
            overflow += table.chain_len(index).saturating_sub(1);
            for (entry, _) in table.chain_entries(index) {
                if entry.is_tentative() {
                    tentative += 1;
                } else if !entry.is_empty() {
                    used += 1;
                }
            }
        });
        stats.used_entries = used;
        stats.tentative_entries = tentative;
        stats.overflow_buckets = overflow;
        stats
    }

    /// Checks the rules a quiescent index keeps: at most one final entry per tag in each chain
    /// (rule I2) and no reserved bit (rule I1). Returns the stats of the same scan.
    ///
    /// Exact only while no thread modifies the index: a concurrent delete and re-insert of a
    /// tag can be seen half-way.
    ///
    /// # Errors
    /// The first broken rule found.
    ///
    /// # Panics
    /// If `guard` is not a guard of this index's epoch.
    pub fn check_invariants(&self, guard: &Guard<'_>) -> Result<IndexStats, InvariantViolation> {
        let mut first_violation = None;
        let mut tags = Vec::new();
        let mut stats = IndexStats::default();
        self.for_each_chain(guard, &mut stats, |chain, table, index| {
            if first_violation.is_some() {
                return;
            }
            tags.clear();
            for (entry, _) in table.chain_entries(index) {
                if entry.has_reserved_bit() {
                    first_violation = Some(InvariantViolation::ReservedBit {
                        chain,
                        raw: entry.raw(),
                    });
                    return;
                }
                if !entry.is_empty() && !entry.is_tentative() {
                    tags.push(entry.tag());
                }
            }
            tags.sort_unstable();
            for run in tags.chunk_by(|a, b| a == b) {
                if run.len() > 1 {
                    first_violation = Some(InvariantViolation::DuplicateTag {
                        chain,
                        tag: run[0],
                        count: run.len(),
                    });
                    return;
                }
            }
        });
        match first_violation {
            Some(violation) => Err(violation),
            None => Ok(self.stats(guard)),
        }
    }

    /// Empties every final entry whose address is below `begin_address` (the log was
    /// truncated there), with a compare-and-swap so that a concurrent update wins. Entries
    /// still holding [`UNSET_ADDRESS`] are left to their creators. Returns how many entries
    /// were emptied.
    ///
    /// The scan holds `guard` throughout; run it on a thread that can afford that.
    ///
    /// # Errors
    /// [`Busy`] while a growth is preparing or in progress: retry after it.
    ///
    /// # Panics
    /// If `guard` is not a guard of this index's epoch.
    pub fn garbage_collect(&self, begin_address: Address, guard: &Guard<'_>) -> Result<u64, Busy> {
        let table = match self.view(guard) {
            View::Rest(table) => table,
            View::Preparing(_) | View::InProgress(_) => return Err(Busy),
        };
        let mut cleared = 0;
        for index in 0..table.len() {
            for (entry, slot) in table.chain_entries(index) {
                let address = entry.address();
                if entry.is_empty()
                    || entry.is_tentative()
                    || address <= UNSET_ADDRESS
                    || address >= begin_address
                {
                    continue;
                }
                if slot
                    .compare_exchange(
                        entry.raw(),
                        Entry::EMPTY.raw(),
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    cleared += 1;
                }
            }
        }
        Ok(cleared)
    }
}
