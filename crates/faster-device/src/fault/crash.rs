//! What a simulated crash keeps: [`CrashMode`], the report of what survived
//! ([`CrashReport`]), and the seeded generator that makes `CrashMode::Random` reproducible.

use std::sync::Arc;

use super::overlay::PendingWrite;

/// Which unflushed writes survive [`FaultDevice::crash`](crate::FaultDevice::crash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrashMode {
    /// None: the device holds exactly what completed flushes made durable.
    DropUnflushed,
    /// A subset chosen from `seed`: each unflushed write, in submission order, survives with
    /// probability 1/2; a survivor is torn with probability 1/4, keeping a random prefix of
    /// whole sectors (possibly none). The same seed over the same writes keeps the same
    /// subset.
    Random {
        /// Seed of the choice.
        seed: u64,
    },
}

/// One unflushed write that (partly) survived a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SurvivingWrite {
    /// Position of the write among the unflushed writes, oldest first (0-based).
    pub index: usize,
    /// Device offset of the write.
    pub offset: u64,
    /// Bytes of the write that reached the device: a multiple of the sector size.
    pub kept_len: usize,
    /// Bytes the write carried.
    pub len: usize,
}

/// What a crash did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CrashReport {
    /// Writes not covered by a completed flush at the crash.
    pub unflushed: usize,
    /// Those that reached the device, wholly or as a torn prefix, in submission order.
    pub survivors: Vec<SurvivingWrite>,
}

/// SplitMix64: tiny, seedable, good enough to pick subsets.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Chooses, per `mode`, which of `writes` survive and how many bytes of each.
pub(crate) fn choose_survivors(
    mode: CrashMode,
    writes: &[Arc<PendingWrite>],
    sector_size: usize,
) -> Vec<SurvivingWrite> {
    let CrashMode::Random { seed } = mode else {
        return Vec::new();
    };
    let mut rng = SplitMix64(seed);
    let mut survivors = Vec::new();
    for (index, write) in writes.iter().enumerate() {
        let roll = rng.next();
        if roll & 1 == 0 {
            continue;
        }
        let len = write.data.len();
        let sectors = (len / sector_size) as u64;
        let kept_len = if (roll >> 1) & 3 == 0 && sectors > 0 {
            (rng.next() % sectors) as usize * sector_size
        } else {
            len
        };
        survivors.push(SurvivingWrite {
            index,
            offset: write.offset,
            kept_len,
            len,
        });
    }
    survivors
}
