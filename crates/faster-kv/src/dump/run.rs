//! [`dump`] and [`load`]: a store's live records to a dump, a dump's records into a store.

use std::borrow::Borrow;
use std::io::{Read, Write};

use faster_hlog::Address;

use super::error::DumpError;
use super::format::corrupt;
use super::reader::DumpReader;
use super::writer::DumpWriter;
use crate::codec::Codec;
use crate::error::{CodecRole, OpError};
use crate::kv::FasterKv;
use crate::manifest::StoredCodec;

/// Records between two progress reports of [`dump`].
const PROGRESS_EVERY: u64 = 4096;

/// How far a [`dump`] or a [`load`] has got, reported as it goes and once at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DumpProgress {
    /// Records written (dump) or upserted (load) so far.
    pub records: u64,
    /// Bytes of the dump written or read so far.
    pub bytes: u64,
    /// Dump only: where the scan of the log is.
    pub scan: Option<ScanPosition>,
}

/// Where a dump's scan of the log is: it reads from `begin` to `end`, and `next` is the
/// address of the next record it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanPosition {
    /// The log's begin address when the scan started.
    pub begin: Address,
    /// The next address the scan reads.
    pub next: Address,
    /// The address the scan ends at.
    pub end: Address,
}

/// What [`dump`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DumpSummary {
    /// Records (live keys) written.
    pub records: u64,
    /// Bytes of the dump.
    pub bytes: u64,
    /// Bytes of the records' keys and values.
    pub data_bytes: u64,
}

/// What [`load`] upserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadSummary {
    /// Records upserted.
    pub records: u64,
    /// Bytes of the dump read.
    pub bytes: u64,
    /// Bytes of the records' keys and values.
    pub data_bytes: u64,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> FasterKv<K, V> {
    /// The key and value codecs the store records: its manifest's (which differ from `K`
    /// and `V` for a store opened with
    /// [`byte_codecs`](crate::FasterKvBuilder::byte_codecs)), those given to
    /// [`record_codecs`](crate::FasterKvBuilder::record_codecs), or `K`'s and `V`'s.
    pub fn recorded_codecs(&self) -> (StoredCodec, StoredCodec) {
        self.store
            .settings
            .codecs
            .clone()
            .unwrap_or_else(|| (StoredCodec::of::<K>(), StoredCodec::of::<V>()))
    }
}

/// Writes every live record of `store` ([`FasterKv::scan`]) to `out` as a dump whose header
/// names the codecs the store records ([`FasterKv::recorded_codecs`]), calling `progress`
/// every few thousand records and at the end. A key written while the dump runs is dumped
/// with its value at the start or not at all (see [`FasterKv::scan`]). Blocks while the
/// scan waits for the log's mutable region to reach the device, so the calling thread must
/// not hold a pinned session. `out` is written in blocks of about a megabyte: no need to
/// buffer it.
///
/// # Errors
/// [`DumpError::Op`] when the scan fails or a record does not encode, [`DumpError::Io`]
/// when `out` fails; the dump then has no trailer and cannot be loaded.
pub fn dump<K, V, W>(
    store: &FasterKv<K, V>,
    out: W,
    mut progress: impl FnMut(DumpProgress),
) -> Result<DumpSummary, DumpError>
where
    K: Codec + ?Sized,
    V: Codec + ?Sized,
    W: Write,
{
    let (key, value) = store.recorded_codecs();
    let mut scan = store.scan()?;
    let begin = store.regions().begin;
    let mut writer = DumpWriter::new(out, &key, &value)?;
    let mut data_bytes = 0u64;
    let report = |writer: &DumpWriter<W>, next: Address, end: Address| DumpProgress {
        records: writer.records(),
        bytes: writer.bytes_written(),
        scan: Some(ScanPosition { begin, next, end }),
    };
    while let Some(item) = scan.next() {
        let (k, v) = item?;
        let (k, v): (&K, &V) = (k.borrow(), v.borrow());
        let written = k.with_bytes(|kb| {
            v.with_bytes(|vb| {
                data_bytes += (kb.len() + vb.len()) as u64;
                writer.write_record(kb, vb)
            })
        });
        written.map_err(OpError::from)?.map_err(OpError::from)??;
        if writer.records() % PROGRESS_EVERY == 0 {
            progress(report(&writer, scan.next_address(), scan.end_address()));
        }
    }
    let end = scan.end_address();
    drop(scan);
    let records = writer.records();
    let last = report(&writer, end, end);
    let (_, bytes) = writer.finish()?;
    progress(DumpProgress { bytes, ..last });
    Ok(DumpSummary {
        records,
        bytes,
        data_bytes,
    })
}

/// Reads a dump from `input` and upserts its records into `store` through one session, a
/// block at a time (the session is pinned for each block's records, never while reading
/// the file), calling `progress` after each block. Records are upserted: a key already in
/// the store takes the dump's value, other keys stay. The loaded records are durable after
/// the store's next checkpoint.
///
/// # Errors
/// [`DumpError::CodecMismatch`] when the dump's codecs are not the ones `store` records
/// (nothing is loaded); the errors of [`DumpReader`] for a damaged or truncated dump, and
/// [`DumpError::Op`] when an upsert fails — the records of the blocks before it have been
/// upserted then.
pub fn load<K, V, R>(
    store: &FasterKv<K, V>,
    input: R,
    progress: impl FnMut(DumpProgress),
) -> Result<LoadSummary, DumpError>
where
    K: Codec + ?Sized,
    V: Codec + ?Sized,
    R: Read,
{
    load_from(store, DumpReader::new(input)?, progress)
}

/// [`load`] from a reader whose header has been read already (to choose the store's codecs
/// from it, say).
///
/// # Errors
/// As [`load`].
pub fn load_from<K, V, R>(
    store: &FasterKv<K, V>,
    mut reader: DumpReader<R>,
    mut progress: impl FnMut(DumpProgress),
) -> Result<LoadSummary, DumpError>
where
    K: Codec + ?Sized,
    V: Codec + ?Sized,
    R: Read,
{
    let (key, value) = store.recorded_codecs();
    let header = reader.header();
    for (role, dump, store) in [
        (CodecRole::Key, &header.key, &key),
        (CodecRole::Value, &header.value, &value),
    ] {
        if dump != store {
            return Err(DumpError::CodecMismatch {
                role,
                dump: dump.to_string(),
                store: store.to_string(),
            });
        }
    }
    let mut session = store.session()?;
    let mut summary = LoadSummary {
        records: 0,
        bytes: 0,
        data_bytes: 0,
    };
    while let Some(records) = reader.next_block()? {
        let mut pinned = session.pin();
        for record in records {
            let k = K::decode(record.key).map_err(|e| undecodable(record.offset, "key", &e))?;
            let v = V::decode(record.value).map_err(|e| undecodable(record.offset, "value", &e))?;
            pinned.upsert(k.borrow(), v.borrow())?;
            summary.records += 1;
            summary.data_bytes += (record.key.len() + record.value.len()) as u64;
        }
        drop(pinned);
        summary.bytes = reader.bytes_read();
        progress(DumpProgress {
            records: summary.records,
            bytes: summary.bytes,
            scan: None,
        });
    }
    summary.bytes = reader.bytes_read();
    Ok(summary)
}

/// A record whose checksum held but whose bytes the store's codec does not accept.
fn undecodable(offset: u64, what: &str, e: &crate::codec::CodecError) -> DumpError {
    corrupt(offset, format!("the record's {what} does not decode: {e}"))
}
