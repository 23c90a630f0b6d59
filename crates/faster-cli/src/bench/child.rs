//! Peers run in child processes, so that one that hangs or crashes is reported as such and the
//! benchmark goes on.
//!
//! The parent runs its own executable as `faster bench --child-peer NAME` with the same
//! options. The child runs [`runner::measure`] on the peer and prints each [`Event`] on
//! stdout as one JSON line after [`PREFIX`] (a peer's own output may share the stream); its
//! stderr is kept for the report. The parent kills the child, and reports it as hung or too
//! slow with the stage it was in and the results it had reported, when:
//!
//! 1. it has run for longer than [`Limits::overall`] (`--peer-timeout`);
//! 2. a timed run has not ended [`Limits::run`] (4 × `--duration` + 10 s) after it started;
//! 3. the load has not ended [`Limits::load`] after the child started;
//! 4. starting, loading or verifying (which report their progress every second) has made no
//!    progress for [`Limits::stall`] (15 s). A verification stops by itself after
//!    [`Plan::verify_limit`] and reports the keys it checked.
//!
//! A child killed while its load or a verification was still making progress, or during a
//! timed run (its load done), is reported as too slow rather than hung ([`Status::TooSlow`]);
//! one that made no progress at all as hung. A child that exits before reporting its end,
//! or with a failure status, is reported as crashed with the tail of its stderr. A child never
//! outlives its parent: the parent kills it when it is done with it (also on unwinding), and
//! the child exits as soon as its stdin (a pipe from the parent) reaches its end, which is
//! also when the parent dies of anything.
//!
//! Without `--dir`, a child's files (of a peer on files) go in a temporary directory the
//! parent makes and removes after the child, so that a killed child leaves none behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::BenchArgs;
use super::peers;
use super::plan::Plan;
use super::report::{Status, SystemReport};
use super::runner::{self, Event, Progress, Stage};

/// Marks the child's event lines on its stdout.
const PREFIX: &str = "@faster-bench-event ";
/// Bytes of a child's stderr kept, and shown in a report.
const STDERR_KEPT: usize = 64 << 10;
const STDERR_LINES: usize = 8;
const STDERR_CHARS: usize = 1200;
/// How long a child may take to exit after reporting its end.
const EXIT_GRACE: Duration = Duration::from_secs(30);

/// How long a child may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// In all.
    pub(crate) overall: Duration,
    /// To start and load (none: only `overall`).
    pub(crate) load: Option<Duration>,
    /// For one timed run, from its start.
    pub(crate) run: Duration,
    /// Without progress while starting, loading or verifying.
    pub(crate) stall: Duration,
}

impl Limits {
    /// The limits for `plan`. The load may take 30 s + 5 s per million keys, unless
    /// `--peer-timeout` is given; the whole child `--peer-timeout`, or else that load
    /// allowance plus twice the verification's ([`Plan::verify_limit`] + 15 s) plus
    /// 4 × `--duration` + 10 s per run.
    pub(crate) fn new(peer_timeout: Option<f64>, plan: &Plan) -> Self {
        let load = Duration::from_secs_f64(30.0 + 5.0 * plan.keys as f64 / 1e6);
        let run = Duration::from_secs_f64(4.0 * plan.duration + 10.0);
        let stall = Duration::from_secs(15);
        match peer_timeout {
            Some(seconds) => Self {
                overall: Duration::from_secs_f64(seconds.max(0.0)),
                load: None,
                run,
                stall,
            },
            None => Self {
                overall: load
                    + 2 * (plan.verify_limit + stall)
                    + run * u32::try_from(plan.runs.len()).unwrap_or(u32::MAX),
                load: Some(load),
                run,
                stall,
            },
        }
    }
}

/// Where a child is, and so when it must have moved on.
struct Watch {
    started: Instant,
    /// The current stage (none: starting) and when it started.
    stage: Option<Stage>,
    stage_started: Instant,
    /// The last sign of progress: an event, or the start.
    last_progress: Instant,
    /// Keys done in the current load or verification, when it reported any.
    done: Option<u64>,
    /// When the child reported its end.
    finished: Option<Instant>,
}

impl Watch {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            stage: None,
            stage_started: now,
            last_progress: now,
            done: None,
            finished: None,
        }
    }

    fn on(&mut self, event: &Event) {
        let now = Instant::now();
        match event {
            Event::Stage { stage } => {
                self.stage = Some(*stage);
                self.stage_started = now;
                self.done = None;
            }
            // A report of the same count is no progress.
            Event::Progress { done } if self.done.is_some_and(|d| *done <= d) => return,
            Event::Progress { done } => self.done = Some(*done),
            Event::Done { .. } => self.finished = Some(now),
            Event::Result { .. } | Event::Verified { .. } => {}
        }
        self.last_progress = now;
    }

    /// When the child must have moved on, and what limit that is.
    fn deadline(&self, limits: &Limits) -> (Instant, String) {
        let mut limit = (
            self.started + limits.overall,
            format!(
                "its limit in all is {:.1} s (--peer-timeout)",
                limits.overall.as_secs_f64()
            ),
        );
        let mut tighten = |at: Instant, why: String| {
            if at < limit.0 {
                limit = (at, why);
            }
        };
        let stall = || format!("no progress for {:.1} s", limits.stall.as_secs_f64());
        if let Some(finished) = self.finished {
            tighten(finished + EXIT_GRACE, "it had not exited".into());
            return limit;
        }
        match self.stage {
            Some(Stage::Run { .. }) => tighten(
                self.stage_started + limits.run,
                format!("a run may take {:.1} s", limits.run.as_secs_f64()),
            ),
            None | Some(Stage::Load | Stage::Verify { .. }) => {
                tighten(self.last_progress + limits.stall, stall());
                if let (Some(load), None | Some(Stage::Load)) = (limits.load, self.stage) {
                    tighten(
                        self.started + load,
                        format!("the load may take {:.1} s", load.as_secs_f64()),
                    );
                }
            }
        }
        limit
    }

    /// "during" and the stage, or "while starting".
    fn during(&self, plan: &Plan) -> String {
        self.stage.map_or_else(
            || "while starting".to_string(),
            |s| format!("during {}", s.describe(plan)),
        )
    }

    /// Whether the child was still making progress in a load or verification: it has counted
    /// some keys, the last of them less than [`Limits::stall`] ago.
    fn progressing(&self, limits: &Limits) -> bool {
        matches!(self.stage, Some(Stage::Load | Stage::Verify { .. }))
            && self.done.is_some_and(|done| done > 0)
            && self.last_progress.elapsed() < limits.stall
    }

    /// How a child killed at a limit is reported, and why: too slow when it was still making
    /// progress (counting keys in its load or a check, the last count less than
    /// [`Limits::stall`] ago) or was in a timed run (which comes after the load finished, and
    /// reports nothing until it ends); hung when it made no progress at all.
    fn verdict(&self, limits: &Limits) -> (Status, Option<String>) {
        if self.progressing(limits) {
            let done = self.done.unwrap_or(0);
            return (
                Status::TooSlow,
                Some(format!("it was still making progress ({done} keys done)")),
            );
        }
        if matches!(self.stage, Some(Stage::Run { .. })) {
            return (
                Status::TooSlow,
                Some("its load had finished; a timed run reports nothing until it ends".into()),
            );
        }
        (Status::Hung, None)
    }
}

/// Kills its child when dropped, unless it has exited.
struct ChildGuard {
    child: Child,
    /// The child's stdin: it exits when this closes.
    _stdin: Option<ChildStdin>,
}

impl ChildGuard {
    fn kill(&mut self) {
        // Errors mean it has already exited.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            self.kill();
        }
    }
}

/// Runs `peer`'s benchmark in a child process and reports it, however it ends.
pub(crate) fn run_peer(args: &BenchArgs, plan: &Plan, peer: &str, limits: &Limits) -> SystemReport {
    let name = peers::display_name(peer);
    let mut report = SystemReport::new(name);
    let mut progress = Progress::new(name, plan, false);
    let started = Instant::now();
    if let Err((status, detail)) = supervise(args, plan, peer, limits, &mut report, &mut progress) {
        report.status = status;
        report.detail = Some(detail);
    }
    report.seconds = started.elapsed().as_secs_f64();
    progress.finish();
    report.settle();
    report
}

/// Starts the child and follows it to its end: `Err` with how it failed.
fn supervise(
    args: &BenchArgs,
    plan: &Plan,
    peer: &str,
    limits: &Limits,
    report: &mut SystemReport,
    progress: &mut Progress,
) -> Result<(), (Status, String)> {
    let crashed = |what: String| (Status::Crashed, what);
    let exe = std::env::current_exe().map_err(|e| crashed(format!("own executable: {e}")))?;
    // Without --dir, the child's files go in a temporary directory of the parent's, removed
    // after the child (declared before its guard, so dropped after it): a killed child
    // removes nothing itself.
    let scratch = match &args.dir {
        Some(_) => None,
        None => {
            Some(tempfile::tempdir().map_err(|e| crashed(format!("temporary directory: {e}")))?)
        }
    };
    let mut command = Command::new(exe);
    command.arg("bench").args(super::child_args(args, peer));
    if let Some(dir) = &scratch {
        command.arg("--dir").arg(dir.path());
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| crashed(format!("cannot start a child process: {e}")))?;
    let started = Instant::now();
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let stdin = child.stdin.take();
    let mut guard = ChildGuard {
        child,
        _stdin: stdin,
    };

    let (events, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let Some(stdout) = stdout else { return };
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let Some(at) = line.find(PREFIX) else {
                continue;
            };
            if let Ok(event) = serde_json::from_str::<Event>(&line[at + PREFIX.len()..])
                && events.send(event).is_err()
            {
                return;
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut stderr) = stderr {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * STDERR_KEPT {
                    kept.drain(..kept.len() - STDERR_KEPT);
                }
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    });
    let stderr_tail =
        |errors: std::thread::JoinHandle<String>| stderr_tail(&errors.join().unwrap_or_default());

    let mut watch = Watch::new();
    loop {
        let (deadline, why) = watch.deadline(limits);
        match received.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(event) => {
                progress.on(plan, &event);
                watch.on(&event);
                report.apply(event);
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                guard.kill();
                let _ = reader.join();
                let tail = stderr_tail(errors);
                if report.done {
                    report.detail = Some(format!(
                        "finished, but {why} {} s later (killed)",
                        EXIT_GRACE.as_secs()
                    ));
                    return Ok(());
                }
                let during = watch.during(plan);
                let mut detail = format!(
                    "killed after {:.1} s {during}: {why}",
                    started.elapsed().as_secs_f64()
                );
                let (status, why_slow) = watch.verdict(limits);
                if let Some(why_slow) = why_slow {
                    detail.push_str(&format!("; {why_slow}: too slow rather than stuck"));
                }
                if !tail.is_empty() {
                    detail.push_str(&format!("; stderr: {tail}"));
                }
                return Err((status, detail));
            }
        }
    }

    // Its stdout closed: it is exiting.
    let exit_deadline = Instant::now() + EXIT_GRACE;
    let status = loop {
        match guard.child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < exit_deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                guard.kill();
                return Err((
                    Status::Hung,
                    "closed its output but did not exit (killed)".into(),
                ));
            }
            Err(e) => return Err(crashed(format!("waiting for it: {e}"))),
        }
    };
    let _ = reader.join();
    let tail = stderr_tail(errors);
    if status.success() && report.done {
        return Ok(());
    }
    let during = if report.done {
        String::new()
    } else {
        format!(" {}", watch.during(plan))
    };
    Err(crashed(format!(
        "exited ({status}){during}; stderr: {tail}"
    )))
}

/// What a report shows of a child's stderr: its last lines, or from its last panic message on
/// (a backtrace would push the message out of a tail).
fn stderr_tail(text: &str) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let from = lines
        .iter()
        .rposition(|l| l.contains("panicked at"))
        .unwrap_or_else(|| lines.len().saturating_sub(STDERR_LINES));
    let shown = lines[from..].iter().take(STDERR_LINES).copied();
    let mut tail = shown.collect::<Vec<_>>().join("\n");
    if let Some((cut, _)) = tail.char_indices().nth(STDERR_CHARS) {
        tail.truncate(cut);
        tail.push('…');
    }
    tail
}

/// The child's side: benchmarks `peer` and prints the events for the parent.
///
/// # Errors
/// When the peer cannot be opened or its benchmark fails.
pub(crate) fn serve(args: &BenchArgs, plan: &Plan, peer: &str) -> Result<(), String> {
    exit_with_parent();
    let opened = peers::open(peer, args)?;
    let stdout = std::io::stdout();
    runner::measure(opened.system.as_ref(), plan, &mut |event| {
        let line = serde_json::to_string(&event).unwrap_or_default();
        let mut out = stdout.lock();
        if writeln!(out, "{PREFIX}{line}")
            .and_then(|()| out.flush())
            .is_err()
        {
            // The parent is gone.
            std::process::exit(3);
        }
    })?;
    opened.finish();
    Ok(())
}

/// Exits this process when its stdin, a pipe from the parent, reaches its end.
fn exit_with_parent() {
    std::thread::spawn(|| {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 64];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => std::process::exit(3),
                Ok(_) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_growing_count_is_progress() {
        let mut watch = Watch::new();
        watch.on(&Event::Stage { stage: Stage::Load });
        watch.on(&Event::Progress { done: 10 });
        let first = watch.last_progress;
        std::thread::sleep(Duration::from_millis(5));
        watch.on(&Event::Progress { done: 10 });
        assert_eq!(
            watch.last_progress, first,
            "the same count again is a stall"
        );
        watch.on(&Event::Progress { done: 11 });
        assert!(watch.last_progress > first);
        let limits = Limits {
            overall: Duration::from_secs(100),
            load: Some(Duration::from_secs(50)),
            run: Duration::from_secs(10),
            stall: Duration::from_secs(15),
        };
        let (deadline, why) = watch.deadline(&limits);
        assert_eq!(deadline, watch.last_progress + limits.stall);
        assert!(why.starts_with("no progress"), "{why}");
        assert!(watch.progressing(&limits));
    }

    #[test]
    fn stderr_tail_starts_at_the_last_panic_or_keeps_the_last_lines() {
        let panicked = "noise\nthread 'main' panicked at src/x.rs:1:1:\nboom\nstack backtrace:\n   0: f\n   1: g\n   2: h\n   3: i\n   4: j\n   5: k\n";
        assert_eq!(
            stderr_tail(panicked),
            "thread 'main' panicked at src/x.rs:1:1:\nboom\nstack backtrace:\n   0: f\n   1: g\n   2: h\n   3: i\n   4: j"
        );
        let plain: String = (0..20).map(|i| format!("line {i}\n")).collect();
        assert_eq!(stderr_tail(&plain).lines().next(), Some("line 12"));
        assert_eq!(stderr_tail(&plain).lines().count(), STDERR_LINES);
        assert_eq!(
            stderr_tail(&"x".repeat(5000)).chars().count(),
            STDERR_CHARS + 1
        );
    }

    #[test]
    fn a_child_still_making_progress_is_too_slow_and_one_making_none_hung() {
        let limits = Limits {
            overall: Duration::from_secs(100),
            load: None,
            run: Duration::from_secs(10),
            stall: Duration::from_secs(15),
        };
        let status = |watch: &Watch, limits: &Limits| watch.verdict(limits).0;
        let mut watch = Watch::new();
        assert_eq!(status(&watch, &limits), Status::Hung, "never started");
        watch.on(&Event::Stage { stage: Stage::Load });
        assert_eq!(status(&watch, &limits), Status::Hung, "no count");
        watch.on(&Event::Progress { done: 0 });
        assert_eq!(status(&watch, &limits), Status::Hung, "no key counted");
        watch.on(&Event::Progress { done: 500 });
        assert_eq!(status(&watch, &limits), Status::TooSlow, "counting keys");
        assert!(
            watch
                .verdict(&limits)
                .1
                .is_some_and(|w| w.contains("500 keys"))
        );
        let stalled = Limits {
            stall: Duration::ZERO,
            ..limits
        };
        assert_eq!(status(&watch, &stalled), Status::Hung, "the count stopped");
        watch.on(&Event::Stage {
            stage: Stage::Run { index: 0 },
        });
        assert_eq!(
            status(&watch, &stalled),
            Status::TooSlow,
            "in a run after the load"
        );
        watch.on(&Event::Stage {
            stage: Stage::Verify {
                phase: runner::Phase::AfterRuns,
            },
        });
        assert_eq!(
            status(&watch, &limits),
            Status::Hung,
            "a check counting nothing"
        );
    }
}
