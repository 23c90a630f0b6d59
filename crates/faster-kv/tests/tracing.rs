//! The store's spans and events, seen by a recording `tracing` subscriber: a checkpoint's
//! phases in order inside its span, a recovery span on reopen, an index growth, an operation
//! that fails.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use faster_kv::{CheckpointOptions, FasterKv, FasterKvBuilder, LogCheckpointKind, Opened};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span the recorder saw open.
#[derive(Debug, Clone)]
struct SeenSpan {
    name: &'static str,
    parent: Option<u64>,
    fields: HashMap<String, String>,
}

/// An event the recorder saw, with the span it belongs to.
#[derive(Debug, Clone)]
struct SeenEvent {
    span: Option<u64>,
    fields: HashMap<String, String>,
}

impl SeenEvent {
    fn message(&self) -> &str {
        self.fields.get("message").map_or("", String::as_str)
    }
}

/// Field values as text.
struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

#[derive(Default)]
struct Seen {
    spans: HashMap<u64, SeenSpan>,
    events: Vec<SeenEvent>,
}

/// Records every span and event, at every level.
#[derive(Default)]
struct Recorder {
    next_id: AtomicU64,
    seen: Mutex<Seen>,
}

thread_local! {
    /// The spans this thread is in, innermost last.
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

fn current_span() -> Option<u64> {
    ENTERED.with(|stack| stack.borrow().last().copied())
}

/// The recorder as the global subscriber.
struct Installed(Arc<Recorder>);

impl Subscriber for Installed {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let parent = match attrs.parent() {
            Some(parent) => Some(parent.into_u64()),
            None if attrs.is_contextual() => current_span(),
            None => None,
        };
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        let span = SeenSpan {
            name: attrs.metadata().name(),
            parent,
            fields,
        };
        self.0.seen.lock().unwrap().spans.insert(id, span);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut seen = self.0.seen.lock().unwrap();
        if let Some(span) = seen.spans.get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let span = match event.parent() {
            Some(parent) => Some(parent.into_u64()),
            None if event.is_contextual() => current_span(),
            None => None,
        };
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        self.0
            .seen
            .lock()
            .unwrap()
            .events
            .push(SeenEvent { span, fields });
    }

    fn enter(&self, span: &Id) {
        ENTERED.with(|stack| stack.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        ENTERED.with(|stack| {
            let mut stack = stack.borrow_mut();
            if let Some(at) = stack.iter().rposition(|&s| s == span.into_u64()) {
                stack.remove(at);
            }
        });
    }
}

/// The process's recorder, installed as the global subscriber on first use.
fn recorder() -> Arc<Recorder> {
    static RECORDER: OnceLock<Arc<Recorder>> = OnceLock::new();
    Arc::clone(RECORDER.get_or_init(|| {
        let recorder = Arc::new(Recorder::default());
        tracing::subscriber::set_global_default(Installed(Arc::clone(&recorder))).unwrap();
        recorder
    }))
}

impl Recorder {
    /// The ids of the spans named `name` whose field `field` is `value`.
    fn spans(&self, name: &str, field: &str, value: &str) -> Vec<u64> {
        let seen = self.seen.lock().unwrap();
        let mut ids: Vec<u64> = seen
            .spans
            .iter()
            .filter(|(_, s)| {
                s.name == name && s.fields.get(field).map(String::as_str) == Some(value)
            })
            .map(|(&id, _)| id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The events of span `span`, in the order they happened.
    fn events_in(&self, span: u64) -> Vec<SeenEvent> {
        let seen = self.seen.lock().unwrap();
        seen.events
            .iter()
            .filter(|e| e.span == Some(span))
            .cloned()
            .collect()
    }

    fn span(&self, id: u64) -> Option<SeenSpan> {
        self.seen.lock().unwrap().spans.get(&id).cloned()
    }
}

fn builder(dir: &std::path::Path) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir)
        .page_size_bits(12)
        .memory_budget(16 << 12)
        .segment_size(1 << 20)
        .index_buckets(1 << 8)
}

#[test]
fn a_checkpoint_reports_its_phases_in_order_and_reopening_reports_recovery() {
    let recorder = recorder();
    let dir = tempfile::tempdir().unwrap();
    let dir_text = dir.path().display().to_string();
    let info = {
        let store: FasterKv<u64, u64> = builder(dir.path()).open().unwrap();
        let mut session = store.session().unwrap();
        for k in 0..500 {
            session.upsert(&k, &(k * 3)).unwrap();
        }
        drop(session);
        store
            .checkpoint_with(CheckpointOptions {
                log: LogCheckpointKind::FoldOver,
                index: true,
            })
            .unwrap()
            .wait()
            .unwrap()
    };

    let token = info.token.to_string();
    let spans = recorder.spans("faster_kv::checkpoint", "token", &token);
    assert_eq!(spans.len(), 1, "one span for checkpoint {token}");
    let events = recorder.events_in(spans[0]);
    let phases: Vec<&str> = events
        .iter()
        .filter(|e| e.message() == "checkpoint phase")
        .map(|e| e.fields["phase"].as_str())
        .collect();
    assert_eq!(
        phases,
        [
            "PrepIndexCheckpoint",
            "IndexCheckpoint",
            "Prepare",
            "InProgress",
            "WaitPending",
            "WaitFlush",
            "PersistenceCallback",
            "Rest",
        ]
    );
    let last = events.last().unwrap();
    assert_eq!(last.message(), "checkpoint completed");

    // The store's first open created it; this one recovers the checkpoint under the open.
    let opens = recorder.spans("faster_kv::open", "dir", &dir_text);
    assert_eq!(opens.len(), 1, "the first open, in its span");
    let reopened: FasterKv<u64, u64> = builder(dir.path()).open().unwrap();
    assert!(matches!(reopened.opened(), Opened::Recovered(_)));
    let opens = recorder.spans("faster_kv::open", "dir", &dir_text);
    assert_eq!(opens.len(), 2);
    let recovered_token = reopened.opened().recovered().unwrap().token.to_string();
    let recoveries = recorder.spans("faster_kv::recover", "token", &recovered_token);
    let inside_open: Vec<u64> = recoveries
        .into_iter()
        .filter(|&id| recorder.span(id).and_then(|s| s.parent) == Some(opens[1]))
        .collect();
    assert_eq!(inside_open.len(), 1, "a recovery span inside the reopen");
    let outcome: Vec<String> = recorder
        .events_in(opens[1])
        .iter()
        .map(|e| e.message().to_string())
        .collect();
    assert_eq!(outcome.last().map(String::as_str), Some("recovered"));
}

#[test]
fn an_index_growth_reports_the_new_size() {
    let recorder = recorder();
    let store: FasterKv<u64, u64> = FasterKv::builder()
        .in_memory()
        .page_size_bits(12)
        .memory_budget(16 << 12)
        .index_buckets(1 << 6)
        .open()
        .unwrap();
    let buckets = store.grow_index().unwrap();
    let grown = recorder
        .seen
        .lock()
        .unwrap()
        .events
        .iter()
        .filter(|e| e.message() == "index grown")
        .filter_map(|e| e.fields.get("buckets").cloned())
        .any(|b| b == buckets.to_string());
    assert!(grown, "an `index grown` event with {buckets} buckets");
}

#[test]
fn an_operation_that_fails_reports_its_error() {
    let recorder = recorder();
    let store: FasterKv<u64, [u8]> = FasterKv::builder()
        .in_memory()
        .page_size_bits(12)
        .memory_budget(16 << 12)
        .index_buckets(1 << 6)
        .open()
        .unwrap();
    let mut session = store.session().unwrap();
    // A record larger than a page of 4 KiB.
    let error = session
        .upsert(&7, &[0u8; 10_000][..])
        .unwrap_err()
        .to_string();
    let reported = recorder
        .seen
        .lock()
        .unwrap()
        .events
        .iter()
        .filter(|e| e.message() == "operation failed")
        .filter_map(|e| e.fields.get("error").cloned())
        .any(|e| e == error);
    assert!(reported, "an `operation failed` event with {error:?}");
}
