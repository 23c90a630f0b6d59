//! Batched reads (rule D12): the same bytes as plain reads on every device, and on the
//! io_uring device one system call for a batch.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use faster_device::{AlignedBuf, Device, DeviceError, DeviceExt};

use crate::common::{every_device, pattern};

const BLOCK: usize = 4096;

/// Writes `blocks` blocks of a pattern at offset 0.
fn fill(device: &dyn Device, blocks: usize) {
    device
        .write_blocking(0, &pattern(0, blocks * BLOCK, 7))
        .unwrap();
}

type Done = (u64, Result<(), DeviceError>, Vec<u8>);

/// Issues batched reads of `blocks` (block numbers); each completion sends its block number,
/// result and bytes.
fn read_batched(device: &dyn Device, sender: &Sender<Done>, blocks: &[u64]) {
    for &block in blocks {
        let sender = sender.clone();
        device
            .read_buf_batched(
                block * BLOCK as u64,
                AlignedBuf::zeroed(BLOCK),
                move |result, buf| {
                    let _ = sender.send((block, result, buf.to_vec()));
                },
            )
            .unwrap();
    }
}

/// Waits for `n` completions and checks each block against the pattern; the blocks seen.
fn check(receiver: &Receiver<Done>, n: usize, name: &str) -> Vec<u64> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let (block, result, bytes) = receiver.recv_timeout(Duration::from_secs(30)).unwrap();
        result.unwrap();
        let offset = block * BLOCK as u64;
        assert!(
            bytes == pattern(offset, BLOCK, 7)[..],
            "{name}: block {block} read back wrong"
        );
        seen.push(block);
    }
    seen.sort_unstable();
    seen
}

#[test]
fn batched_reads_return_what_plain_reads_do_on_every_device() {
    for subject in every_device() {
        let device = &*subject.device;
        fill(device, 40);
        let (sender, receiver) = channel();
        let blocks: Vec<u64> = (0..40).rev().collect();
        read_batched(device, &sender, &blocks);
        device.submit_batch();
        let seen = check(&receiver, blocks.len(), subject.name);
        assert_eq!(seen, (0..40).collect::<Vec<_>>(), "{}", subject.name);
        // Nothing left queued: another submit is harmless.
        device.submit_batch();
    }
}

#[cfg(feature = "io-uring")]
mod uring {
    use super::*;
    use faster_device::FileDevice;

    use crate::common::SEGMENT;

    fn open(dir: &std::path::Path, direct_io: bool) -> faster_device::UringDevice {
        FileDevice::builder(dir)
            .segment_size(SEGMENT)
            .direct_io(direct_io)
            .open_uring()
            .unwrap()
    }

    #[test]
    fn a_batch_goes_to_the_kernel_in_one_call() {
        for direct_io in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let device = open(dir.path(), direct_io);
            fill(&device, 48);
            let (sender, receiver) = channel();
            let before = device.submit_calls();
            read_batched(&device, &sender, &(0..16).collect::<Vec<_>>());
            assert_eq!(
                device.submit_calls(),
                before,
                "a batched read entered the kernel"
            );
            device.submit_batch();
            assert_eq!(device.submit_calls(), before + 1);
            check(&receiver, 16, "uring");
            // Past the limit of 32 unsent, the 32nd read sends the first 32 itself.
            let before = device.submit_calls();
            read_batched(&device, &sender, &(0..40).collect::<Vec<_>>());
            assert_eq!(device.submit_calls(), before + 1);
            device.submit_batch();
            assert_eq!(device.submit_calls(), before + 2);
            check(&receiver, 40, "uring");
            // A plain read still goes at once.
            let before = device.submit_calls();
            let sent = sender.clone();
            device
                .read_buf(0, AlignedBuf::zeroed(BLOCK), move |result, buf| {
                    let _ = sent.send((0, result, buf.to_vec()));
                })
                .unwrap();
            assert_eq!(device.submit_calls(), before + 1);
            check(&receiver, 1, "uring");
        }
    }

    #[test]
    fn a_batch_nobody_sends_still_completes() {
        let dir = tempfile::tempdir().unwrap();
        let device = open(dir.path(), false);
        fill(&device, 4);
        let (sender, receiver) = channel();
        let before = device.submit_calls();
        read_batched(&device, &sender, &[3, 1]);
        // No submit_batch: the reaper's periodic enter (at most 100 ms away) sends them.
        check(&receiver, 2, "uring");
        assert_eq!(
            device.submit_calls(),
            before,
            "nobody but the reaper sent them"
        );
    }
}
