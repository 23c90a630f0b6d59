//! `cargo xtask bench server`: redis-benchmark against redis-server and `faster serve` on
//! this machine, the servers taking turns round after round, with each figure's ratio to
//! redis-server's in the same round and the median ratio per test at the end.
//!
//! Each round starts every server fresh (a new directory for `faster serve`), runs
//! `redis-benchmark -t set,get,incr -P 16 -c 50 -r 10000000 -n N` and the same without `-P`,
//! then stops it. Needs `redis-server` and `redis-benchmark` (Debian's redis-server and
//! redis-tools).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cmd::{self, cargo};

/// The `faster serve` settings measured: a name and its flags.
const MODES: &[(&str, &[&str])] = &[
    ("workers", &["--workers", "2", "--io-threads", "2"]),
    (
        "inline",
        &[
            "--workers",
            "0",
            "--io-threads",
            "1",
            "--busy-poll-us",
            "200",
        ],
    ),
];

const TESTS: &[&str] = &["SET", "GET", "INCR"];

/// What one benchmark line says.
#[derive(Debug, Clone, Copy)]
struct Figure {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Settings from the command line.
struct Settings {
    rounds: usize,
    requests: u64,
    memory_budget: u64,
    modes: Vec<&'static str>,
}

fn settings(args: &[&str]) -> Result<Settings, String> {
    let mut s = Settings {
        rounds: 3,
        requests: 2_000_000,
        memory_budget: 256 << 20,
        modes: MODES.iter().map(|(name, _)| *name).collect(),
    };
    let mut args = args.iter();
    while let Some(&arg) = args.next() {
        let mut value = || {
            args.next()
                .copied()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        let number = |text: &str| {
            text.parse::<u64>()
                .map_err(|e| format!("{arg} {text}: {e}"))
        };
        match arg {
            "--rounds" => s.rounds = usize::try_from(number(value()?)?).unwrap_or(usize::MAX),
            "--requests" => s.requests = number(value()?)?,
            "--memory-budget" => s.memory_budget = number(value()?)?,
            "--modes" => {
                let wanted = value()?;
                s.modes = Vec::new();
                for name in wanted.split(',') {
                    let Some((known, _)) = MODES.iter().find(|(m, _)| *m == name) else {
                        return Err(format!("unknown mode `{name}` (workers, inline)"));
                    };
                    s.modes.push(known);
                }
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}`; takes --rounds N, --requests N, \
                     --memory-budget BYTES, --modes workers,inline"
                ));
            }
        }
    }
    Ok(s)
}

/// Runs the comparison; `args` are what followed `bench server`.
pub(crate) fn run(args: &[&str]) -> Result<(), String> {
    let s = settings(args)?;
    for program in ["redis-server", "redis-benchmark"] {
        if !cmd::available(program, &["--version"]) {
            return Err(format!(
                "{program} is missing: install the Debian packages redis-server and redis-tools"
            ));
        }
    }
    cmd::run(
        "build faster (release)",
        &mut cargo(&["build", "--release", "-p", "faster-cli"]),
    )?;
    let faster = cmd::workspace_root().join("target/release/faster");
    let scratch = std::env::temp_dir().join(format!("faster-bench-server-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let mut servers = vec!["redis-server"];
    servers.extend(&s.modes);
    // (round, server, pipelined, test) → figure
    let mut figures: BTreeMap<(usize, &str, bool, &str), Figure> = BTreeMap::new();
    for round in 1..=s.rounds {
        for &server in &servers {
            let dir = scratch.join(format!("{server}-{round}"));
            let (mut child, port) = start(server, &faster, &dir, s.memory_budget)?;
            for pipelined in [true, false] {
                let measured = benchmark(port, pipelined, s.requests);
                match measured {
                    Ok(lines) => {
                        for (test, figure) in lines {
                            if let Some(&test) = TESTS.iter().find(|t| **t == test) {
                                figures.insert((round, server, pipelined, test), figure);
                            }
                        }
                    }
                    Err(e) => {
                        stop(&mut child);
                        return Err(e);
                    }
                }
            }
            stop(&mut child);
            let _ = std::fs::remove_dir_all(&dir);
        }
        print_round(round, &servers, &figures);
    }
    print_summary(s.rounds, &servers, &figures);
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// A port nobody listens on now.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("a free port: {e}"))
}

/// Starts `server` and waits until it answers `PING`.
fn start(server: &str, faster: &Path, dir: &PathBuf, budget: u64) -> Result<(Child, u16), String> {
    let port = free_port()?;
    let mut command = if server == "redis-server" {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut c = Command::new("redis-server");
        c.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir);
        c
    } else {
        let flags = MODES
            .iter()
            .find(|(name, _)| *name == server)
            .map(|(_, flags)| *flags)
            .unwrap_or_default();
        let mut c = Command::new(faster);
        c.arg("serve")
            .arg(dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--memory-budget", &budget.to_string()])
            .args(flags);
        c
    };
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {server}: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if ping(port) {
            return Ok((child, port));
        }
        if Instant::now() > deadline {
            stop(&mut child);
            return Err(format!("{server} did not answer PING on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && &answer == b"+PONG\r\n"
}

/// Stops a server with SIGTERM (a clean stop), SIGKILL after 60 s.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// One redis-benchmark run: each test's figure.
fn benchmark(port: u16, pipelined: bool, requests: u64) -> Result<Vec<(String, Figure)>, String> {
    let mut command = Command::new("redis-benchmark");
    command.args(["-p", &port.to_string(), "-t", "set,get,incr"]);
    if pipelined {
        command.args(["-P", "16"]);
    }
    command.args(["-c", "50", "-r", "10000000", "-n", &requests.to_string()]);
    command.args(["-q", "--csv"]);
    let output = command
        .output()
        .map_err(|e| format!("redis-benchmark: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
        let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        if let (Some(test), Some(rps), Some(p50_ms), Some(p99_ms)) =
            (fields.first(), number(1), number(4), number(6))
        {
            lines.push((
                (*test).to_string(),
                Figure {
                    rps,
                    p50_ms,
                    p99_ms,
                },
            ));
        }
    }
    if lines.is_empty() {
        return Err(format!(
            "redis-benchmark on port {port} printed no figures: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(lines)
}

fn label(pipelined: bool, test: &str) -> String {
    if pipelined {
        format!("{test}, -P 16")
    } else {
        test.to_string()
    }
}

type Figures<'a> = BTreeMap<(usize, &'a str, bool, &'a str), Figure>;

fn print_round(round: usize, servers: &[&str], figures: &Figures<'_>) {
    println!("\nround {round}: requests/s (÷ redis-server), p50 / p99 ms");
    for pipelined in [true, false] {
        for &test in TESTS {
            let base = figures.get(&(round, "redis-server", pipelined, test));
            let mut line = format!("  {:<12}", label(pipelined, test));
            for &server in servers {
                let Some(f) = figures.get(&(round, server, pipelined, test)) else {
                    line.push_str(&format!(" | {server}: -"));
                    continue;
                };
                let ratio = base.map_or(String::new(), |b| format!(" ({:.2}x)", f.rps / b.rps));
                line.push_str(&format!(
                    " | {server} {:.0}{ratio} {:.3}/{:.3}",
                    f.rps, f.p50_ms, f.p99_ms
                ));
            }
            println!("{line}");
        }
    }
}

fn print_summary(rounds: usize, servers: &[&str], figures: &Figures<'_>) {
    println!(
        "\nratio to redis-server in the same round: median [lowest, highest] over {rounds} rounds"
    );
    for pipelined in [true, false] {
        for &test in TESTS {
            let mut line = format!("  {:<12}", label(pipelined, test));
            for &server in servers.iter().filter(|s| **s != "redis-server") {
                let mut ratios: Vec<f64> = (1..=rounds)
                    .filter_map(|r| {
                        let base = figures.get(&(r, "redis-server", pipelined, test))?;
                        let f = figures.get(&(r, server, pipelined, test))?;
                        Some(f.rps / base.rps)
                    })
                    .collect();
                ratios.sort_by(f64::total_cmp);
                let (Some(low), Some(high)) = (ratios.first(), ratios.last()) else {
                    continue;
                };
                let middle = ratios.len() / 2;
                let median = match (ratios.get(middle), middle.checked_sub(1)) {
                    (Some(&m), Some(below)) if ratios.len().is_multiple_of(2) => {
                        (m + ratios.get(below).copied().unwrap_or(m)) / 2.0
                    }
                    (Some(&m), _) => m,
                    (None, _) => *low,
                };
                line.push_str(&format!(" | {server} {median:.2} [{low:.2}, {high:.2}]"));
            }
            println!("{line}");
        }
    }
}
