//! Commands on the whole store, run by the connection after the earlier commands of its
//! pipeline: `DBSIZE`, `SCAN`, `FLUSHDB`, `SAVE`, `BGSAVE`, `INFO`. The store's own blocking
//! calls (the live-record scan, waiting for a checkpoint) run on the runtime's blocking
//! threads.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use super::Client;
use crate::keyops::{ByteStore, KeyOp};
use crate::resp::Frame;
use crate::scan;
use crate::state::{Shared, unix_now};

/// Work on the whole store.
#[derive(Debug)]
pub(crate) enum Global {
    DbSize,
    FlushDb,
    Scan {
        cursor: u64,
        pattern: Option<Vec<u8>>,
        count: usize,
        /// `TYPE` asked for strings (or was not given).
        strings: bool,
    },
    Save,
    BgSave,
    Info(Vec<Vec<u8>>),
}

/// Keys deleted per batch by `FLUSHDB`.
const FLUSH_BATCH: usize = 4096;

/// Runs `f` with the store on a blocking thread; an error reply if it fails.
async fn blocking<T: Send + 'static>(
    store: &Arc<ByteStore>,
    f: impl FnOnce(&ByteStore) -> Result<T, String> + Send + 'static,
) -> Result<T, Frame> {
    let store = Arc::clone(store);
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Frame::error(format!("ERR store: {e}"))),
        Err(e) => Err(Frame::error(format!("ERR store: {e}"))),
    }
}

/// The reply of `global`.
pub(crate) async fn run(global: Global, shared: &Arc<Shared>, client: &Client) -> Frame {
    let reply = match global {
        Global::DbSize => blocking(&shared.store, |s| {
            scan::count_keys(s).map_err(|e| e.to_string())
        })
        .await
        .map(|n| Frame::Integer(i64::try_from(n).unwrap_or(i64::MAX))),
        Global::FlushDb => flush(shared).await,
        Global::Scan {
            cursor,
            pattern,
            count,
            strings,
        } => scan_page(shared, cursor, pattern, count, strings).await,
        Global::Save => save(shared).await,
        Global::BgSave => bgsave(shared),
        Global::Info(sections) => {
            let shared = Arc::clone(shared);
            let protocol = client.protocol;
            match tokio::task::spawn_blocking(move || crate::info::render(&shared, &sections)).await
            {
                Ok(text) if protocol == crate::resp::Protocol::Resp3 => Ok(Frame::Verbatim {
                    format: *b"txt",
                    text,
                }),
                Ok(text) => Ok(Frame::Bulk(text)),
                Err(e) => Err(Frame::error(format!("ERR {e}"))),
            }
        }
    };
    reply.unwrap_or_else(|error| error)
}

async fn flush(shared: &Arc<Shared>) -> Result<Frame, Frame> {
    let keys = blocking(&shared.store, |s| {
        scan::all_keys(s).map_err(|e| e.to_string())
    })
    .await?;
    if let Ok(mut cursors) = shared.scans.lock() {
        cursors.clear();
    }
    let mut keys = keys.into_iter().peekable();
    while keys.peek().is_some() {
        let ops = keys.by_ref().take(FLUSH_BATCH).map(KeyOp::Remove).collect();
        let replies = shared.shards.run(ops).await;
        if let Some(error) = replies.into_iter().find(|f| matches!(f, Frame::Error(_))) {
            return Err(error);
        }
    }
    Ok(Frame::ok())
}

async fn scan_page(
    shared: &Arc<Shared>,
    cursor: u64,
    pattern: Option<Vec<u8>>,
    count: usize,
    strings: bool,
) -> Result<Frame, Frame> {
    let (id, position) = scan::split_cursor(cursor);
    let open = match shared.scans.lock() {
        Ok(cursors) if cursor != 0 => cursors.get(id),
        _ => None,
    };
    let (id, keys) = match open {
        Some(keys) => (id, keys),
        None => {
            let keys = Arc::new(
                blocking(&shared.store, |s| {
                    scan::all_keys(s).map_err(|e| e.to_string())
                })
                .await?,
            );
            let id = match shared.scans.lock() {
                Ok(mut cursors) => cursors.insert(Arc::clone(&keys)),
                Err(_) => 0,
            };
            (id, keys)
        }
    };
    let end = position.saturating_add(count).min(keys.len());
    let page = keys
        .get(position..end)
        .unwrap_or_default()
        .iter()
        .filter(|key| {
            strings
                && pattern
                    .as_ref()
                    .is_none_or(|p| crate::glob::matches(p, key))
        })
        .map(|key| Frame::Bulk(key.clone()))
        .collect();
    let next = if end >= keys.len() {
        if let Ok(mut cursors) = shared.scans.lock() {
            cursors.remove(id);
        }
        0
    } else {
        scan::cursor(id, end)
    };
    Ok(Frame::Array(vec![
        Frame::Bulk(next.to_string().into_bytes()),
        Frame::Array(page),
    ]))
}

/// `SAVE`: a checkpoint, waited for.
async fn save(shared: &Arc<Shared>) -> Result<Frame, Frame> {
    if shared.saving.swap(true, Ordering::AcqRel) {
        return Err(Frame::error("ERR Background save already in progress"));
    }
    let aof = shared.aof.clone();
    let saved = blocking(&shared.store, move |s| {
        crate::aof::checkpoint(s, aof.as_deref())
    })
    .await;
    shared.saving.store(false, Ordering::Release);
    saved?;
    shared.last_save.store(unix_now(), Ordering::Release);
    Ok(Frame::ok())
}

/// `BGSAVE`: a checkpoint, waited for by a blocking thread.
fn bgsave(shared: &Arc<Shared>) -> Result<Frame, Frame> {
    if shared.saving.swap(true, Ordering::AcqRel) {
        return Err(Frame::error("ERR Background save already in progress"));
    }
    let handle = Arc::clone(shared);
    tokio::task::spawn_blocking(move || {
        let saved = crate::aof::checkpoint(&handle.store, handle.aof.as_deref());
        match saved {
            Ok(_) => handle.last_save.store(unix_now(), Ordering::Release),
            Err(e) => tracing::warn!("faster-server: BGSAVE: {e}"),
        }
        handle.saving.store(false, Ordering::Release);
    });
    Ok(Frame::simple("Background saving started"))
}

/// Takes a checkpoint every `every` (from the end of the previous one) until `stopped`; one
/// that finds a `SAVE` or `BGSAVE` running waits for the next turn.
pub(crate) async fn periodic_checkpoints(
    shared: Arc<Shared>,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
        if let Err(error) = save(&shared).await {
            tracing::warn!("faster-server: periodic checkpoint: {error:?}");
        }
    }
}
