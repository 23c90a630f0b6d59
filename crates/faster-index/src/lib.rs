//! The hash index of faster-rs: a concurrent, lock-free map from the hash of a key to the
//! address of the newest record whose key shares that hash's bucket and tag.
//!
//! # What it is for
//!
//! A store keeps its records in a log. To find a key, it hashes the key, asks the index for the
//! entry of that hash, and walks the records backwards from the entry's address — each record
//! holds the address of the previous record of its chain — until one holds the key. To insert,
//! it finds or creates the entry, writes a record whose previous address is the entry's address,
//! and swaps the new address into the entry. The index therefore stores one 8-byte word per
//! chain of records, and a lookup costs one cache line of the table.
//!
//! # Buckets and entries
//!
//! The table is `2^k` buckets; a hash falls in bucket `hash & (2^k - 1)`. A bucket is one
//! 64-byte cache line: seven entries and an overflow word, which links the next bucket of the
//! chain when seven slots are not enough.
//!
//! ```text
//!  byte 0        8        16       24       32       40       48       56       64
//!       +--------+--------+--------+--------+--------+--------+--------+--------+
//!       | entry0 | entry1 | entry2 | entry3 | entry4 | entry5 | entry6 |overflow|
//!       +--------+--------+--------+--------+--------+--------+--------+--------+
//!   overflow: number of the next bucket of the chain in the overflow allocator, 0 = none
//!
//!   entry:  63  62  61 ........... 48  47 ................................ 0
//!          +---+---+------------------+------------------------------------+
//!          | T | R |    tag (14)      |           address (48)             |
//!          +---+---+------------------+------------------------------------+
//!   T = tentative, R = reserved (0); the word 0 is a free slot
//! ```
//!
//! The *tag* is bits 48–61 of the hash, stored in the entry: keys of one bucket with different
//! tags get different entries, so a lookup skips most foreign records without reading them,
//! and records of one entry are only those whose hashes agree on bucket and tag. The *tentative*
//! bit makes insertion safe without locks: a new entry is first claimed tentatively, then the
//! inserter checks that nobody else is inserting the same tag, then it makes the entry final
//! (rule I3). Lookups ignore tentative entries.
//!
//! # The rules
//!
//! The protocol, cited by number in the code.
//!
//! - **I1 — entry layout.** Bits 0–47 address (an [`Address`], the log's own type), 48–61
//!   tag, 62 reserved (always 0), 63 tentative. The word 0 is a free slot. An entry created by
//!   [`HashIndex::find_or_create`] holds [`UNSET_ADDRESS`] (1) until its creator installs a
//!   record, so a live entry is never 0, even with tag 0. The log's first valid address is at
//!   least 64.
//! - **I2 — one entry per tag.** A *chain* — a bucket of the table and the overflow buckets
//!   linked from it — holds at most one final entry per tag. Lookups return it.
//! - **I3 — tentative insertion.** `find_or_create`: (1) scan the chain for a final entry
//!   with the tag and return it, remembering the first free slot; (2) if there is none, link a
//!   new overflow bucket (I5) and take its first slot; (3) CAS the free slot from 0 to a
//!   tentative entry `{UNSET_ADDRESS, tag}`; (4) scan the chain again for any *other* entry
//!   with the tag, tentative or final — if one exists, store 0 in ours and start over;
//!   (5) otherwise store the final entry. Steps 3 and 4 are SeqCst (the claim and every load of
//!   the re-scan): of two threads claiming the same tag, at least one sees the other's claim,
//!   so at most one finalises. Only its creator finalises or clears a tentative entry.
//! - **I4 — updates.** An entry changes only by a CAS of the whole word:
//!   [`EntrySlot::compare_exchange`] keeps the tag and never sets the tentative bit,
//!   [`EntrySlot::delete_if`] empties only a final entry with the expected address,
//!   [`HashIndex::garbage_collect`] empties final entries below the log's begin address. A
//!   successful CAS releases the caller's record; lookups load with acquire.
//! - **I5 — overflow links.** An overflow word goes once, by CAS, from 0 to the number of a
//!   zeroed bucket, and then never changes while its table lives. The allocator creates the
//!   bucket's page before handing out its number, so whoever loads the link with acquire finds
//!   the page. The loser of the CAS gives its bucket back at once: nobody saw it.
//! - **I6 — memory.** A table owns its buckets and its overflow pages. Nothing of a table is
//!   freed while it lives and pages never move; a table is freed whole, when the index drops
//!   or by the epoch action of rule G5. An overflow page is published once, by a CAS of its
//!   directory slot; the loser frees its own copy, which nobody saw.
//! - **I7 — references.** Every reference into a table is derived under a [`Guard`] of the
//!   index's epoch and borrows that guard. Memory is freed only by an epoch action scheduled
//!   after it stopped being reachable from the shared state, and such an action cannot run
//!   while a guard that could have reached the memory lives.
//! - **I8 — bucket arrays.** A table holds `len` buckets, `len` a power of two, so bucket
//!   `hash & (len - 1)` always exists; any other bucket index is checked against `len` before
//!   use. A bucket array is one zeroed, 4096-aligned buffer of `len × 64` bytes that never
//!   moves while its table lives (I6); zero is a valid bucket, and every access is an atomic
//!   load, store or CAS through a shared `&Bucket`.
//! - **I9 — prefetching.** A prefetch (`_mm_prefetch`, on x86-64, where SSE is baseline) is a
//!   hint: it never faults and never changes memory, so it may name any address.
//!
//! # Growth
//!
//! [`HashIndex::grow`] doubles the table while other threads keep operating, in the manner of
//! FASTER's `GrowIndex`.
//!
//! - **G1 — state.** One atomic word holds `(version, phase)`. At REST operations use the
//!   current table; in PREPARE they return [`Busy`]; IN_PROGRESS they use the growth state (old
//!   and new tables). The version counts completed growths; a growth state records the version
//!   it started from, and a reader that finds another version reads the word again.
//! - **G2 — prepare.** `grow` allocates the new table, publishes the growth state, stores
//!   PREPARE, and hands the epoch ([`Epoch::bump_with`]) an action that stores IN_PROGRESS. An
//!   operation that read REST is protected in an epoch no later than that bump, so the flip
//!   happens only once every operation that used the old table as current has finished (its
//!   guard refreshed or dropped). From then on nobody writes the old table.
//! - **G3 — chunks.** Old buckets are split in chunks of 256 (16 KiB). A chunk goes UNSPLIT →
//!   SPLITTING (by CAS: one splitter) → SPLIT (release). Only the splitter writes new chains
//!   `i` and `i + old_len` of its chunk, before SPLIT. An operation first makes the chunk of
//!   its hash SPLIT — splitting it, or waiting for the thread that is — then works on the new
//!   table. `grow` splits every chunk still unclaimed; [`HashIndex::help_grow`] splits one.
//! - **G4 — splitting an entry.** The caller's [`Resolver`] says where each record's key falls.
//!   Free, tentative and unset entries are dropped: their creators finished before the flip
//!   (G2). [`RecordLookup::Gone`]: dropped. [`RecordLookup::OnDevice`]: the key is unknown, so
//!   the entry goes to both new chains (lookups filter records by key anyway).
//!   [`RecordLookup::InMemory`]: the entry goes to its record's side, and a walk back along
//!   previous addresses finds the newest record on the other side (or on the device), for which
//!   an entry goes to the other side. Each old chain gives each new chain at most one entry per
//!   tag, so rule I2 holds in the new table.
//! - **G5 — install.** The thread whose split takes the count of pending chunks to zero (that
//!   decrement acquires every other split) stores the new table as current, then `(version +
//!   1, REST)`, takes the growth state out of the shared state, and bumps the epoch with an
//!   action that frees the old table with the growth state.
//! - **G6 — one at a time.** A lock admits one `grow` call, and it returns only once the old
//!   table is freed, so a growth never meets the remains of the previous one.
//!
//! # Snapshots
//!
//! [`HashIndex::write_snapshot`] copies the table to a [`Device`](faster_device::Device) for a
//! checkpoint; [`HashIndex::read_snapshot`] builds an index back. The format (header with
//! magic, version, sizes and xxh3 checksums, then the buckets, little-endian) is drawn in the
//! `snapshot` module source and in the repository's `docs/formats.md`.
//!
//! - **S1 — fuzzy write.** Only at REST. Table buckets first; then the overflow count is read,
//!   and overflow buckets `1..=count` follow, where a link above the count (made after it was
//!   read) is written as 0. Data first, header last. Entries may change during the copy: the
//!   store's recovery replays the log from the snapshot's start to repair them.
//! - **S2 — checked read.** Magic, version, header checksum, field consistency, zero padding,
//!   data checksum; every link at most the count and every overflow bucket linked at most once
//!   (so every chain ends). Tentative entries are dropped, and of two final entries with one tag
//!   in a chain the first is kept.
//!
//! # What the index does not do
//!
//! It never sees keys or records: callers hash keys ([`KeyHash`]) and walk record chains. It
//! does not lock records, does not know the log's regions (a growth asks the [`Resolver`]), and
//! never shrinks. Overflow buckets are not reclaimed until their table is freed. Entries that a
//! snapshot missed are the store's recovery's to restore.
//!
//! # Example
//!
//! ```
//! use faster_epoch::Epoch;
//! use faster_index::{Address, HashIndex, IndexConfig, KeyHash, UNSET_ADDRESS};
//!
//! let epoch = Epoch::new();
//! let index = HashIndex::new(IndexConfig::default().buckets(1024), epoch.clone())?;
//! let handle = epoch.register()?;
//! let guard = handle.protect();
//!
//! let hash = KeyHash(0x1234_5678_9abc_def0);
//! let slot = index.find_or_create(hash, &guard)?; // a new entry
//! assert_eq!(slot.address(), UNSET_ADDRESS);
//! let record = Address::new(4096).ok_or("address beyond 48 bits")?;
//! slot.compare_exchange(slot.address(), record).unwrap(); // install the record at 4096
//! assert_eq!(index.find(hash, &guard)?.map(|s| s.address()), Some(record));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bucket;
mod config;
mod entry;
mod error;
mod find;
mod grow;
mod index;
mod overflow;
mod restore;
mod snapshot;
mod stats;
mod sync;
mod table;

pub use bucket::{BUCKET_BYTES, ENTRIES_PER_BUCKET};
pub use config::{DEFAULT_TABLE_SIZE_BITS, IndexConfig, MAX_TABLE_SIZE_BITS};
pub use entry::{Entry, KeyHash, TAG_BITS, UNSET_ADDRESS};
pub use error::{Busy, IndexError, InvariantViolation, SnapshotError, SnapshotPart};
pub use faster_address::Address;
pub use find::EntrySlot;
pub use grow::{RecordLookup, Resolver};
pub use index::HashIndex;
pub use snapshot::{
    SNAPSHOT_FORMAT_VERSION, SNAPSHOT_HEADER_BYTES, SNAPSHOT_MAGIC, SnapshotHeader, SnapshotInfo,
    parse_snapshot_header,
};
pub use stats::IndexStats;

#[cfg(doc)]
use faster_epoch::{Epoch, Guard};
