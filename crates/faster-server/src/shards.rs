//! The store workers: threads that each own one faster-kv session and run the operations on
//! the keys that hash to them, in the order they arrive.
//!
//! A session is a thread's context (`Send`, not `Sync`) and its operations block when a
//! record is on the device, so sessions stay out of the async runtime: a connection sends a
//! [`Job`] (the operations of a pipeline that belong to one worker) over a channel and awaits
//! the replies. Each key belongs to exactly one worker, so the operations on a key are
//! serialised — per-key atomicity without locks — while different keys proceed in parallel.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::keyops::{self, ByteStore, KeyOp};
use crate::resp::Frame;

/// A batch of operations for one worker and where to send their replies (in the same order).
pub(crate) struct Job {
    ops: Vec<KeyOp>,
    reply: oneshot::Sender<Vec<Frame>>,
}

/// The senders to the workers; the workers end when every clone of this is dropped.
#[derive(Clone)]
pub(crate) struct Shards {
    senders: Vec<mpsc::UnboundedSender<Job>>,
}

/// The worker threads, joined at shutdown.
pub(crate) struct Workers {
    threads: Vec<JoinHandle<()>>,
}

impl Shards {
    /// Starts `count` workers (at least one), each with a session of `store`.
    pub(crate) fn start(
        store: &ByteStore,
        count: usize,
    ) -> Result<(Self, Workers), faster_kv::SessionError> {
        let mut senders = Vec::new();
        let mut threads = Vec::new();
        for index in 0..count.max(1) {
            let mut session = store.session()?;
            let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
            let thread = std::thread::Builder::new()
                .name(format!("faster-server-store-{index}"))
                .spawn(move || {
                    while let Some(job) = rx.blocking_recv() {
                        let mut pinned = session.pin();
                        let replies = job
                            .ops
                            .into_iter()
                            .map(|op| keyops::run(&mut pinned, op))
                            .collect();
                        drop(pinned);
                        // The connection may have gone; its replies go nowhere.
                        let _ = job.reply.send(replies);
                    }
                });
            match thread {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    tracing::error!("faster-server: starting a store worker: {e}");
                    break;
                }
            }
            senders.push(tx);
        }
        Ok((Self { senders }, Workers { threads }))
    }

    /// The number of workers.
    pub(crate) fn len(&self) -> usize {
        self.senders.len()
    }

    /// The worker that owns `key`.
    pub(crate) fn shard_of(&self, key: &[u8]) -> usize {
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        usize::try_from(hash % self.senders.len().max(1) as u64).unwrap_or(0)
    }

    /// Runs `ops` on worker `shard`; `None` when the worker is gone.
    pub(crate) fn send(
        &self,
        shard: usize,
        ops: Vec<KeyOp>,
    ) -> Option<oneshot::Receiver<Vec<Frame>>> {
        let (reply, answer) = oneshot::channel();
        self.senders.get(shard)?.send(Job { ops, reply }).ok()?;
        Some(answer)
    }

    /// Runs `ops`, each on the worker of its key, and returns their replies in order.
    pub(crate) async fn run(&self, ops: Vec<KeyOp>) -> Vec<Frame> {
        let count = ops.len();
        let mut per_shard: Vec<(Vec<usize>, Vec<KeyOp>)> =
            (0..self.len()).map(|_| (Vec::new(), Vec::new())).collect();
        for (index, op) in ops.into_iter().enumerate() {
            let shard = self.shard_of(op.key());
            if let Some((indices, ops)) = per_shard.get_mut(shard) {
                indices.push(index);
                ops.push(op);
            }
        }
        let mut pending = Vec::new();
        for (shard, (indices, ops)) in per_shard.into_iter().enumerate() {
            if !ops.is_empty() {
                pending.push((indices, self.send(shard, ops)));
            }
        }
        let mut replies: Vec<Option<Frame>> = (0..count).map(|_| None).collect();
        for (indices, answer) in pending {
            let Some(answer) = answer else { continue };
            if let Ok(frames) = answer.await {
                for (index, frame) in indices.into_iter().zip(frames) {
                    if let Some(slot) = replies.get_mut(index) {
                        *slot = Some(frame);
                    }
                }
            }
        }
        // A worker that is gone answers nothing.
        replies
            .into_iter()
            .map(|reply| reply.unwrap_or_else(|| Frame::error("ERR server is shutting down")))
            .collect()
    }
}

impl Workers {
    /// Waits for every worker to end (after every [`Shards`] clone is dropped).
    pub(crate) fn join(self) {
        for thread in self.threads {
            if thread.join().is_err() {
                tracing::error!("faster-server: a store worker panicked");
            }
        }
    }
}
