//! How faster-kv works inside, for maintainers: the record format and the numbered rules
//! (R1–R14) that the code cites in its `// SAFETY:` comments and its comments on ordering.
//! Users of the store need none of it.
//!
//! # The algorithm
//!
//! Every record is appended to a hybrid log ([`faster_hlog`]): a logical address space whose
//! newest pages live in memory and whose older pages live on a device. A hash index
//! ([`faster_index`]) maps a key's hash to the address of the newest record whose key has that
//! hash's bucket and tag; older records of the same chain are linked backwards through each
//! record's header. An operation hashes the key, finds the chain in the index, and walks it to
//! the key's newest record:
//!
//! - at or above the log's **read-only** address the record is mutable: reads copy the value,
//!   upserts and RMWs update it in place (8-byte values with one atomic instruction);
//! - between the head and read-only it is immutable: upserts and RMWs append a new record at
//!   the tail and swing the index entry to it with a compare-and-swap;
//! - below the **head** it is on the device: reads and RMWs go *pending* and read it back
//!   (upserts and deletes never need the old record: they just append).
//!
//! Threads work through [`Session`](crate::Session)s. A session protects itself with the store's epoch for each
//! operation (or for a batch, with [`Session::pin`](crate::Session::pin)), which is what keeps page frames alive
//! while it reads them and lets the log flush and evict pages behind everyone's back.
//!
//! # Records
//!
//! A record is an 8-byte header, then (when either side has a variable size) a word holding
//! the key and value lengths, then the key and the value, each padded to 8 bytes. The header
//! holds the previous address of the chain (48 bits), and the tombstone, invalid,
//! in-new-version and sealed bits. Values of at most 8 bytes live in one atomic word; larger
//! values are preceded by a sequence word, a per-record sequence lock. `docs/formats.md` has
//! the byte diagram.
//!
//! # Rules
//!
//! The protocol, cited by number in the code (the hybrid log's rules H1–H9 and the index's
//! rules underlie them):
//!
//! - **R1 — publication.** A record is written completely into freshly allocated log bytes
//!   before a compare-and-swap on its index entry publishes it (release); a thread that loses
//!   the compare-and-swap marks its record invalid and retries. A thread reaches a record only
//!   through the index or an older record's header, under epoch protection, after checking
//!   the address is at or above the head it read under that protection; so the record's
//!   memory stays valid until it refreshes.
//! - **R2 — immutable parts.** A record's key, lengths and previous address never change
//!   after publication, and are read with plain loads.
//! - **R3 — word values and header bits.** A value of at most 8 bytes is one atomic word;
//!   after publication it is read and written only atomically (loads, stores, compare-and-swap
//!   loops for RMW). Tombstone, invalid and sealed bits are set with atomic `fetch_or`.
//! - **R4 — larger values.** A larger value is guarded by a sequence word: writers take it
//!   from even to odd with a compare-and-swap, write the value's words atomically, and make it
//!   even again; readers copy the words and retry if the sequence changed or was odd. The
//!   sequence is 64 bits, so it cannot wrap under a reader.
//! - **R5 — sealing.** A record is updated in place only at or above the read-only address,
//!   checked under protection (hybrid log rule H4), and only while it is not sealed. A thread
//!   that must replace a mutable record by a copy (its value changes size) first seals it,
//!   under the sequence lock, so no in-place update can land on the old copy after the new one
//!   was made from it. Between safe-read-only and read-only (the fuzzy region), where a thread
//!   that has not refreshed may still update in place, an RMW does not copy: it refreshes and
//!   retries.
//! - **R6 — the device is not trusted.** A record read back from the device is parsed with
//!   bounds checks first: reserved header bits must be zero, lengths must match the codecs and
//!   fit in the page, and chains must go backwards. Anything else is
//!   [`OpErrorKind::CorruptRecord`](crate::OpErrorKind::CorruptRecord), never a panic.
//!
//! The checkpoint rules (the phases are faster-cpr's, rules C1–C5; version `v` is the one
//! being checkpointed):
//!
//! - **R7 — header lock.** While the state is PREPARE, a version-`v` session updating a word
//!   value in place first takes the record's header lock, and a `v + 1` session that seals the
//!   record to copy it waits that lock out: no version-`v` update can land on a record after a
//!   `v + 1` copy was made of it.
//! - **R8 — the version boundary.** Records written by `v + 1` sessions during the checkpoint
//!   carry the in-new-version bit, and lie at or above the tail at the version change (the
//!   checkpoint's start address). A `v + 1` session updates in place only such records
//!   (or those of R12); on any other it seals the record and appends a copy. A version-`v`
//!   session that meets a `v + 1` record moves to `v + 1` and retries, so that no `v`
//!   operation depends on a `v + 1` one.
//! - **R9 — commit points.** A session that moves from `v` to `v + 1` records the serial number
//!   of its last version-`v` operation, and the version-`v` operations still pending on the
//!   device, as its commit point in `v`.
//! - **R10 — changed pages.** An in-place update marks its page as changed (at rest only if
//!   the mark names another page; during a checkpoint always, after writing). A snapshot
//!   clears a page's mark before copying the page, so a change made during the copy is in the
//!   copy or in the next incremental snapshot.
//! - **R11 — recovery.** Recovery writes nothing to the log's device before it has chosen its
//!   checkpoint and checked every file of it; then it writes the snapshot chain back to the
//!   device, reopens the log at the final address and replays it into the index, marking
//!   records of the next version invalid (`checkpoint/recover.rs`).
//! - **R12 — copied pages.** A snapshot of `v` is copied only after every session is in
//!   `v + 1` and no version-`v` operation is pending (WAIT_FLUSH), front to back; after each
//!   page it publishes the address below which everything is copied (or unchanged since the
//!   base snapshot). A `v + 1` session may update a version-`v` record below that address in
//!   place: the snapshot already holds its version-`v` value. The address goes back to 0 when
//!   the checkpoint reaches rest, before the next one can start. Fold-over checkpoints publish nothing: their image is the
//!   log itself, read-only below the final address.
//!
//! And one for compaction (`compact/`):
//!
//! - **R14 — the begin address.** A compaction installs the copies of live records below its
//!   `until` with a compare-and-swap on their index entries (rule R1), and only then moves
//!   the begin address to `until` (release). An operation reads the begin address (acquire)
//!   *before* it reads the key's index entry, and a chain that goes below that begin address
//!   ends there: so a walk that misses a record below the new begin address started from an
//!   entry read after the copy was installed. A lookup on the device may see the begin
//!   address move under it (its read answers "truncated"); it then ends as *truncated*, and
//!   the operation starts again from the index if the key's entry changed since it went to
//!   the device (a copy may have been installed), or finishes as absent if it did not. The
//!   device may free the bytes below the begin address as soon as it moved (they then read
//!   back as zeros), so a device read is believed only if its address is still at or above
//!   the begin address once the read has completed.
//!   Segments below the begin address are deleted only when no checkpoint recovery could
//!   choose needs them (`compact/reclaim.rs`).
//!
//! And one for hints:
//!
//! - **R13 — prefetching.** A batch prefetches the buckets and records its next operations will
//!   touch. A prefetch (`_mm_prefetch`, on x86-64, where SSE is baseline) never faults and
//!   never changes memory, so its address needs no check: it may be stale or below the head.
//!
//! The read cache ([`FasterKvBuilder::read_cache`](crate::FasterKvBuilder::read_cache)) adds
//! index entries that point at copies of records outside the log; its rules (RC1–RC7) are at
//! the top of its module, `read_cache/mod.rs`.
