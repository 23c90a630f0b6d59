//! Checkpoints under load where every key shares one of 64 hash chains, so records of
//! both versions interleave in each chain: recovery must invalidate the records of the next
//! version, or a chain walk from an older record would find them.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faster_kv::{Codec, CodecDescriptor, CodecError, CodecKind, FasterKv, FasterKvBuilder};

/// A `u64` key whose hash is one of 64 values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Colliding(u64);

impl Codec for Colliding {
    type Owned = Colliding;
    const FIXED_SIZE: Option<usize> = Some(8);

    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, CodecError> {
        Ok(f(&self.0.to_le_bytes()))
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let word: [u8; 8] = bytes.try_into().map_err(|_| CodecError {
            what: "Colliding",
            reason: format!("{} bytes", bytes.len()),
        })?;
        Ok(Colliding(u64::from_le_bytes(word)))
    }

    fn hash64(&self) -> Result<u64, CodecError> {
        Ok(faster_kv::mix64(self.0 % 64))
    }

    fn descriptor() -> CodecDescriptor {
        CodecDescriptor {
            kind: CodecKind::Pod,
            type_name: std::any::type_name::<Self>(),
            fixed_size: Self::FIXED_SIZE,
            align: 8,
        }
    }
}

fn builder(dir: &std::path::Path) -> FasterKvBuilder {
    FasterKv::builder()
        .dir(dir)
        .page_size_bits(14)
        .memory_budget(32 << 14)
        .segment_size(1 << 20)
        .index_buckets(64)
}

#[test]
fn records_of_the_next_version_never_come_back_through_shared_chains() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<Colliding, u64> = builder(dir.path()).open().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let ran: Arc<Mutex<HashMap<u64, u64>>> = Arc::default();
    let writers: Vec<_> = (0..3)
        .map(|_| {
            let (store, stop, ran) = (store.clone(), Arc::clone(&stop), Arc::clone(&ran));
            std::thread::spawn(move || {
                let mut s = store.session().unwrap();
                let id = s.id().get();
                let mut serial = 0u64;
                while !stop.load(Ordering::Relaxed) && serial < 1_500 {
                    serial += 1;
                    s.upsert(&Colliding((id << 32) | serial), &serial).unwrap();
                }
                ran.lock().unwrap().insert(id, serial);
            })
        })
        .collect();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(5));
        store.checkpoint().unwrap().wait().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    drop(store);
    let (store, info) = builder(dir.path()).recover::<Colliding, u64>(None).unwrap();
    let mut s = store.session().unwrap();
    for (&id, &ran) in ran.lock().unwrap().iter() {
        let commit = info.sessions.iter().find(|c| c.id.get() == id).unwrap();
        for serial in 1..=ran {
            let got = s.read(&Colliding((id << 32) | serial)).unwrap();
            let expected = (serial <= commit.serial.get()).then_some(serial);
            assert_eq!(
                got, expected,
                "session {id} serial {serial}, commit {}",
                commit.serial
            );
        }
    }
}
