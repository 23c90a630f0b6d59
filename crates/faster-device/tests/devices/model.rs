//! Random operation sequences checked against a byte-array oracle: what a device returns is
//! what was last written there, and after a crash, what was last flushed.

use std::sync::Arc;

use faster_device::{CrashMode, Device, DeviceExt, FaultDevice, MemDevice};
use proptest::prelude::*;

const SECTOR: usize = 512;
const SEGMENT: u64 = 4096;
const SPACE: usize = 8 * SEGMENT as usize;

#[derive(Debug, Clone)]
enum Op {
    Write {
        sector: usize,
        sectors: usize,
        fill: u8,
    },
    Read {
        sector: usize,
        sectors: usize,
    },
    Flush,
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    let range = (0..SPACE / SECTOR).prop_flat_map(|s| (Just(s), 1..=(SPACE / SECTOR - s).min(24)));
    prop_oneof![
        4 => (range.clone(), any::<u8>()).prop_map(|((sector, sectors), fill)| Op::Write { sector, sectors, fill }),
        3 => range.prop_map(|(sector, sectors)| Op::Read { sector, sectors }),
        1 => Just(Op::Flush),
        1 => Just(Op::Crash),
    ]
}

fn check(ops: &[Op]) -> Result<(), TestCaseError> {
    let mem: Arc<dyn Device> = Arc::new(
        MemDevice::builder()
            .sector_size(SECTOR)
            .segment_size(SEGMENT)
            .build()
            .unwrap(),
    );
    let device = FaultDevice::new(mem);
    let mut current = vec![0u8; SPACE];
    let mut durable = vec![0u8; SPACE];
    for op in ops {
        match *op {
            Op::Write {
                sector,
                sectors,
                fill,
            } => {
                let (at, len) = (sector * SECTOR, sectors * SECTOR);
                // Distinct bytes per position, so misplaced data shows.
                let data: Vec<u8> = (0..len).map(|i| fill ^ (i / SECTOR) as u8).collect();
                device.write_blocking(at as u64, &data).unwrap();
                current[at..at + len].copy_from_slice(&data);
            }
            Op::Read { sector, sectors } => {
                let (at, len) = (sector * SECTOR, sectors * SECTOR);
                let mut back = vec![0xEE; len];
                device.read_blocking(at as u64, &mut back).unwrap();
                prop_assert_eq!(&back[..], &current[at..at + len], "read at {}", at);
            }
            Op::Flush => {
                device.flush().unwrap();
                durable.clone_from(&current);
            }
            Op::Crash => {
                device.crash(CrashMode::DropUnflushed).unwrap();
                current.clone_from(&durable);
            }
        }
    }
    let mut all = vec![0; SPACE];
    device.read_blocking(0, &mut all).unwrap();
    prop_assert_eq!(all, current);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn fault_device_over_memory_matches_a_write_flush_crash_oracle(ops in prop::collection::vec(op(), 1..60)) {
        check(&ops)?;
    }
}
