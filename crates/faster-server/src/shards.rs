//! The store workers: threads that each own one faster-kv session and run the operations on
//! the keys that hash to them, in the order they arrive.
//!
//! A session is a thread's context (`Send`, not `Sync`) and its operations block when a
//! record is on the device, so sessions stay out of the async runtime: a connection sends a
//! [`Job`] (the operations of a pipeline that belong to one worker) over a channel and awaits
//! the replies. Each key belongs to exactly one worker, so the operations on a key are
//! serialised — per-key atomicity without locks — while different keys proceed in parallel.
//!
//! With `workers = 0` there are no worker threads: one session, behind a mutex, runs every
//! operation on the thread of the connection that asked (*inline*), as redis-server runs
//! commands on its one thread. A request then costs no hand-over between threads, and the
//! mutex serialises the operations of every key as the workers do; an operation whose record
//! is on the device blocks that runtime thread (and the others wait at the mutex) while it
//! reads, so inline mode suits data that mostly fits the memory budget.
//!
//! With an append-only log, a worker appends the post-images of a job's writes in one
//! reservation after running its operations, and says up to where the log must be durable;
//! the connection waits for that (`aof/`) before it sends the replies.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::aof::{Aof, PostImages};
use crate::keyops::{self, ByteStore, KeyOp, Value};
use crate::resp::Frame;

/// A batch of operations for one worker and where to send their replies (in the same order).
pub(crate) struct Job {
    ops: Vec<KeyOp>,
    reply: oneshot::Sender<Done>,
}

/// A job's replies, and what its writes need from the log.
pub(crate) struct Done {
    replies: Vec<Frame>,
    /// The log address the job's entries end at, or why they could not be appended.
    logged: Option<Result<u64, String>>,
}

/// The senders to the workers; the workers end when every clone of this is dropped.
#[derive(Clone)]
pub(crate) struct Shards {
    senders: Vec<mpsc::UnboundedSender<Job>>,
    /// Inline mode: the one session, and the post-images it gathers.
    inline: Option<Arc<Mutex<Inline>>>,
    aof: Option<Arc<Aof>>,
}

/// Inline mode's session and the post-images it gathers, used under one mutex.
type Inline = (faster_kv::Session<[u8], Value>, PostImages);

/// Runs a job's operations through `session`, then appends their post-images to `aof`.
fn run_job(
    session: &mut faster_kv::Session<[u8], Value>,
    ops: Vec<KeyOp>,
    post: &mut PostImages,
    aof: Option<&Aof>,
) -> Done {
    let mut pinned = session.pin();
    let replies = ops
        .into_iter()
        .map(|op| match post.refusal(&op) {
            Some(text) => Frame::error(text),
            None => keyops::run(&mut pinned, op, post),
        })
        .collect();
    drop(pinned);
    let entries = post.take();
    let logged = match aof {
        Some(aof) if !entries.is_empty() => Some(aof.append(&entries).map_err(|e| e.to_string())),
        _ => None,
    };
    Done { replies, logged }
}

/// The worker threads, joined at shutdown.
pub(crate) struct Workers {
    threads: Vec<JoinHandle<()>>,
}

impl Shards {
    /// Starts `count` workers, each with a session of `store`, logging their writes to
    /// `aof` if given; with `count` 0, none: operations run inline.
    pub(crate) fn start(
        store: &ByteStore,
        count: usize,
        aof: Option<Arc<Aof>>,
    ) -> Result<(Self, Workers), faster_kv::SessionError> {
        let mut senders = Vec::new();
        let mut threads = Vec::new();
        if count == 0 {
            let post = PostImages::new(aof.as_ref().map(|a| a.max_entry()));
            let inline = Some(Arc::new(Mutex::new((store.session()?, post))));
            return Ok((
                Self {
                    senders,
                    inline,
                    aof,
                },
                Workers { threads },
            ));
        }
        for index in 0..count {
            let mut session = store.session()?;
            let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
            let aof = aof.clone();
            let thread = std::thread::Builder::new()
                .name(format!("faster-server-store-{index}"))
                .spawn(move || {
                    let mut post = PostImages::new(aof.as_ref().map(|a| a.max_entry()));
                    while let Some(job) = rx.blocking_recv() {
                        let done = run_job(&mut session, job.ops, &mut post, aof.as_deref());
                        // The connection may have gone; its replies go nowhere.
                        let _ = job.reply.send(done);
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
        Ok((
            Self {
                senders,
                inline: None,
                aof,
            },
            Workers { threads },
        ))
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
    pub(crate) fn send(&self, shard: usize, ops: Vec<KeyOp>) -> Option<oneshot::Receiver<Done>> {
        let (reply, answer) = oneshot::channel();
        self.senders.get(shard)?.send(Job { ops, reply }).ok()?;
        Some(answer)
    }

    /// Runs `ops`, each on the worker of its key (or inline), and returns their replies in
    /// order once their writes are as durable as the server's log makes them.
    pub(crate) async fn run(&self, ops: Vec<KeyOp>) -> Vec<Frame> {
        if let Some(inline) = &self.inline {
            let done = {
                let mut guard = inline.lock().unwrap_or_else(PoisonError::into_inner);
                let (session, post) = &mut *guard;
                run_job(session, ops, post, self.aof.as_deref())
            };
            let until = match done.logged {
                Some(Ok(end)) => Some(end),
                Some(Err(e)) => return failed_replies(done.replies.len(), &e),
                None => None,
            };
            if let (Some(aof), Some(until)) = (&self.aof, until)
                && let Err(e) = aof.durable(until).await
            {
                return failed_replies(done.replies.len(), &e.to_string());
            }
            return done.replies;
        }
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
        let mut until = None;
        let mut failed = None;
        for (indices, answer) in pending {
            let Some(answer) = answer else { continue };
            if let Ok(done) = answer.await {
                match done.logged {
                    Some(Ok(end)) => until = until.max(Some(end)),
                    Some(Err(e)) => failed = Some(e),
                    None => {}
                }
                for (index, frame) in indices.into_iter().zip(done.replies) {
                    if let Some(slot) = replies.get_mut(index) {
                        *slot = Some(frame);
                    }
                }
            }
        }
        if let (Some(aof), Some(until)) = (&self.aof, until)
            && let Err(e) = aof.durable(until).await
        {
            failed = Some(e.to_string());
        }
        if let Some(e) = failed {
            return failed_replies(count, &e);
        }
        // A worker that is gone answers nothing.
        replies
            .into_iter()
            .map(|reply| reply.unwrap_or_else(|| Frame::error("ERR server is shutting down")))
            .collect()
    }
}

/// `count` error replies: the writes happened in memory, but are not known to be durable.
fn failed_replies(count: usize, error: &str) -> Vec<Frame> {
    let error = Frame::error(format!("ERR {error}"));
    (0..count).map(|_| error.clone()).collect()
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
