//! Opening a directory that holds a store recovers it; an empty one creates a store; anything
//! else is refused. Nothing a reopen needs is repeated by hand: the manifest holds it, and a
//! setting or type that contradicts it is refused.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::path::Path;

use common::{FOLD_OVER, all_files, small_in};

use faster_kv::manifest::Manifest;
use faster_kv::{CodecRole, FasterKv, OpErrorKind, OpenError, Opened, Serde};

#[test]
fn open_recovers_the_newest_checkpoint_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = small_in(dir.path()).open().unwrap();
    assert_eq!(store.opened(), Opened::Created);
    let mut s = store.session().unwrap();
    for k in 0..5_000u64 {
        s.upsert(&k, &k).unwrap();
    }
    let info = store.checkpoint().unwrap().wait().unwrap();
    for k in 0..5_000u64 {
        s.upsert(&k, &(k + 1)).unwrap(); // never checkpointed
    }
    s.upsert(&99_999, &1).unwrap();
    let id = s.id();
    drop((s, store));

    // Every setting comes back from the manifest: the defaults here would be a 4 MiB page.
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    let recovered = store.opened().recovered().cloned().unwrap();
    assert_eq!(recovered.token, info.token);
    let commit = recovered.sessions.iter().find(|c| c.id == id).unwrap();
    assert_eq!(commit.serial.get(), 5_000);
    let mut s = store.session().unwrap();
    for k in 0..5_000u64 {
        assert_eq!(s.read(&k).unwrap(), Some(k), "key {k}");
    }
    assert_eq!(s.read(&99_999).unwrap(), None);
    // Opened again without a checkpoint in between: the same checkpoint again.
    s.upsert(&1, &1_000).unwrap();
    drop((s, store));
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    assert_eq!(store.opened().recovered().unwrap().token, info.token);
    let mut s = store.session().unwrap();
    assert_eq!(s.read(&1).unwrap(), Some(1));
    // A checkpoint of this life is what the next one recovers.
    s.upsert(&1, &2_000).unwrap();
    let second = store.checkpoint_with(FOLD_OVER).unwrap().wait().unwrap();
    assert!(second.token > info.token);
    drop((s, store));
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    assert_eq!(store.opened().recovered().unwrap().token, second.token);
    assert_eq!(store.session().unwrap().read(&1).unwrap(), Some(2_000));
}

#[test]
fn a_store_that_never_completed_a_checkpoint_reopens_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = small_in(dir.path()).open().unwrap();
    let mut s = store.session().unwrap();
    for k in 0..20_000u64 {
        s.upsert(&k, &k).unwrap();
    }
    drop((s, store));
    let segments = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("log."))
            .collect();
        names.sort();
        names
    };
    assert!(segments(dir.path()).len() > 1, "the data spilled to disk");
    let log_id = Manifest::read(dir.path()).unwrap().unwrap().log_id;

    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    assert_eq!(store.opened(), Opened::Empty);
    let mut s = store.session().unwrap();
    assert_eq!(s.read(&7).unwrap(), None);
    // The old log is gone and the new one has another identity.
    assert!(
        segments(dir.path()).len() <= 1,
        "{:?}",
        segments(dir.path())
    );
    assert_ne!(Manifest::read(dir.path()).unwrap().unwrap().log_id, log_id);
    s.upsert(&7, &70).unwrap();
    store.checkpoint().unwrap().wait().unwrap();
    drop((s, store));
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    assert_eq!(store.session().unwrap().read(&7).unwrap(), Some(70));
    assert_eq!(store.session().unwrap().read(&8).unwrap(), None);
}

#[test]
fn create_new_refuses_a_store_and_recover_never_creates_one() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("nothing-here");
    let err = small_in(&empty).recover::<u64, u64>(None).unwrap_err();
    assert!(matches!(err, OpenError::NoCheckpoint { .. }), "{err}");
    assert!(!empty.exists(), "recover created {}", empty.display());

    let path = dir.path().join("store");
    let store: FasterKv<u64, u64> = small_in(&path).create_new().unwrap();
    drop(store);
    let err = small_in(&path).create_new::<u64, u64>().unwrap_err();
    assert!(
        matches!(&err, OpenError::AlreadyExists { dir } if dir == &path),
        "{err}"
    );
    // A store with no checkpoint has nothing to recover.
    let err = small_in(&path).recover::<u64, u64>(None).unwrap_err();
    assert!(matches!(err, OpenError::NoCheckpoint { .. }), "{err}");
}

#[test]
fn a_directory_with_other_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    let err = FasterKv::<u64, u64>::open(dir.path()).unwrap_err();
    assert!(matches!(err, OpenError::NotAStore { .. }), "{err}");
    assert!(err.to_string().contains("notes.txt"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("notes.txt")).unwrap(),
        b"mine",
        "the file is left alone"
    );

    // Store files without a manifest: an earlier format, or a manifest removed by hand.
    let old = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = small_in(old.path()).open().unwrap();
    let mut s = store.session().unwrap();
    (0..20_000u64).for_each(|k| s.upsert(&k, &k).unwrap());
    store.checkpoint_with(FOLD_OVER).unwrap().wait().unwrap();
    drop((s, store));
    std::fs::remove_file(old.path().join("MANIFEST")).unwrap();
    let before = all_files(old.path(), false);
    let err = FasterKv::<u64, u64>::open(old.path()).unwrap_err();
    assert!(matches!(err, OpenError::NotAStore { .. }), "{err}");
    assert!(err.to_string().contains("MANIFEST"), "{err}");
    let err = small_in(old.path()).recover::<u64, u64>(None).unwrap_err();
    assert!(matches!(err, OpenError::NotAStore { .. }), "{err}");
    assert_eq!(all_files(old.path(), false), before, "nothing was written");
}

#[test]
fn wrong_key_or_value_types_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = small_in(dir.path()).open().unwrap();
    store.session().unwrap().upsert(&1, &2).unwrap();
    store.checkpoint().unwrap().wait().unwrap();
    drop(store);
    let before = all_files(dir.path(), false);

    fn key_err<K: faster_kv::Codec + ?Sized, V: faster_kv::Codec + ?Sized>(
        dir: &Path,
    ) -> OpenError {
        FasterKv::<K, V>::open(dir).unwrap_err()
    }
    for err in [
        key_err::<str, str>(dir.path()),
        key_err::<u32, u32>(dir.path()),
        key_err::<Serde<u64>, u64>(dir.path()),
        key_err::<[u8; 8], u64>(dir.path()),
        key_err::<i64, u64>(dir.path()),
    ] {
        let OpenError::TypeMismatch {
            role,
            stored,
            requested,
        } = &err
        else {
            panic!("{err}");
        };
        assert_eq!(*role, CodecRole::Key, "{err}");
        assert!(stored.starts_with("u64 (pod, 8 bytes"), "{stored}");
        assert_ne!(stored, requested);
    }
    let err = key_err::<u64, [u8]>(dir.path());
    assert!(
        matches!(
            err,
            OpenError::TypeMismatch {
                role: CodecRole::Value,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        all_files(dir.path(), false),
        before,
        "a refused open writes nothing"
    );
    let store: FasterKv<u64, u64> = FasterKv::open(dir.path()).unwrap();
    assert_eq!(store.session().unwrap().read(&1).unwrap(), Some(2));
}

#[test]
fn contradicting_settings_are_refused_and_the_others_are_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, [u8]> = small_in(dir.path()).memory_budget(16 << 12).open().unwrap();
    drop(store);
    let err = FasterKv::builder()
        .dir(dir.path())
        .page_size_bits(13)
        .open::<u64, [u8]>()
        .unwrap_err();
    match &err {
        OpenError::SettingMismatch {
            setting,
            stored,
            requested,
        } => {
            assert_eq!(*setting, "page_size_bits");
            assert_eq!((stored.as_str(), requested.as_str()), ("12", "13"));
        }
        other => panic!("{other}"),
    }
    let err = FasterKv::builder()
        .dir(dir.path())
        .segment_size(1 << 20)
        .open::<u64, [u8]>()
        .unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::SettingMismatch {
                setting: "segment_size",
                ..
            }
        ),
        "{err}"
    );

    // Unset: the page size comes back (a record larger than a 4 KiB page is refused), and so
    // does the memory budget.
    let store: FasterKv<u64, [u8]> = FasterKv::open(dir.path()).unwrap();
    let err = store
        .session()
        .unwrap()
        .upsert(&1, &[0u8; 5000])
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            OpErrorKind::RecordTooLarge {
                page_size: 4096,
                ..
            }
        ),
        "{err}"
    );
    let manifest = Manifest::read(dir.path()).unwrap().unwrap();
    assert_eq!(manifest.remembered.memory_bytes, 16 << 12);
    drop(store);
    // A changed memory budget is allowed, and remembered in turn.
    drop(
        FasterKv::builder()
            .dir(dir.path())
            .memory_budget(32 << 12)
            .open::<u64, [u8]>()
            .unwrap(),
    );
    let manifest = Manifest::read(dir.path()).unwrap().unwrap();
    assert_eq!(manifest.remembered.memory_bytes, 32 << 12);
    assert_eq!(manifest.page_size_bits, 12);
}

#[test]
fn a_damaged_manifest_is_refused_and_a_foreign_one_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    drop(small_in(dir.path()).open::<u64, u64>().unwrap());
    let path = dir.path().join("MANIFEST");
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    let err = FasterKv::<u64, u64>::open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, OpenError::Manifest { path: p, .. } if *p == path),
        "{err}"
    );
    // Another program's manifest (another magic, as a FasterLog directory has): not a store,
    // not damage.
    let other = tempfile::tempdir().unwrap();
    let sealed = faster_device::envelope::seal(*b"FRSLOGM\n", 1, &[0; 36]);
    std::fs::write(other.path().join("MANIFEST"), sealed).unwrap();
    let err = FasterKv::<u64, u64>::open(other.path()).unwrap_err();
    assert!(matches!(err, OpenError::NotAStore { .. }), "{err}");
    std::fs::write(&path, &good).unwrap();
    assert!(FasterKv::<u64, u64>::open(dir.path()).is_ok());
}

#[test]
fn a_renamed_type_is_accepted_once_when_asked_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store: FasterKv<u64, u64> = small_in(dir.path()).open().unwrap();
    store.session().unwrap().upsert(&1, &2).unwrap();
    store.checkpoint().unwrap().wait().unwrap();
    drop(store);
    // `i64` has the shape of `u64`, but not its name.
    assert!(matches!(
        FasterKv::<i64, u64>::open(dir.path()),
        Err(OpenError::TypeMismatch { .. })
    ));
    let store: FasterKv<i64, u64> = FasterKv::builder()
        .dir(dir.path())
        .check_type_names(false)
        .open()
        .unwrap();
    assert_eq!(store.session().unwrap().read(&1).unwrap(), Some(2));
    drop(store);
    // The new name is the store's now.
    assert!(FasterKv::<i64, u64>::open(dir.path()).is_ok());
    assert!(matches!(
        FasterKv::<u64, u64>::open(dir.path()),
        Err(OpenError::TypeMismatch { .. })
    ));
    // A type of another shape is refused even then.
    assert!(matches!(
        FasterKv::builder()
            .dir(dir.path())
            .check_type_names(false)
            .open::<u32, u64>(),
        Err(OpenError::TypeMismatch { .. })
    ));
}
