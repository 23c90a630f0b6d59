//! Child processes for crash tests: the test binary re-executed on one test, which sees an
//! environment variable and runs a workload until it is killed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use faster_kv::{FasterKv, FasterKvBuilder};

/// What a child printed before it was killed.
#[derive(Debug)]
pub(crate) struct Killed {
    /// Every line of its standard output, the test harness's own included.
    pub(crate) lines: Vec<String>,
}

/// In a child: makes a panic on any thread end the process at once, so that the parent sees
/// a child that exited by itself instead of one that kept running without a thread.
pub(crate) fn exit_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        std::process::exit(101);
    }));
}

/// Runs `test` of this binary as a child with `envs`, waits for it to print `READY` on a line
/// of its own, lets it run for `run_for`, kills it with SIGKILL and returns what it printed.
/// Panics if the child never gets ready or exits by itself.
pub(crate) fn run_and_kill(test: &str, envs: &[(&str, String)], run_for: Duration) -> Killed {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok(line) if line == "READY" => break,
            Ok(line) => lines.push(line),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the child never got ready ({e}); it said {lines:?}");
            }
        }
    }
    std::thread::sleep(run_for);
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(receiver.try_iter());
    assert!(
        status.code().is_none(),
        "the child exited by itself ({status}); its last lines: {:?}",
        &lines[lines.len().saturating_sub(5)..]
    );
    Killed { lines }
}

/// In a child: recovers the newest checkpoint if an earlier life completed one, or opens a
/// fresh store (nothing was promised durable); returns the store and each recovered session's
/// serial number by id. `builder` is called once per attempt.
pub(crate) fn recover_or_open(
    builder: impl Fn() -> FasterKvBuilder,
) -> (FasterKv<u64, u64>, HashMap<u64, u64>) {
    match builder().recover(None) {
        Ok((store, info)) => {
            let resume = info
                .sessions
                .iter()
                .map(|c| (c.id.get(), c.serial.get()))
                .collect();
            (store, resume)
        }
        Err(faster_kv::RecoverError::NoCheckpoint { .. }) => {
            (builder().open().unwrap(), HashMap::new())
        }
        Err(e) => panic!("recovery failed: {e}"),
    }
}
