//! [`SystemState`]: the global (action, phase, version) of a store, in one atomic word, and
//! the phase sequence of each action (rules C1–C3).

/// A phase of the checkpoint and growth state machines (FASTER's `Phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Phase {
    /// No checkpoint or growth in progress.
    Rest = 0,
    /// Sessions acknowledge that an index checkpoint is starting.
    PrepIndexCheckpoint = 1,
    /// The index is being written (a fuzzy copy).
    IndexCheckpoint = 2,
    /// Sessions acknowledge the coming version change; operations are still of version `v`.
    Prepare = 3,
    /// The version is `v + 1`; sessions move to it as they notice.
    InProgress = 4,
    /// Operations of version `v` still pending on the device finish (or are carried over).
    WaitPending = 5,
    /// The log's version-`v` image is being made durable.
    WaitFlush = 6,
    /// The checkpoint is durable; sessions learn their commit points.
    PersistenceCallback = 7,
    /// Sessions acknowledge that the index is about to grow.
    GrowPrepare = 8,
    /// The index is being split into its doubled table.
    GrowInProgress = 9,
}

impl Phase {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Rest,
            1 => Self::PrepIndexCheckpoint,
            2 => Self::IndexCheckpoint,
            3 => Self::Prepare,
            4 => Self::InProgress,
            5 => Self::WaitPending,
            6 => Self::WaitFlush,
            7 => Self::PersistenceCallback,
            8 => Self::GrowPrepare,
            9 => Self::GrowInProgress,
            _ => return None,
        })
    }

    /// Whether operations of a session in this phase belong to the new version `v + 1` of a
    /// checkpoint in progress (they mark the records they write "in new version").
    pub fn is_new_version(self) -> bool {
        matches!(
            self,
            Self::InProgress | Self::WaitPending | Self::WaitFlush | Self::PersistenceCallback
        )
    }
}

/// How the log part of a checkpoint is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum LogCheckpointKind {
    /// Flush the log up to the checkpoint's final address; the log itself is the checkpoint.
    FoldOver,
    /// Copy the log's in-memory part to a snapshot file; the mutable region stays mutable.
    Snapshot,
    /// Copy only the pages changed since the last snapshot (full or incremental).
    IncrementalSnapshot,
}

/// What a state machine run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Nothing (the state is at rest).
    None,
    /// A checkpoint: of the index, of the log, or both.
    Checkpoint {
        /// Whether the index is written.
        index: bool,
        /// How the log is written, or `None` for an index-only checkpoint.
        log: Option<LogCheckpointKind>,
    },
    /// The index doubles.
    Grow,
}

impl Action {
    fn to_u8(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Grow => 1,
            Self::Checkpoint { index, log } => {
                let log_bits = match log {
                    None => 0,
                    Some(LogCheckpointKind::FoldOver) => 1,
                    Some(LogCheckpointKind::Snapshot) => 2,
                    Some(LogCheckpointKind::IncrementalSnapshot) => 3,
                };
                0x10 | (u8::from(index) << 2) | log_bits
            }
        }
    }

    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::None,
            1 => Self::Grow,
            v if v & 0xf0 == 0x10 => Self::Checkpoint {
                index: v & 0x4 != 0,
                log: match v & 0x3 {
                    0 => None,
                    1 => Some(LogCheckpointKind::FoldOver),
                    2 => Some(LogCheckpointKind::Snapshot),
                    _ => Some(LogCheckpointKind::IncrementalSnapshot),
                },
            },
            _ => return None,
        })
    }
}

/// The global state: `(action, phase, version)`, packed in one `u64` (rule C1):
/// bits 0–31 version, 32–39 phase, 40–47 action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SystemState {
    /// What the current run of the state machine does.
    pub action: Action,
    /// The phase of that run.
    pub phase: Phase,
    /// The version: operations of sessions that have not moved to `version + 1` belong to it.
    pub version: u32,
}

impl SystemState {
    /// At rest in `version`.
    pub const fn rest(version: u32) -> Self {
        Self {
            action: Action::None,
            phase: Phase::Rest,
            version,
        }
    }

    /// The packed word.
    pub fn pack(self) -> u64 {
        u64::from(self.version)
            | (u64::from(self.phase as u8) << 32)
            | (u64::from(self.action.to_u8()) << 40)
    }

    /// Unpacks a word made by [`SystemState::pack`]; `None` for a word no state packs to.
    pub fn unpack(word: u64) -> Option<Self> {
        Some(Self {
            version: (word & 0xffff_ffff) as u32,
            phase: Phase::from_u8((word >> 32) as u8)?,
            action: Action::from_u8((word >> 40) as u8)?,
        })
    }

    /// The first state of `action` started from rest in `self.version` (rule C2), or `None`
    /// if the state is not at rest or `action` is [`Action::None`].
    pub fn start(self, action: Action) -> Option<Self> {
        if self.phase != Phase::Rest {
            return None;
        }
        let phase = match action {
            Action::None
            | Action::Checkpoint {
                index: false,
                log: None,
            } => return None,
            Action::Grow => Phase::GrowPrepare,
            Action::Checkpoint { index: true, .. } => Phase::PrepIndexCheckpoint,
            Action::Checkpoint {
                index: false,
                log: Some(_),
            } => Phase::Prepare,
        };
        Some(Self {
            action,
            phase,
            version: self.version,
        })
    }

    /// The state after this one (rule C2). The version grows by one entering
    /// [`Phase::InProgress`]; the last phase of every action leads back to rest.
    pub fn next(self) -> Self {
        let rest = |version| Self::rest(version);
        let with = |phase, version| Self {
            action: self.action,
            phase,
            version,
        };
        let v = self.version;
        match (self.action, self.phase) {
            (_, Phase::Rest) | (Action::None, _) => rest(v),
            (Action::Grow, Phase::GrowPrepare) => with(Phase::GrowInProgress, v),
            (Action::Grow, _) => rest(v),
            (Action::Checkpoint { .. }, Phase::PrepIndexCheckpoint) => {
                with(Phase::IndexCheckpoint, v)
            }
            (Action::Checkpoint { log: None, .. }, Phase::IndexCheckpoint) => rest(v),
            (Action::Checkpoint { .. }, Phase::IndexCheckpoint) => with(Phase::Prepare, v),
            (Action::Checkpoint { .. }, Phase::Prepare) => {
                with(Phase::InProgress, v.wrapping_add(1))
            }
            (Action::Checkpoint { .. }, Phase::InProgress) => with(Phase::WaitPending, v),
            (Action::Checkpoint { .. }, Phase::WaitPending) => with(Phase::WaitFlush, v),
            (Action::Checkpoint { .. }, Phase::WaitFlush) => with(Phase::PersistenceCallback, v),
            (Action::Checkpoint { .. }, _) => rest(v),
        }
    }

    /// Whether this state is at rest.
    pub fn is_rest(self) -> bool {
        self.phase == Phase::Rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(action: Action, version: u32) -> Vec<(Phase, u32)> {
        let mut state = SystemState::rest(version).start(action).unwrap();
        let mut seen = vec![(state.phase, state.version)];
        while !state.is_rest() {
            state = state.next();
            seen.push((state.phase, state.version));
        }
        seen
    }

    #[test]
    fn a_full_checkpoint_runs_every_phase_and_moves_the_version_once() {
        use Phase::*;
        let full = Action::Checkpoint {
            index: true,
            log: Some(LogCheckpointKind::FoldOver),
        };
        assert_eq!(
            run(full, 7),
            vec![
                (PrepIndexCheckpoint, 7),
                (IndexCheckpoint, 7),
                (Prepare, 7),
                (InProgress, 8),
                (WaitPending, 8),
                (WaitFlush, 8),
                (PersistenceCallback, 8),
                (Rest, 8),
            ]
        );
    }

    #[test]
    fn index_only_log_only_and_grow_take_their_own_paths() {
        use Phase::*;
        assert_eq!(
            run(
                Action::Checkpoint {
                    index: true,
                    log: None
                },
                3
            ),
            vec![(PrepIndexCheckpoint, 3), (IndexCheckpoint, 3), (Rest, 3)]
        );
        let log_only = Action::Checkpoint {
            index: false,
            log: Some(LogCheckpointKind::Snapshot),
        };
        assert_eq!(run(log_only, 3)[0], (Prepare, 3));
        assert_eq!(run(log_only, 3).last(), Some(&(Rest, 4)));
        assert_eq!(
            run(Action::Grow, 3),
            vec![(GrowPrepare, 3), (GrowInProgress, 3), (Rest, 3)]
        );
    }

    #[test]
    fn every_state_packs_and_unpacks() {
        for action in [
            Action::None,
            Action::Grow,
            Action::Checkpoint {
                index: true,
                log: None,
            },
            Action::Checkpoint {
                index: false,
                log: Some(LogCheckpointKind::IncrementalSnapshot),
            },
            Action::Checkpoint {
                index: true,
                log: Some(LogCheckpointKind::Snapshot),
            },
        ] {
            for phase in (0..10).filter_map(Phase::from_u8) {
                let s = SystemState {
                    action,
                    phase,
                    version: 0xdead_beef,
                };
                assert_eq!(SystemState::unpack(s.pack()), Some(s));
            }
        }
        assert_eq!(SystemState::unpack(0xff << 32), None);
    }

    #[test]
    fn only_rest_starts_an_action() {
        let busy = SystemState::rest(1).start(Action::Grow).unwrap();
        assert_eq!(busy.start(Action::Grow), None);
        assert_eq!(SystemState::rest(1).start(Action::None), None);
    }
}
