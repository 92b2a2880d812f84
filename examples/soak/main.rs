//! The soak with faults: clients that come and go in a mix, most of them
//! misbehaving, against a running `echo_server_tokio`, then the checks that
//! nothing leaked. `scripts/soak.sh` builds both, starts the server and
//! runs this.
//!
//! ```text
//! cargo run --features tokio --example soak -- --addr HOST:PORT --duration SECS --rate PER_SEC \
//!     [--seed N] [--server-pid PID --server-log FILE] [--keepalive SECS] [--idle-timeout SECS] \
//!     [--handshake-timeout SECS] [--send-timeout SECS] [--close-timeout SECS] [--max-message BYTES] [--slack SECS]
//! ```
//!
//! The timer flags must match the server's: they say what each client
//! expects. Clients start at `--rate` a second for `--duration` seconds, of
//! the kinds in `clients.rs`, drawn at random (`--seed`). Each has a time
//! limit; one that runs past it counts as unexpected.
//!
//! With `--server-pid` and `--server-log` (the server's stderr, with
//! `--stats 1`) it also checks the server: its open descriptors
//! (`/proc/PID/fd`) are back to their count before the first client, its
//! RSS (`VmRSS`) is within 10% of its level at 20% of the run (the warm-up),
//! and its live connection count is back to 0.
//!
//! It prints a table and exits 1 on any unexpected outcome, lost or
//! differing echo, leaked descriptor, leaked connection or grown RSS.

mod clients;
mod raw;

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clients::{KINDS, Kind};
use rfc6455::Message;

/// The server's timers, as the clients expect them, and the slack allowed
/// on a busy machine.
#[derive(Clone, Copy, Debug)]
pub struct Timers {
    pub keepalive: Duration,
    pub idle: Duration,
    pub handshake: Duration,
    pub send: Duration,
    pub close: Duration,
    pub max_message: u64,
    pub slack: Duration,
}

/// xorshift64*: enough for a mix of clients, repeatable from a seed.
pub struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform enough in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// What every client adds to: per kind, and the echo totals.
#[derive(Default)]
pub struct Shared {
    started: [AtomicU64; KINDS.len()],
    expected: [AtomicU64; KINDS.len()],
    unexpected: [AtomicU64; KINDS.len()],
    sent: AtomicU64,
    echoed: AtomicU64,
    sent_bytes: AtomicU64,
    echoed_bytes: AtomicU64,
    /// The first unexpected outcomes, for the report.
    failures: Mutex<Vec<String>>,
}

impl Shared {
    pub fn sent(&self, message: &Message) {
        self.sent.fetch_add(1, Relaxed);
        self.sent_bytes.fetch_add(message.len() as u64, Relaxed);
    }

    pub fn echoed(&self, message: &Message) {
        self.echoed.fetch_add(1, Relaxed);
        self.echoed_bytes.fetch_add(message.len() as u64, Relaxed);
    }

    fn record(&self, index: usize, kind: Kind, outcome: Result<(), String>) {
        let i = KINDS.iter().position(|k| *k == kind).unwrap();
        match outcome {
            Ok(()) => self.expected[i].fetch_add(1, Relaxed),
            Err(why) => {
                let mut failures = self.failures.lock().unwrap();
                if failures.len() < 20 {
                    failures.push(format!("client {index} ({}): {why}", kind.describe().0));
                }
                self.unexpected[i].fetch_add(1, Relaxed)
            }
        };
    }
}

struct Args {
    addr: String,
    duration: Duration,
    rate: f64,
    seed: u64,
    server: Option<(u32, String)>,
    timers: Timers,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let secs = Duration::from_secs;
    let mut parsed = Args {
        addr: "127.0.0.1:9001".into(),
        duration: secs(60),
        rate: 20.0,
        seed: 1,
        server: None,
        timers: Timers {
            keepalive: secs(30),
            idle: secs(75),
            handshake: secs(10),
            send: secs(10),
            close: secs(5),
            max_message: 1 << 20,
            slack: secs(3),
        },
    };
    let (mut pid, mut log) = (None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: bad value {value}");
        let seconds = || {
            value
                .parse()
                .map(Duration::from_secs_f64)
                .map_err(|_| bad())
        };
        let t = &mut parsed.timers;
        match flag.as_str() {
            "--addr" => parsed.addr = value.clone(),
            "--duration" => parsed.duration = seconds()?,
            "--rate" => parsed.rate = value.parse().map_err(|_| bad())?,
            "--seed" => parsed.seed = value.parse().map_err(|_| bad())?,
            "--server-pid" => pid = Some(value.parse().map_err(|_| bad())?),
            "--server-log" => log = Some(value.clone()),
            "--keepalive" => t.keepalive = seconds()?,
            "--idle-timeout" => t.idle = seconds()?,
            "--handshake-timeout" => t.handshake = seconds()?,
            "--send-timeout" => t.send = seconds()?,
            "--close-timeout" => t.close = seconds()?,
            "--max-message" => t.max_message = value.parse().map_err(|_| bad())?,
            "--slack" => t.slack = seconds()?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if !(parsed.rate > 0.0 && parsed.rate <= 1000.0) {
        return Err("--rate: between 0 and 1000 clients a second".into());
    }
    parsed.server = pid.zip(log);
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("soak: {message}");
            return ExitCode::from(2);
        }
    };
    let server = args.server.as_ref().map(|(pid, log)| Server {
        pid: *pid,
        log: log.clone(),
    });
    let fd_baseline = server.as_ref().map(Server::fds);
    let shared = Arc::new(Shared::default());
    let timers = Arc::new(args.timers);
    let start = Instant::now();
    let mut rss_warm = None;
    let mut rss_by_tenth = Vec::new();
    let mut running = VecDeque::new();
    let total_weight: u32 = KINDS.iter().map(|k| k.weight()).sum();
    let mut rng = Rng::new(args.seed);
    // Bounded: at most duration * rate clients, each with a time limit.
    let count = (args.duration.as_secs_f64() * args.rate).ceil() as u64;
    for index in 0..count {
        let at = start + Duration::from_secs_f64(index as f64 / args.rate);
        tokio::time::sleep_until(at.into()).await;
        // The RSS at each tenth of the run; the second tenth's end is the
        // level after warm-up.
        let tenth = (start.elapsed().as_secs_f64() * 10.0 / args.duration.as_secs_f64()) as usize;
        if let Some(server) = &server
            && rss_by_tenth.len() < tenth.min(10)
        {
            rss_by_tenth.push(server.rss_kib());
            if rss_by_tenth.len() == 2 {
                rss_warm = Some(server.rss_kib());
            }
        }
        let mut pick = rng.below(u64::from(total_weight)) as u32;
        let kind = *KINDS
            .iter()
            .find(|k| {
                let hit = pick < k.weight();
                pick = pick.saturating_sub(k.weight());
                hit
            })
            .unwrap();
        let i = KINDS.iter().position(|k| *k == kind).unwrap();
        shared.started[i].fetch_add(1, Relaxed);
        let (shared, timers, addr) = (shared.clone(), timers.clone(), args.addr.clone());
        let mut client_rng = Rng::new(rng.next_u64());
        running.push_back(tokio::spawn(async move {
            let limit = kind.limit(&timers);
            let outcome =
                tokio::time::timeout(limit, kind.run(&addr, &timers, &mut client_rng, &shared))
                    .await
                    .unwrap_or_else(|_| Err(format!("still running after its limit of {limit:?}")));
            shared.record(index as usize, kind, outcome);
        }));
        // Reap the finished ones so that the queue holds only live clients.
        while running.front().is_some_and(|h| h.is_finished()) {
            running.pop_front();
        }
    }
    let clients_done = start.elapsed();
    // Every client has its own time limit: this ends.
    for handle in running {
        let _ = handle.await;
    }
    let mut ok = true;
    println!(
        "\nsoak: {count} clients in {:.0} s (rate {}/s, seed {}), all ended {:.1} s later\n",
        clients_done.as_secs_f64(),
        args.rate,
        args.seed,
        (start.elapsed() - clients_done).as_secs_f64()
    );
    println!("| client kind | started | as expected | unexpected | expected outcome |");
    println!("|---|---:|---:|---:|---|");
    for (i, kind) in KINDS.iter().enumerate() {
        let (name, expect) = kind.describe();
        let unexpected = shared.unexpected[i].load(Relaxed);
        ok &= unexpected == 0;
        println!(
            "| {name} | {} | {} | {unexpected} | {expect} |",
            shared.started[i].load(Relaxed),
            shared.expected[i].load(Relaxed)
        );
    }
    let (sent, echoed) = (shared.sent.load(Relaxed), shared.echoed.load(Relaxed));
    ok &= sent == echoed;
    println!(
        "\necho messages: {sent} sent, {echoed} echoed byte for byte ({} / {} bytes)",
        shared.sent_bytes.load(Relaxed),
        shared.echoed_bytes.load(Relaxed)
    );
    if let Some(server) = server {
        let tenths: Vec<String> = rss_by_tenth.iter().map(|kib| format!("{kib}")).collect();
        println!(
            "\nserver RSS at each tenth of the run, KiB: {}",
            tenths.join(", ")
        );
        ok &= server.check(fd_baseline.unwrap(), rss_warm, &timers);
    }
    for failure in shared.failures.lock().unwrap().iter() {
        println!("unexpected: {failure}");
    }
    println!("\nsoak: {}", if ok { "PASS" } else { "FAIL" });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The server process, seen through /proc and its stats lines.
struct Server {
    pid: u32,
    log: String,
}

impl Server {
    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid)).map_or(usize::MAX, |d| d.count())
    }

    fn rss_kib(&self) -> u64 {
        self.status("VmRSS:")
    }

    fn status(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// The last stats line the server printed.
    fn stats(&self) -> Option<String> {
        let log = std::fs::read_to_string(&self.log).ok()?;
        log.lines()
            .rev()
            .find(|l| l.starts_with("stats: "))
            .map(str::to_string)
    }

    fn live(&self) -> Option<u64> {
        let stats = self.stats()?;
        stats
            .strip_prefix("stats: live ")?
            .split(',')
            .next()?
            .parse()
            .ok()
    }

    /// Waits (bounded) for the connections and descriptors to drain, then
    /// prints the server's table; false on a leak.
    fn check(&self, fd_baseline: usize, rss_warm: Option<u64>, t: &Timers) -> bool {
        let deadline = Instant::now() + t.slack * 2 + Duration::from_secs(2);
        let mut seen_after = None;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
            // A stats line printed after this moment, saying 0.
            let stamp = Instant::now();
            std::thread::sleep(Duration::from_millis(1100));
            if self.live() == Some(0) && self.fds() == fd_baseline {
                seen_after = Some(stamp);
                break;
            }
        }
        let (fds, live, rss) = (self.fds(), self.live(), self.rss_kib());
        let warm = rss_warm.unwrap_or(0);
        let rss_ok = warm > 0 && rss * 10 <= warm * 11;
        let alive = std::path::Path::new(&format!("/proc/{}", self.pid)).exists();
        println!("\n| server | value |\n|---|---:|");
        println!("| open descriptors before the first client | {fd_baseline} |");
        println!("| open descriptors after | {fds} |");
        println!("| RSS after warm-up (20% of the run) | {warm} KiB |");
        println!("| RSS after | {rss} KiB |");
        println!("| RSS peak (VmHWM) | {} KiB |", self.status("VmHWM:"));
        println!(
            "| live connections after | {} |",
            live.map_or("no stats line".into(), |n| n.to_string())
        );
        if let Some(stats) = self.stats() {
            println!("\nserver {stats}");
        }
        let ok = alive && seen_after.is_some() && fds == fd_baseline && live == Some(0) && rss_ok;
        if !alive {
            println!("the server process is gone");
        }
        if !rss_ok {
            println!("RSS after is not within 10% of RSS after warm-up");
        }
        ok
    }
}
