//! One client connection: read what arrived, parse every complete request in it, run them
//! (the key operations of consecutive commands go to the store workers together), and write
//! every reply with one write. A protocol error is answered and closes the connection; a
//! client that stops mid-request only keeps its own connection waiting.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::commands::{self, Client, Finish, Plan};
use crate::keyops::KeyOp;
use crate::resp::{Frame, Protocol, parse_request};
use crate::state::Shared;

/// Bytes read at a time at least.
const READ_CHUNK: usize = 16 << 10;

/// A reply waiting for the key operations of its pipeline.
enum Entry {
    Ready(Frame),
    Keyed(Range<usize>, Finish),
}

/// Serves `stream` until the client leaves, sends `QUIT` or breaks the protocol, or `stop`
/// turns true (the requests already read are answered first).
pub(crate) async fn serve(stream: TcpStream, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let mut client = Client {
        id: shared.next_client_id.fetch_add(1, Ordering::Relaxed),
        name: None,
        protocol: Protocol::Resp2,
    };
    let (mut reader, mut writer) = stream.into_split();
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut output = Vec::new();
    loop {
        if *stop.borrow() {
            break;
        }
        input.reserve(READ_CHUNK);
        tokio::select! {
            read = reader.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
            _ = stop.changed() => break,
        }
        let mut consumed = 0;
        let mut requests = Vec::new();
        let mut broken = None;
        loop {
            let rest = input.get(consumed..).unwrap_or_default();
            match parse_request(rest, &shared.config.limits) {
                Ok(Some((args, used))) => {
                    consumed += used;
                    if !args.is_empty() {
                        requests.push(args);
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    broken = Some(error);
                    break;
                }
            }
        }
        input.drain(..consumed);
        let quit = run(requests, &mut client, &shared, &mut output).await;
        if let Some(error) = &broken {
            error.reply().encode(client.protocol, &mut output);
        }
        // One turn of the runtime before the write: the other connections whose requests
        // arrived meanwhile run first, so their replies leave together and a client that
        // holds many connections (a pool, a benchmark) wakes once for several of them —
        // what redis-server's event loop does by writing every reply just before it waits.
        if !output.is_empty() {
            tokio::task::yield_now().await;
            if writer.write_all(&output).await.is_err() {
                break;
            }
        }
        output.clear();
        if quit || broken.is_some() {
            break;
        }
        if input.capacity() > 4 * READ_CHUNK && input.len() < READ_CHUNK {
            input.shrink_to(READ_CHUNK);
        }
    }
    let _ = writer.shutdown().await;
}

/// Runs a pipeline's requests in order, appending their replies to `output`; whether the
/// client asked to quit.
async fn run(
    requests: Vec<Vec<Vec<u8>>>,
    client: &mut Client,
    shared: &Arc<Shared>,
    output: &mut Vec<u8>,
) -> bool {
    shared.count_commands(requests.len() as u64);
    let mut entries: Vec<(Protocol, Entry)> = Vec::new();
    let mut ops: Vec<KeyOp> = Vec::new();
    for args in requests {
        match commands::plan(args, client, shared) {
            Plan::Reply(frame) => entries.push((client.protocol, Entry::Ready(frame))),
            Plan::Keyed(more, finish) => {
                let start = ops.len();
                ops.extend(more);
                entries.push((client.protocol, Entry::Keyed(start..ops.len(), finish)));
            }
            Plan::Global(global) => {
                finish(&mut entries, &mut ops, shared, output).await;
                let frame = commands::run_global(global, shared, client).await;
                frame.encode(client.protocol, output);
            }
            Plan::Quit => {
                finish(&mut entries, &mut ops, shared, output).await;
                Frame::ok().encode(client.protocol, output);
                return true;
            }
        }
    }
    finish(&mut entries, &mut ops, shared, output).await;
    false
}

/// Runs the gathered key operations and writes the replies of `entries`.
async fn finish(
    entries: &mut Vec<(Protocol, Entry)>,
    ops: &mut Vec<KeyOp>,
    shared: &Shared,
    output: &mut Vec<u8>,
) {
    let mut replies: Vec<Option<Frame>> = if ops.is_empty() {
        Vec::new()
    } else {
        let ops = std::mem::take(ops);
        shared.shards.run(ops).await.into_iter().map(Some).collect()
    };
    for (protocol, entry) in entries.drain(..) {
        let frame = match entry {
            Entry::Ready(frame) => frame,
            Entry::Keyed(range, finish) => {
                let mine = replies
                    .get_mut(range)
                    .unwrap_or_default()
                    .iter_mut()
                    .filter_map(Option::take)
                    .collect();
                finish.reply(mine)
            }
        };
        frame.encode(protocol, output);
    }
}
