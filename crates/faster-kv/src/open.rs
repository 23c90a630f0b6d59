//! Opening a store: creating it in an empty directory, or reopening the one a directory
//! holds — which is recovering its newest valid checkpoint.
//!
//! 1. The store's directory (its *home*: the `dir`, or the checkpoint directory of a store on
//!    a device of the caller's) is locked for the life of the store ([`DirLock`]); a separate
//!    checkpoint directory is locked too.
//! 2. Without a manifest, the directory must be empty (or hold only what a creation cut short
//!    leaves: the lock file, a temporary manifest); then the store is created: a manifest with
//!    a new store identity and a new log identity, written durably before anything else.
//! 3. With a manifest, the builder's settings and types are checked against it, the device is
//!    opened with the log identity it records, and [`choose`] picks the checkpoint. If none
//!    ever completed, nothing was durable: the old log's segment files and the incomplete
//!    checkpoints are removed, and the store starts empty with a new log identity.

use std::path::Path;
use std::sync::Arc;

use faster_cpr::{CheckpointDir, CheckpointToken};
use faster_device::{Device, DirLock};
use faster_epoch::Epoch;
use faster_hlog::HybridLog;
use faster_index::HashIndex;

use crate::checkpoint::choose::{Choice, Expect, choose};
use crate::checkpoint::jobs::read_index_snapshot;
use crate::checkpoint::recover::recover_chosen;
use crate::codec::Codec;
use crate::config::{FasterKvBuilder, Storage};
use crate::error::{CodecRole, OpenError};
use crate::kv::FasterKv;
use crate::manifest::{Manifest, RECORD_FORMAT, StoredCodec, check_recorded};
use crate::opened::{Opened, Recovered};
use crate::settings::Settings;
use crate::store::{Store, StoreParts};
use crate::store_dir::{
    Home, identity, io, lock, lock_checkpoint_dir, log_error, open_device, restart_log,
};
use faster_device::fresh_identity;

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    OpenOrCreate,
    CreateNew,
    Recover(Option<CheckpointToken>),
}

impl Mode {
    /// The checkpoint asked for, if one was.
    fn token(self) -> Option<CheckpointToken> {
        match self {
            Self::Recover(token) => token,
            Self::OpenOrCreate | Self::CreateNew => None,
        }
    }
}

impl FasterKvBuilder {
    /// Opens the store: recovers the newest valid checkpoint when the directory holds a store,
    /// creates a store when it is empty (or missing). [`FasterKv::opened`] says which, with the
    /// recovered token and every session's recovered serial number.
    ///
    /// Nothing needs repeating on a reopen: the page and segment sizes and the types are read
    /// back from the store's manifest, and a setting or a type that contradicts them is
    /// refused. Without a directory (an in-memory store without a checkpoint directory) the
    /// store is new every time.
    ///
    /// # Errors
    /// [`OpenError::Locked`] when another open store holds the directory,
    /// [`OpenError::NotAStore`] for a directory with other files,
    /// [`OpenError::TypeMismatch`] / [`OpenError::SettingMismatch`] for a contradiction with
    /// the manifest, [`OpenError::Io`] naming the file that could not be read, and the errors
    /// of recovery (see [`FasterKvBuilder::recover`]).
    pub fn open<K: Codec + ?Sized, V: Codec + ?Sized>(self) -> Result<FasterKv<K, V>, OpenError> {
        open_store(self, Mode::OpenOrCreate)
    }

    /// Creates a new store, refusing a directory that already holds one.
    ///
    /// # Errors
    /// [`OpenError::AlreadyExists`], and the errors of [`FasterKvBuilder::open`].
    pub fn create_new<K: Codec + ?Sized, V: Codec + ?Sized>(
        self,
    ) -> Result<FasterKv<K, V>, OpenError> {
        open_store(self, Mode::CreateNew)
    }

    /// Opens the store from checkpoint `token`, or from the newest valid checkpoint when
    /// `token` is `None`; unlike [`FasterKvBuilder::open`], never creates a store. Recovering
    /// a checkpoint that is not the newest takes every newer one out of reach (their
    /// completion markers are removed: the log they need is rewritten from the recovered
    /// point on).
    ///
    /// A newer checkpoint is passed over only when it is proven damaged (a checksum, a
    /// length, a version, a missing completion marker); an I/O error while reading one is
    /// returned ([`RecoverError::Io`](crate::RecoverError::Io)) and takes nothing out of
    /// reach.
    ///
    /// # Errors
    /// [`OpenError::NoCheckpoint`] when there is nothing to recover, or every checkpoint is
    /// damaged (they are listed); [`OpenError::Foreign`] for a checkpoint of another store or
    /// another incarnation of the log; [`OpenError::LogMissing`] when log segments it needs
    /// are gone; the error naming the damaged file or record; never a panic.
    pub fn recover<K: Codec + ?Sized, V: Codec + ?Sized>(
        self,
        token: Option<CheckpointToken>,
    ) -> Result<(FasterKv<K, V>, Recovered), OpenError> {
        let kv: FasterKv<K, V> = open_store(self, Mode::Recover(token))?;
        match kv.opened() {
            Opened::Recovered(r) => {
                let r = r.clone();
                Ok((kv, r))
            }
            // `Mode::Recover` returns an error rather than a store it did not recover.
            _ => Err(OpenError::NoCheckpointDir),
        }
    }
}

/// Opens the store under a `faster_kv::open` span, and reports the outcome as an event: what
/// opening did, or the error returned to the caller.
fn open_store<K: Codec + ?Sized, V: Codec + ?Sized>(
    b: FasterKvBuilder,
    mode: Mode,
) -> Result<FasterKv<K, V>, OpenError> {
    let dir = b.home().map_or_else(
        || "(in memory)".to_string(),
        |home| home.display().to_string(),
    );
    let span = tracing::info_span!("faster_kv::open", dir = %dir, mode = ?mode);
    let _entered = span.enter();
    let result = open_inner(b, mode);
    match &result {
        Ok(kv) => match kv.opened() {
            Opened::Created => tracing::info!("created a new store"),
            Opened::Empty => tracing::info!("no checkpoint had completed; the store starts empty"),
            Opened::Recovered(r) => tracing::info!(token = %r.token, "recovered"),
        },
        Err(error) => tracing::warn!(%error, "open failed"),
    }
    result
}

fn open_inner<K: Codec + ?Sized, V: Codec + ?Sized>(
    b: FasterKvBuilder,
    mode: Mode,
) -> Result<FasterKv<K, V>, OpenError> {
    if let Some(recorded) = &b.record_codecs {
        check_recorded::<K, V>(recorded)?;
    }
    let Some(home) = b.home() else {
        if matches!(mode, Mode::Recover(_)) {
            return Err(OpenError::NoCheckpointDir);
        }
        let settings = b.resolve(None, None)?;
        let device = open_device(&b.storage, &settings, None)?;
        return fresh(
            settings,
            (device, b.storage.is_owned()),
            None,
            Opened::Created,
        );
    };
    if matches!(mode, Mode::Recover(_)) && !home.is_dir() {
        return Err(OpenError::NoCheckpoint {
            dir: home,
            skipped: Vec::new(),
        });
    }
    std::fs::create_dir_all(&home).map_err(io(&home))?;
    let home_lock = lock(&home)?;
    match (Manifest::read(&home)?, mode) {
        (Some(_), Mode::CreateNew) => Err(OpenError::AlreadyExists { dir: home }),
        (None, Mode::Recover(_)) => match crate::store_dir::not_a_store(&home)? {
            Some(reason) => Err(OpenError::NotAStore { dir: home, reason }),
            None => Err(OpenError::NoCheckpoint {
                dir: home,
                skipped: Vec::new(),
            }),
        },
        (None, _) => create(&b, &home, home_lock),
        (Some(manifest), mode) => reopen(&b, &home, home_lock, manifest, mode),
    }
}

/// Creates a store in the empty directory `home`.
fn create<K: Codec + ?Sized, V: Codec + ?Sized>(
    b: &FasterKvBuilder,
    home: &Path,
    home_lock: DirLock,
) -> Result<FasterKv<K, V>, OpenError> {
    crate::store_dir::check_empty(home)?;
    let settings = b.resolve(Some(home), None)?;
    let checkpoints = lock_checkpoint_dir(home, &settings, true)?;
    let recorded = b
        .record_codecs
        .clone()
        .unwrap_or_else(|| (StoredCodec::of::<K>(), StoredCodec::of::<V>()));
    let manifest = Manifest {
        store_id: fresh_identity(),
        log_id: fresh_identity(),
        record_format: RECORD_FORMAT,
        page_size_bits: settings.page_size_bits,
        segment_size: settings.segment_size,
        key: recorded.0,
        value: recorded.1,
        created_unix_ms: crate::lifecycle::unix_ms(),
        remembered: settings.remembered(home),
    };
    manifest.write(home)?;
    let device = open_device(&b.storage, &settings, Some(manifest.log_id))?;
    let home = Home::new((home_lock, checkpoints), &b.storage, &manifest, &*device);
    fresh(
        settings,
        (device, b.storage.is_owned()),
        Some(home),
        Opened::Created,
    )
}

/// Refuses a store whose records this build cannot read.
fn check_record_format(home: &Path, manifest: &Manifest) -> Result<(), OpenError> {
    if manifest.record_format == RECORD_FORMAT {
        return Ok(());
    }
    Err(OpenError::NotAStore {
        dir: home.to_path_buf(),
        reason: format!(
            "its records have format {}; this build reads format {RECORD_FORMAT}",
            manifest.record_format
        ),
    })
}

/// Checks the codecs `K` and `V`, and the codecs the builder would record, against the
/// manifest; returns whether a type was renamed (see [`Manifest::check_codecs`]).
fn check_codecs<K: Codec + ?Sized, V: Codec + ?Sized>(
    b: &FasterKvBuilder,
    manifest: &mut Manifest,
) -> Result<bool, OpenError> {
    if let Some((key, value)) = &b.record_codecs {
        for (role, stored, recorded) in [
            (CodecRole::Key, &manifest.key, key),
            (CodecRole::Value, &manifest.value, value),
        ] {
            if stored != recorded {
                return Err(OpenError::TypeMismatch {
                    role,
                    stored: stored.to_string(),
                    requested: recorded.to_string(),
                });
            }
        }
    }
    if b.byte_codecs || b.record_codecs.is_some() {
        manifest.check_byte_codecs::<K, V>()?;
        return Ok(false);
    }
    manifest.check_codecs::<K, V>(b.check_type_names)
}

/// Records in the manifest a type that was `renamed` and settings that changed.
fn remember(
    home: &Path,
    settings: &Settings,
    manifest: &mut Manifest,
    renamed: bool,
) -> Result<(), OpenError> {
    let remembered = settings.remembered(home);
    if renamed || remembered != manifest.remembered {
        manifest.remembered = remembered;
        manifest.write(home)?;
    }
    Ok(())
}

/// Reopens the store `manifest` describes.
fn reopen<K: Codec + ?Sized, V: Codec + ?Sized>(
    b: &FasterKvBuilder,
    home: &Path,
    home_lock: DirLock,
    mut manifest: Manifest,
    mode: Mode,
) -> Result<FasterKv<K, V>, OpenError> {
    check_record_format(home, &manifest)?;
    let renamed = check_codecs::<K, V>(b, &mut manifest)?;
    let settings = b.resolve(Some(home), Some(&manifest))?;
    let checkpoints = lock_checkpoint_dir(home, &settings, false)?;
    remember(home, &settings, &mut manifest, renamed)?;
    let mut device = open_device(&b.storage, &settings, Some(manifest.log_id))?;
    let epoch = Epoch::with_capacity(settings.max_sessions.saturating_add(8))?;
    let root = settings
        .checkpoint_dir
        .clone()
        .ok_or(OpenError::NoCheckpointDir)?;
    let dir = CheckpointDir::open(&root)?;
    let choice = {
        let check_log = |from: u64, to: u64| device.check_present(from, to).map_err(log_error);
        let load_index = |dir: &Path| read_index_snapshot(dir, Arc::clone(&epoch));
        let expect = Expect {
            store_id: manifest.store_id,
            log_id: identity(&b.storage, &manifest, &*device).log_id,
            log_id_always: matches!(b.storage, Storage::Dir(_)),
            page_size: settings.page_size(),
            check_log: &check_log,
            load_index: &load_index,
        };
        choose(&dir, mode.token(), &expect)?
    };
    match choice {
        Choice::Chosen(chosen) => {
            let home = Home::new((home_lock, checkpoints), &b.storage, &manifest, &*device);
            recover_chosen(
                settings,
                (device, b.storage.is_owned()),
                epoch,
                dir,
                *chosen,
                home,
            )
        }
        Choice::Nothing { .. } if matches!(mode, Mode::Recover(_)) => {
            Err(OpenError::NoCheckpoint {
                dir: root,
                skipped: Vec::new(),
            })
        }
        Choice::Nothing { incomplete } => {
            // Nothing was ever durable: start the log afresh.
            for token in incomplete {
                dir.remove(token)?;
            }
            if let Storage::Dir(path) = &b.storage {
                device = restart_log(path, home, &mut manifest, &settings, device)?;
            }
            let home = Home::new((home_lock, checkpoints), &b.storage, &manifest, &*device);
            fresh(
                settings,
                (device, b.storage.is_owned()),
                Some(home),
                Opened::Empty,
            )
        }
    }
}

/// Builds a new, empty store.
fn fresh<K: Codec + ?Sized, V: Codec + ?Sized>(
    settings: Settings,
    (device, owns_device): (Arc<dyn Device>, bool),
    home: Option<Home>,
    opened: Opened,
) -> Result<FasterKv<K, V>, OpenError> {
    let epoch = Epoch::with_capacity(settings.max_sessions.saturating_add(8))?;
    let log = HybridLog::open(settings.log_config()?, device, Arc::clone(&epoch))?;
    let index = HashIndex::new(settings.index_config(), Arc::clone(&epoch))?;
    let checkpoint_dir = match (&home, &settings.checkpoint_dir) {
        (Some(_), Some(root)) => Some(CheckpointDir::open(root)?),
        _ => None,
    };
    let store = Arc::new(Store::assemble(StoreParts {
        settings,
        epoch,
        log,
        index,
        version: 1,
        checkpoint_dir,
        last: None,
        home,
        owns_device,
    }));
    Ok(FasterKv::from_store(store, opened))
}
