//! Scale: 100,000 connections on one machine, and round trips at a fixed
//! load; ours on tokio and the async peers, columns in turns, each peer as a
//! ratio to tokio-tungstenite in the same run.
//!
//! ```text
//! cargo bench --manifest-path benches/compare/Cargo.toml --bench scale
//! ```
//!
//! **Connections.** Each column's server runs as `SCALE_PROCS` processes
//! (current-thread tokio runtime each) sharing one port with
//! `SO_REUSEPORT`; `SCALE_GENS` generator processes, each from its own
//! 127.x.y.z source address, open `SCALE_CONNS` connections between them
//! (`SCALE_PARALLEL` handshakes under way per generator), each sending one
//! 16-byte message and checking its echo. Reported: handshakes per second
//! over the whole ramp (from `go` to the last echo checked), the servers'
//! RSS growth summed over the processes per connection, and the ping round:
//! every server pings every connection at one moment (ours through its
//! keepalive, the peers from their task on a timer, see `src/scale.rs`), and
//! the time from that moment until the last client has seen its ping (each
//! answers with a pong). Then the same server as one process holding
//! `SCALE_SINGLE` connections: its RSS growth per connection.
//!
//! **Latency.** `SCALE_LATENCY_CONNS` connections to `SCALE_LATENCY_PROCS`
//! processes of each column; every connection sends 128-byte messages on an
//! open-loop schedule at a total of each rate of `SCALE_LATENCY_RATES`
//! (messages per second), every round trip measured from its scheduled send
//! time into an HdrHistogram (see `src/latency.rs`); the rounds' histograms
//! are merged per column. A column *holds* a rate when every echo came back
//! and its p99 is under 50 ms. Then each latency group is killed and started
//! again on its port ([`ServerGroup::kill_all`], [`ServerGroup::start_all`]),
//! and 20 new connections each echo a message.
//!
//! **Reconnect storm.** `SCALE_STORM_CLIENTS` clients of our
//! `rfc6455::io::tokio::ReconnectingClient`, in `SCALE_STORM_GENS`
//! generator processes (one 127.x source address each, see
//! `src/storm.rs`), connect to `SCALE_STORM_PROCS` server processes of
//! each column of `SCALE_STORM_SERVERS` and echo one message each (the
//! client's `on_connect` hook, echo checked byte for byte). Then every
//! server process is killed (`SIGKILL`), started again after
//! `SCALE_STORM_DOWN_MS`, and every client comes back through its backoff
//! and echoes again. Reported: the time from the kill until the last client
//! is back (and the median client), the growth of `ListenOverflows` and
//! `ListenDrops` (`/proc/net/netstat`) over the storm, and the attempts
//! from the clients' `on_attempt` reports (refused, timed out, reset; per
//! client; the most that ended in one 100 ms slot). Each storm runs with
//! the backoff's jitter off and on, in turns. A client not back within
//! `SCALE_STORM_WAIT_MS`, one that gave up, and an echo that differs fail
//! the bench.
//!
//! Environment (defaults in brackets): `SCALE_CONNS` [100000],
//! `SCALE_PROCS` [6], `SCALE_GENS` [8], `SCALE_PARALLEL` [128],
//! `SCALE_ROUNDS` [2], `SCALE_PING_AFTER_MS` [0.6 ms per connection, at
//! least 10 s: from the servers' start to the ping moment; the ramp must
//! end before it],
//! `SCALE_PING_WAIT_MS` [30000], `SCALE_SETTLE_MS` [1000: from the end of
//! the ramp to the RSS reading], `SCALE_SINGLE` [19000; 0 skips],
//! `SCALE_SERVERS` [the four columns], `SCALE_LATENCY_RATES`
//! [10000,50000,100000; empty skips], `SCALE_LATENCY_CONNS` [1000],
//! `SCALE_LATENCY_PROCS` [2], `SCALE_LATENCY_ROUNDS` [3],
//! `SCALE_LATENCY_WINDOW_MS` [2000], `SCALE_LATENCY_WARMUP_MS` [500],
//! `SCALE_STORM_CLIENTS` [50000; 0 skips], `SCALE_STORM_PROCS` [4],
//! `SCALE_STORM_GENS` [4], `SCALE_STORM_PARALLEL` [128: first connections
//! under way per generator], `SCALE_STORM_SERVERS` [ours-tokio],
//! `SCALE_STORM_ROUNDS` [3], `SCALE_STORM_BASE_MS` [100],
//! `SCALE_STORM_CAP_MS` [10000], `SCALE_STORM_TRIES` [30],
//! `SCALE_STORM_DOWN_MS` [0], `SCALE_STORM_WAIT_MS` [120000: for the
//! first connections, and again for the storm].
//!
//! Every run is bounded (the ramp by the ping moment, the ping round by
//! `SCALE_PING_WAIT_MS`, the storm by `SCALE_STORM_WAIT_MS`, each child by a
//! deadline of its own) and every child is killed when the bench ends,
//! panics or dies. The bench fails, after printing its tables, if a
//! connection did not open, a ping was not seen, an echo was missing at a
//! rate every column held, or a storm client did not come back.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rfc6455::io::tokio::Backoff;
use rfc6455_compare::latency;
use rfc6455_compare::load;
use rfc6455_compare::machine;
use rfc6455_compare::scale::{self, Generator, GeneratorPlan, PER_PROCESS, ServerGroup};
use rfc6455_compare::servers::Server;
use rfc6455_compare::storm::{self, StormGenerator, StormPlan, StormReport};
use rfc6455_compare::table::{env_list, env_number, median};

/// The column every ratio divides by.
const BASELINE: Server = Server::TokioTungstenite;

/// What the 100,000-connection measure is told.
#[derive(Clone, Copy)]
struct Plan {
    conns: usize,
    procs: usize,
    gens: usize,
    parallel: usize,
    /// Ping at this long after the servers start (`None`: no ping; the
    /// servers still arm their timers, for a moment far away).
    ping_after: Option<Duration>,
    ping_wait: Duration,
    /// From the end of the ramp to the RSS reading.
    settle: Duration,
}

/// One run of one column.
#[derive(Clone, Debug, Default)]
struct Run {
    open: usize,
    ramp: Duration,
    rss_before: Vec<u64>,
    rss_after: Vec<u64>,
    pinged: usize,
    ping_round: Duration,
    /// The ramp was not over a moment before the ping.
    overran: bool,
}

impl Run {
    fn handshakes_per_second(&self) -> f64 {
        self.open as f64 / self.ramp.as_secs_f64()
    }

    fn bytes_per_connection(&self) -> f64 {
        let growth: f64 = self
            .rss_after
            .iter()
            .zip(&self.rss_before)
            .map(|(a, b)| *a as f64 - *b as f64)
            .sum();
        growth / self.open.max(1) as f64
    }
}

/// Runs `plan` against `server`; `index` picks the generators' source
/// addresses, fresh for every run.
fn run(server: Server, plan: Plan, index: usize) -> Run {
    let started = scale::unix_ms();
    let far = Duration::from_secs(3600);
    let ping_after = plan.ping_after.unwrap_or(far);
    let ping_at_ms = started + ping_after.as_millis() as u64;
    let ramp_timeout = plan.ping_after.unwrap_or(Duration::from_secs(300));
    let deadline = ramp_timeout + plan.ping_wait + Duration::from_secs(60);
    let mut group = ServerGroup::start(server, plan.procs, Some(ping_at_ms), deadline);
    std::thread::sleep(Duration::from_millis(300));
    let rss_before = group.rss();
    let mut generators: Vec<Generator> = (0..plan.gens)
        .map(|g| {
            let first = plan.conns * g / plan.gens;
            let count = plan.conns * (g + 1) / plan.gens - first;
            let source = IpAddr::V4(Ipv4Addr::new(
                127,
                1 + (index % 250) as u8,
                (g / 250) as u8,
                (g % 250 + 1) as u8,
            ));
            Generator::start(&GeneratorPlan {
                addr: group.addr(),
                source,
                count,
                first,
                parallel: plan.parallel,
                ping_at_ms: plan.ping_after.map(|_| ping_at_ms),
                ping_wait: plan.ping_wait,
                ramp_timeout,
                deadline,
            })
        })
        .collect();
    let go = Instant::now();
    for generator in &mut generators {
        generator.go();
    }
    let mut open = 0;
    for generator in &mut generators {
        let (ok, failed) = generator.opened();
        open += ok;
        if failed > 0 {
            eprintln!("{}: {failed} connections failed", server.name());
        }
    }
    let ramp = go.elapsed();
    let overran = plan.ping_after.is_some() && scale::unix_ms() + 200 > ping_at_ms;
    // Let the servers settle, short of the ping moment.
    let settle = plan.settle.min(Duration::from_millis(
        ping_at_ms.saturating_sub(scale::unix_ms() + 100),
    ));
    std::thread::sleep(settle);
    let rss_after = group.rss();
    let (mut pinged, mut ping_round) = (0, Duration::ZERO);
    if plan.ping_after.is_some() {
        for generator in &mut generators {
            let (count, last) = generator.pinged();
            pinged += count;
            ping_round = ping_round.max(last);
        }
    }
    // The servers go first: their side closes, and the clients' ports are
    // not left in TIME_WAIT.
    group.kill_all();
    drop(generators);
    Run {
        open,
        ramp,
        rss_before,
        rss_after,
        pinged,
        ping_round,
        overran,
    }
}

/// What the reconnect storm is told.
#[derive(Clone, Copy)]
struct StormSettings {
    clients: usize,
    procs: usize,
    gens: usize,
    parallel: usize,
    base: Duration,
    cap: Duration,
    max_tries: u32,
    /// From the servers' death to their start again.
    down: Duration,
    /// How long the first connections, and then the storm, may take.
    wait: Duration,
}

/// One storm.
#[derive(Clone, Debug, Default)]
struct Storm {
    connected: usize,
    /// From the kill to every server process gone (the kernel closing
    /// their sockets).
    dead: Duration,
    /// From the kill to every server process listening again.
    restart: Duration,
    report: StormReport,
    /// `ListenOverflows` and `ListenDrops` over the storm.
    overflows: u64,
    drops: u64,
    /// The most `ListenDrops` grew in one 100 ms sample.
    peak_drops: u64,
}

impl Storm {
    /// Clients neither back nor given up when the wait ran out.
    fn missing(&self) -> usize {
        self.connected - self.report.reconnected - self.report.gave_up
    }

    /// From the kill until the last client's echo, if every one came back.
    fn all_back(&self) -> Option<Duration> {
        (self.report.reconnected == self.connected && self.connected > 0)
            .then(|| self.quantile(1.0))
    }

    fn quantile(&self, q: f64) -> Duration {
        let mut times = self.report.times_us.clone();
        times.sort_unstable();
        if times.is_empty() {
            return Duration::ZERO;
        }
        let at = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
        Duration::from_micros(times[at])
    }

    /// Attempts per client after the loss: (mean, p99, max).
    fn attempts(&self) -> (f64, u64, u64) {
        let counts = &self.report.per_client;
        let clients: u64 = counts.iter().sum();
        let mean = self.report.attempts as f64 / clients.max(1) as f64;
        let mut seen = 0;
        let mut p99 = 0;
        for (n, count) in counts.iter().enumerate() {
            seen += count;
            if seen * 100 >= clients * 99 {
                p99 = n as u64;
                break;
            }
        }
        let max = counts.iter().rposition(|&c| c > 0).unwrap_or(0) as u64;
        (mean, p99, max)
    }
}

/// Runs one reconnect storm against `server`: `settings.clients` clients of
/// our `ReconnectingClient` connect and echo, every server process is
/// killed and started again, and each client comes back through its
/// backoff (with `jitter` or without). `index` picks fresh source
/// addresses.
fn storm(server: Server, settings: StormSettings, jitter: bool, index: usize) -> Storm {
    let deadline = settings.wait * 2 + settings.down + Duration::from_secs(60);
    let mut group = ServerGroup::start(server, settings.procs, None, deadline);
    let backoff = Backoff::new(settings.base, settings.cap)
        .max_tries(settings.max_tries)
        .jitter(jitter);
    let mut generators: Vec<StormGenerator> = (0..settings.gens)
        .map(|g| {
            let first = settings.clients * g / settings.gens;
            let count = settings.clients * (g + 1) / settings.gens - first;
            let source = IpAddr::V4(Ipv4Addr::new(
                127,
                1 + (index % 250) as u8,
                100 + (g / 250) as u8,
                (g % 250 + 1) as u8,
            ));
            StormGenerator::start(&StormPlan {
                addr: group.addr(),
                source,
                count,
                first,
                parallel: settings.parallel,
                backoff,
                wait: settings.wait,
                deadline,
            })
        })
        .collect();
    for generator in &mut generators {
        generator.go();
    }
    let mut connected = 0;
    for generator in &mut generators {
        let (ok, failed) = generator.connected();
        connected += ok;
        if failed > 0 {
            eprintln!("storm, {}: {failed} clients did not connect", server.name());
        }
    }
    // The accept queues' drops, sampled every 100 ms until the storm ends.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let start = storm::listen_counters();
            let (mut last, mut peak) = (start.1, 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let now = storm::listen_counters();
                peak = peak.max(now.1 - last);
                last = now.1;
            }
            let end = storm::listen_counters();
            (end.0 - start.0, end.1 - start.1, peak.max(end.1 - last))
        })
    };
    std::thread::sleep(Duration::from_millis(150));
    let kill_us = storm::unix_us();
    group.kill_all();
    let dead = Duration::from_micros(storm::unix_us() - kill_us);
    std::thread::sleep(settings.down);
    group.start_all();
    let restart = Duration::from_micros(storm::unix_us() - kill_us);
    for generator in &mut generators {
        generator.watch(kill_us);
    }
    let mut report = StormReport::default();
    for generator in &mut generators {
        report.merge(&generator.report());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (overflows, drops, peak_drops) = sampler.join().expect("the sampler");
    group.kill_all();
    drop(generators);
    Storm {
        connected,
        dead,
        restart,
        report,
        overflows,
        drops,
        peak_drops,
    }
}

fn storm_servers() -> Vec<Server> {
    let names = std::env::var("SCALE_STORM_SERVERS").unwrap_or_else(|_| "ours-tokio".into());
    let columns: Vec<Server> = names
        .split(',')
        .map(|n| Server::from_name(n.trim()).unwrap_or_else(|| panic!("no server {n}")))
        .collect();
    assert!(
        columns.iter().all(|c| scale::COLUMNS.contains(c)),
        "the scale columns are {:?}",
        scale::COLUMNS.map(Server::name)
    );
    columns
}

fn servers() -> Vec<Server> {
    let mut columns: Vec<Server> = match std::env::var("SCALE_SERVERS") {
        Ok(names) => names
            .split(',')
            .map(|n| Server::from_name(n.trim()).unwrap_or_else(|| panic!("no server {n}")))
            .collect(),
        Err(_) => scale::COLUMNS.to_vec(),
    };
    assert!(
        columns.iter().all(|c| scale::COLUMNS.contains(c)),
        "the scale columns are {:?}",
        scale::COLUMNS.map(Server::name)
    );
    if !columns.contains(&BASELINE) {
        columns.push(BASELINE);
    }
    columns
}

fn header(first: &str, columns: &[Server]) -> String {
    let mut line = format!("| {first} |");
    let mut rule = "|---|".to_string();
    for server in columns {
        line += &format!(" {} |", server.name());
        rule += "---:|";
    }
    format!("{line}\n{rule}")
}

fn main() {
    scale::child_if_asked();
    let limit = rfc6455_compare::child::raise_open_files_limit();
    let columns = servers();
    let baseline = columns
        .iter()
        .position(|&s| s == BASELINE)
        .expect("baseline");
    let rounds: usize = env_number("SCALE_ROUNDS", 2);
    let plan = Plan {
        conns: env_number("SCALE_CONNS", 100_000),
        procs: env_number("SCALE_PROCS", 6),
        gens: env_number("SCALE_GENS", 8),
        parallel: env_number("SCALE_PARALLEL", 128),
        ping_after: None,
        ping_wait: Duration::from_millis(env_number("SCALE_PING_WAIT_MS", 30_000)),
        settle: Duration::from_millis(env_number("SCALE_SETTLE_MS", 1000)),
    };
    // The ramp must be over before the ping: about 0.6 ms per connection
    // on a busy 2-core machine, at least 10 s.
    let plan = Plan {
        ping_after: Some(Duration::from_millis(env_number(
            "SCALE_PING_AFTER_MS",
            (plan.conns as u64 * 3 / 5).max(10_000),
        ))),
        ..plan
    };
    let single: usize = env_number("SCALE_SINGLE", 19_000);
    let rates: Vec<usize> = match std::env::var("SCALE_LATENCY_RATES") {
        Ok(v) if v.trim().is_empty() => Vec::new(),
        _ => env_list("SCALE_LATENCY_RATES", &[10_000, 50_000, 100_000]),
    };
    let lat_conns: usize = env_number("SCALE_LATENCY_CONNS", 1000);
    let lat_procs: usize = env_number("SCALE_LATENCY_PROCS", 2);
    let lat_rounds: usize = env_number("SCALE_LATENCY_ROUNDS", 3);
    let window = Duration::from_millis(env_number("SCALE_LATENCY_WINDOW_MS", 2000));
    let warmup = Duration::from_millis(env_number("SCALE_LATENCY_WARMUP_MS", 500));
    let storm_settings = StormSettings {
        clients: env_number("SCALE_STORM_CLIENTS", 50_000),
        procs: env_number("SCALE_STORM_PROCS", 4),
        gens: env_number("SCALE_STORM_GENS", 4),
        parallel: env_number("SCALE_STORM_PARALLEL", 128),
        base: Duration::from_millis(env_number("SCALE_STORM_BASE_MS", 100)),
        cap: Duration::from_millis(env_number("SCALE_STORM_CAP_MS", 10_000)),
        max_tries: env_number("SCALE_STORM_TRIES", 30),
        down: Duration::from_millis(env_number("SCALE_STORM_DOWN_MS", 0)),
        wait: Duration::from_millis(env_number("SCALE_STORM_WAIT_MS", 120_000)),
    };
    let storm_rounds: usize = env_number("SCALE_STORM_ROUNDS", 3);
    let storm_columns = storm_servers();
    assert!(
        storm_settings.clients.div_ceil(storm_settings.procs.max(1)) <= PER_PROCESS
            && storm_settings.clients.div_ceil(storm_settings.gens.max(1)) <= PER_PROCESS,
        "{} storm clients need more processes than {} servers and {} generators \
         (at most {PER_PROCESS} each)",
        storm_settings.clients,
        storm_settings.procs,
        storm_settings.gens
    );
    let per_process = plan.conns.div_ceil(plan.procs);
    assert!(
        per_process <= PER_PROCESS && plan.conns.div_ceil(plan.gens) <= PER_PROCESS,
        "{} connections need more processes than {} servers and {} generators \
         (at most {PER_PROCESS} each)",
        plan.conns,
        plan.procs,
        plan.gens
    );
    assert!(
        single <= PER_PROCESS,
        "SCALE_SINGLE is at most {PER_PROCESS}"
    );
    assert!(
        (lat_conns as u64) + 100 < limit,
        "too many latency connections"
    );

    machine::print();
    let mut failures = Vec::new();

    // ---- latency ----
    let mut latency_rows = Vec::new();
    if !rates.is_empty() {
        eprintln!("latency: {lat_conns} connections, {lat_procs} processes per column");
        let mut groups: Vec<ServerGroup> = columns
            .iter()
            .map(|&s| ServerGroup::start(s, lat_procs, None, Duration::from_secs(3600)))
            .collect();
        for &rate in &rates {
            let mut merged: Vec<Histogram<u64>> =
                columns.iter().map(|_| latency::histogram()).collect();
            let mut missing = vec![0u64; columns.len()];
            let mut late = vec![Duration::ZERO; columns.len()];
            for round in 0..lat_rounds {
                for turn in 0..columns.len() {
                    let index = (turn + round) % columns.len();
                    let run = latency::measure(
                        groups[index].addr(),
                        lat_conns,
                        rate as u64,
                        warmup,
                        window,
                        Duration::from_secs(2),
                    );
                    merged[index]
                        .add(&run.histogram)
                        .expect("histograms of one shape");
                    missing[index] += run.scheduled - run.echoed;
                    late[index] = late[index].max(run.sender_late);
                }
            }
            for (i, server) in columns.iter().enumerate() {
                let h = &merged[i];
                eprintln!(
                    "{rate}/s {}: p50 {} p99 {} max {} µs, {} missing, sender late ≤ {:?}",
                    server.name(),
                    h.value_at_quantile(0.5),
                    h.value_at_quantile(0.99),
                    h.max(),
                    missing[i],
                    late[i]
                );
            }
            latency_rows.push((rate, merged, missing, late));
        }
        // Every process killed and started again on the same port, as a
        // deploy does (the reconnect storm's step): the port takes new
        // connections at once, each echoing.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        for group in &mut groups {
            group.kill_all();
            group.start_all();
            let streams = runtime.block_on(load::open_idle(group.addr(), false, 20, 16, 20));
            assert_eq!(streams.len(), 20);
            group.kill_all();
        }
    }

    // ---- 100,000 connections ----
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); columns.len()];
    let mut index = 0;
    if plan.conns > 0 {
        for round in 0..rounds {
            for turn in 0..columns.len() {
                let c = (turn + round) % columns.len();
                let result = run(columns[c], plan, index);
                index += 1;
                eprintln!(
                    "{} conns, {}: {} open in {:.2} s ({:.0}/s), {:.0} B per connection, \
                     {} pinged, ping round {:.1} ms{}",
                    plan.conns,
                    columns[c].name(),
                    result.open,
                    result.ramp.as_secs_f64(),
                    result.handshakes_per_second(),
                    result.bytes_per_connection(),
                    result.pinged,
                    result.ping_round.as_secs_f64() * 1e3,
                    if result.overran {
                        " (the ramp overran the ping moment)"
                    } else {
                        ""
                    }
                );
                if result.open != plan.conns || result.pinged != plan.conns || result.overran {
                    failures.push(format!(
                        "{} at {}: {} open, {} pinged{}",
                        columns[c].name(),
                        plan.conns,
                        result.open,
                        result.pinged,
                        if result.overran {
                            ", ramp overran the ping"
                        } else {
                            ""
                        }
                    ));
                }
                runs[c].push(result);
            }
        }
    }
    // ---- one process ----
    let mut singles: Vec<Option<Run>> = vec![None; columns.len()];
    if single > 0 {
        let one = Plan {
            conns: single,
            procs: 1,
            gens: single.div_ceil(10_000).max(1),
            ping_after: None,
            ..plan
        };
        for (c, &server) in columns.iter().enumerate() {
            let result = run(server, one, index);
            index += 1;
            eprintln!(
                "{single} conns, 1 process, {}: {} open, {:.0} B per connection",
                server.name(),
                result.open,
                result.bytes_per_connection()
            );
            if result.open != single {
                failures.push(format!(
                    "{} at {single} in one process: {} open",
                    server.name(),
                    result.open
                ));
            }
            singles[c] = Some(result);
        }
    }

    // ---- the reconnect storm ----
    // storms[c][0]: without jitter, storms[c][1]: with.
    let mut storms: Vec<[Vec<Storm>; 2]> = vec![[Vec::new(), Vec::new()]; storm_columns.len()];
    if storm_settings.clients > 0 {
        for round in 0..storm_rounds {
            for turn in 0..2 * storm_columns.len() {
                // Jitter off and on in turns, the first alternating by round.
                let jitter = (turn + round) % 2 == 1;
                let c = turn / 2;
                let server = storm_columns[c];
                let result = storm(server, storm_settings, jitter, index);
                index += 1;
                let (mean, p99, max) = result.attempts();
                eprintln!(
                    "storm, {}, jitter {}: {} connected, dead {:.0} ms, restart {:.0} ms, back {} \
                     (p50 {:.0} ms), {} given up, {} missing, {} mismatched; attempts \
                     {} ({} refused, {} timed out, {} reset, {} other), per client mean \
                     {mean:.2} p99 {p99} max {max}; ListenOverflows {} ListenDrops {} \
                     (peak {} per 100 ms); attempts peak {} per 100 ms",
                    server.name(),
                    if jitter { "on" } else { "off" },
                    result.connected,
                    result.dead.as_secs_f64() * 1e3,
                    result.restart.as_secs_f64() * 1e3,
                    result.all_back().map_or("not all".to_string(), |d| format!(
                        "{:.0} ms",
                        d.as_secs_f64() * 1e3
                    )),
                    result.quantile(0.5).as_secs_f64() * 1e3,
                    result.report.gave_up,
                    result.missing(),
                    result.report.mismatched,
                    result.report.attempts,
                    result.report.refused,
                    result.report.timed_out,
                    result.report.reset,
                    result.report.other,
                    result.overflows,
                    result.drops,
                    result.peak_drops,
                    result.report.peak_attempts()
                );
                if result.connected != storm_settings.clients
                    || result.all_back().is_none()
                    || result.report.mismatched > 0
                {
                    failures.push(format!(
                        "storm, {}, jitter {}: {} of {} connected, {} back, {} given up, \
                         {} missing, {} echoes mismatched",
                        server.name(),
                        if jitter { "on" } else { "off" },
                        result.connected,
                        storm_settings.clients,
                        result.report.reconnected,
                        result.report.gave_up,
                        result.missing(),
                        result.report.mismatched
                    ));
                }
                storms[c][usize::from(jitter)].push(result);
            }
        }
    }

    // ---- tables ----
    if plan.conns > 0 {
        println!(
            "{} connections: {} server processes per column (current-thread tokio runtime \
             each, one port, SO_REUSEPORT), {} generator processes ({} handshakes under way \
             each, one 127.x source address each); each connection sends one {}-byte message \
             and checks its echo; then every connection is pinged at one moment (ours: \
             keepalive; peers: a timer in the connection's task) and answers. {} rounds, \
             columns in turns; medians over rounds, ratios the median of each round's ratio.\n",
            plan.conns,
            plan.procs,
            plan.gens,
            plan.parallel,
            scale::MESSAGE,
            rounds
        );
        println!("{}", header("measure", &columns));
        let row = |name: &str, cell: &dyn Fn(usize) -> String| {
            let cells: Vec<String> = (0..columns.len())
                .map(|c| format!(" {} |", cell(c)))
                .collect();
            println!("| {name} |{}", cells.concat());
        };
        let med = |c: usize, f: &dyn Fn(&Run) -> f64| median(runs[c].iter().map(f).collect());
        let ratio = |c: usize, f: &dyn Fn(&Run) -> f64| {
            median(
                runs[c]
                    .iter()
                    .zip(&runs[baseline])
                    .map(|(r, b)| f(r) / f(b))
                    .collect(),
            )
        };
        let rate = |r: &Run| r.handshakes_per_second();
        let bytes = |r: &Run| r.bytes_per_connection();
        let ping = |r: &Run| r.ping_round.as_secs_f64() * 1e3;
        row("handshakes/s over the ramp", &|c| {
            format!("{:.0}", med(c, &rate))
        });
        row(&format!("  ratio to {}", BASELINE.name()), &|c| {
            format!("{:.2}", ratio(c, &rate))
        });
        row("server RSS per connection, KiB", &|c| {
            format!("{:.2}", med(c, &bytes) / 1024.0)
        });
        row(&format!("  ratio to {}", BASELINE.name()), &|c| {
            format!("{:.2}", ratio(c, &bytes))
        });
        row("ping round, ms (moment → last ping seen)", &|c| {
            format!("{:.0}", med(c, &ping))
        });
        row(&format!("  ratio to {}", BASELINE.name()), &|c| {
            format!("{:.2}", ratio(c, &ping))
        });
        row("connections open (worst round)", &|c| {
            runs[c]
                .iter()
                .map(|r| r.open)
                .min()
                .unwrap_or(0)
                .to_string()
        });
        row("pings seen (worst round)", &|c| {
            runs[c]
                .iter()
                .map(|r| r.pinged)
                .min()
                .unwrap_or(0)
                .to_string()
        });
        row("ramp, s (per round)", &|c| {
            runs[c]
                .iter()
                .map(|r| format!("{:.1}", r.ramp.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ")
        });
        if single > 0 {
            row(
                &format!("one process, {single} connections: RSS per connection, KiB"),
                &|c| {
                    singles[c].as_ref().map_or("-".into(), |r| {
                        format!("{:.2}", r.bytes_per_connection() / 1024.0)
                    })
                },
            );
        }
        println!();
    }
    if !latency_rows.is_empty() {
        println!(
            "Round trips at a fixed load: {lat_conns} connections to {lat_procs} server \
             processes per column (current-thread runtime each, SO_REUSEPORT), {}-byte \
             messages on an open-loop schedule (send times fixed in advance, each round trip \
             measured from its scheduled time: no coordinated omission); {lat_rounds} rounds \
             of {} ms after {} ms of warm-up, columns in turns, histograms merged. \
             Microseconds. *held*: every echo back and p99 under 50 ms.\n",
            latency::SIZE,
            window.as_millis(),
            warmup.as_millis()
        );
        println!(
            "| messages/s | server | p50 | p90 | p99 | p99.9 | max | p99 / {} | held |",
            BASELINE.name()
        );
        println!("|---:|---|---:|---:|---:|---:|---:|---:|---|");
        for (rate, merged, missing, _) in &latency_rows {
            let base = merged[baseline].value_at_quantile(0.99) as f64;
            let held: Vec<bool> = (0..columns.len())
                .map(|c| missing[c] == 0 && merged[c].value_at_quantile(0.99) < 50_000)
                .collect();
            for (c, server) in columns.iter().enumerate() {
                let h = &merged[c];
                println!(
                    "| {rate} | {} | {} | {} | {} | {} | {} | {:.2} | {} |",
                    server.name(),
                    h.value_at_quantile(0.5),
                    h.value_at_quantile(0.9),
                    h.value_at_quantile(0.99),
                    h.value_at_quantile(0.999),
                    h.max(),
                    h.value_at_quantile(0.99) as f64 / base,
                    if held[c] {
                        "yes".to_string()
                    } else {
                        format!("no ({} missing)", missing[c])
                    }
                );
            }
            if *rate == latency_rows[0].0 {
                // The lowest rate: a missing echo there is a bug.
                for (c, server) in columns.iter().enumerate() {
                    if missing[c] > 0 {
                        failures.push(format!(
                            "{} at {rate}/s: {} echoes missing",
                            server.name(),
                            missing[c]
                        ));
                    }
                }
            }
        }
        println!();
    }
    if storm_settings.clients > 0 {
        let s = storm_settings;
        println!(
            "Reconnect storm: {} clients of `ReconnectingClient` in {} generator processes \
             (one 127.x source address each), connected to {} server processes (current-thread \
             runtime each, one port, SO_REUSEPORT), each having echoed one {}-byte message; \
             every server process is killed (SIGKILL) and started again{}; each client comes \
             back through its backoff (base {} ms, cap {} ms, at most {} tries; TCP connect, \
             handshake and echo 10 s each) and echoes again, checked byte for byte. Times from \
             the kill; {} rounds, jitter off and on in turns; medians over rounds.\n",
            s.clients,
            s.gens,
            s.procs,
            storm::MESSAGE,
            if s.down.is_zero() {
                String::new()
            } else {
                format!(" after {} ms", s.down.as_millis())
            },
            s.base.as_millis(),
            s.cap.as_millis(),
            s.max_tries,
            storm_rounds
        );
        println!(
            "| server | jitter | all back, s | p50 back, s | servers gone, ms | restarted, ms | ListenOverflows | \
             ListenDrops | peak drops / 100 ms | attempts | peak attempts / 100 ms | refused | timed out | reset | \
             attempts per client (mean, p99, max) | not back | all back, s (per round) |"
        );
        println!(
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"
        );
        for (c, server) in storm_columns.iter().enumerate() {
            for jitter in [false, true] {
                let runs = &storms[c][usize::from(jitter)];
                let med = |f: &dyn Fn(&Storm) -> f64| median(runs.iter().map(f).collect());
                let secs = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64());
                let (mean, p99, max) = (
                    med(&|r| r.attempts().0),
                    med(&|r| r.attempts().1 as f64),
                    runs.iter().map(|r| r.attempts().2).max().unwrap_or(0),
                );
                println!(
                    "| {} | {} | {:.2} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | \
                     {:.0} | {:.0} | {mean:.2}, {p99:.0}, {max} | {} | {} |",
                    server.name(),
                    if jitter { "on" } else { "off" },
                    med(&|r| secs(r.all_back())),
                    med(&|r| r.quantile(0.5).as_secs_f64()),
                    med(&|r| r.dead.as_secs_f64() * 1e3),
                    med(&|r| r.restart.as_secs_f64() * 1e3),
                    med(&|r| r.overflows as f64),
                    med(&|r| r.drops as f64),
                    med(&|r| r.peak_drops as f64),
                    med(&|r| r.report.attempts as f64),
                    med(&|r| r.report.peak_attempts() as f64),
                    med(&|r| r.report.refused as f64),
                    med(&|r| r.report.timed_out as f64),
                    med(&|r| r.report.reset as f64),
                    runs.iter()
                        .map(|r| r.connected - r.report.reconnected)
                        .sum::<usize>(),
                    runs.iter()
                        .map(|r| r
                            .all_back()
                            .map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64())))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        println!();
    }
    assert!(failures.is_empty(), "failures: {failures:#?}");
}
