//! `faster inspect --live`: opens the store with byte codecs and counts its live records and
//! their bytes with a scan, to set against the bytes of log they occupy.

use std::borrow::Borrow;
use std::path::Path;

use faster_kv::Codec;

use crate::bytes::{ByteJob, dispatch, open_bytes, read_manifest};

/// The live records of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Live {
    /// Live records (keys).
    pub(crate) records: u64,
    /// Bytes of their keys and values.
    pub(crate) bytes: u64,
}

/// Counts the live records of the store in `dir`, opening it (so not while another process
/// has it open).
pub(crate) fn count(dir: &Path) -> Result<Live, String> {
    let manifest = read_manifest(dir)?;
    dispatch(&manifest.key, &manifest.value, Count { dir })?
}

struct Count<'a> {
    dir: &'a Path,
}

impl ByteJob for Count<'_> {
    type Output = Result<Live, String>;

    fn run<K: Codec + ?Sized, V: Codec + ?Sized>(self) -> Self::Output {
        let store = open_bytes::<K, V>(self.dir)?;
        let mut live = Live {
            records: 0,
            bytes: 0,
        };
        let scan = store.scan().map_err(|e| format!("scan: {e}"))?;
        for item in scan {
            let (k, v) = item.map_err(|e| format!("scan: {e}"))?;
            let (k, v): (&K, &V) = (k.borrow(), v.borrow());
            let len = k
                .with_bytes(|kb| v.with_bytes(|vb| kb.len() + vb.len()))
                .and_then(|inner| inner)
                .map_err(|e| format!("scan: {e}"))?;
            live.records += 1;
            live.bytes += len as u64;
        }
        Ok(live)
    }
}
