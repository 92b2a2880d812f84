//! The reconnect storm's generator processes: clients of our
//! [`ReconnectingClient`] that stay connected to a [`ServerGroup`]
//! (`crate::scale`), lose their connections when every server process is
//! killed, and come back through their backoff when the group starts
//! again.
//!
//! A storm generator (this binary with `--storm`) holds `count` clients,
//! each connecting from one source address of its own (a 127.x.y.z, as the
//! scale generators do). Every connection, the first and each reconnect,
//! runs the client's `on_connect` hook: it sends one 16-byte binary message
//! stamped with the client's number and the connection's, and checks the
//! echo byte for byte (within [`ECHO_TIMEOUT`]); a failed hook is a failed
//! attempt. The `on_attempt` reports count the attempts after the first
//! connection, by outcome (refused, timed out, reset, other), and note
//! when each client's second connection succeeded.
//!
//! The exchange with the bench, one line each on standard input and
//! output: the generator prints `ready`; on `go` it connects its clients
//! (`parallel` first connections at once) and prints
//! `connected <ok> <failed>`; on `watch <kill_us>` (the Unix microsecond
//! the servers were killed) it waits until each client is back, has given
//! up, or `wait` has passed since, and prints the [`StormReport`]. Then it
//! holds its clients until its standard input closes or its deadline.
//!
//! [`ServerGroup`]: crate::scale::ServerGroup

use std::io::{self, BufRead, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rfc6455::handshake::ClientRequest;
use rfc6455::io::Error;
use rfc6455::io::tokio::{Attempt, Backoff, BoxFuture, ReconnectingClient, WebSocketStream};
use rfc6455::{Config, Message};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::child::{self, ChildProcess};
use crate::load;

/// How long a TCP connect may take (a SYN dropped by a full queue is
/// retried by the kernel after 1 s, 3 s, …): as long as the client's
/// handshake timeout, 10 s by default.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the hook waits for its echo.
pub const ECHO_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes of each client's message: its number and the connection's, 8
/// bytes each.
pub const MESSAGE: usize = 16;

/// The current time as Unix microseconds.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// `ListenOverflows` and `ListenDrops` of `/proc/net/netstat` (`TcpExt`):
/// connections the kernel dropped because an accept queue was full, and
/// all it dropped at a listener (the overflows included). Zeros where the
/// file is missing.
pub fn listen_counters() -> (u64, u64) {
    parse_listen(&std::fs::read_to_string("/proc/net/netstat").unwrap_or_default())
}

/// The two counters from the text of `/proc/net/netstat`: pairs of lines,
/// names then values, each starting with its group.
fn parse_listen(text: &str) -> (u64, u64) {
    let mut lines = text.lines();
    while let Some(names) = lines.next() {
        let Some(values) = lines.next() else { break };
        if !names.starts_with("TcpExt:") {
            continue;
        }
        let pairs: Vec<(&str, u64)> = names
            .split_whitespace()
            .zip(values.split_whitespace())
            .skip(1)
            .map(|(name, value)| (name, value.parse().unwrap_or(0)))
            .collect();
        let get = |wanted: &str| {
            pairs
                .iter()
                .find(|(name, _)| *name == wanted)
                .map_or(0, |(_, v)| *v)
        };
        return (get("ListenOverflows"), get("ListenDrops"));
    }
    (0, 0)
}

/// What one storm generator is told.
#[derive(Clone, Debug)]
pub struct StormPlan {
    /// The servers' address.
    pub addr: SocketAddr,
    /// The source address of every connection.
    pub source: IpAddr,
    /// Clients to hold.
    pub count: usize,
    /// The number of the first (stamped in its messages).
    pub first: usize,
    /// First connections under way at once.
    pub parallel: usize,
    /// The clients' backoff.
    pub backoff: Backoff,
    /// How long the first connections, and the storm, may take.
    pub wait: Duration,
    /// The process exits after this long, whatever happens.
    pub deadline: Duration,
}

impl StormPlan {
    fn args(&self) -> Vec<String> {
        let ms = |d: Duration| d.as_millis().to_string();
        vec![
            "--storm".into(),
            self.addr.to_string(),
            self.source.to_string(),
            self.count.to_string(),
            self.first.to_string(),
            self.parallel.to_string(),
            ms(self.backoff.base),
            ms(self.backoff.cap),
            self.backoff.max_tries.map_or("-".into(), |n| n.to_string()),
            if self.backoff.jitter {
                "jitter"
            } else {
                "fixed"
            }
            .into(),
            ms(self.wait),
            ms(self.deadline),
        ]
    }

    fn parse(args: &[String]) -> Self {
        let arg = |i: usize| args.get(i).expect("a storm argument").as_str();
        let ms = |i: usize| Duration::from_millis(arg(i).parse().expect("milliseconds"));
        let mut backoff = Backoff::new(ms(5), ms(6)).jitter(arg(8) == "jitter");
        if let Ok(tries) = arg(7).parse() {
            backoff = backoff.max_tries(tries);
        }
        StormPlan {
            addr: arg(0).parse().expect("address"),
            source: arg(1).parse().expect("source address"),
            count: arg(2).parse().expect("count"),
            first: arg(3).parse().expect("first"),
            parallel: arg(4).parse().expect("parallel"),
            backoff,
            wait: ms(9),
            deadline: ms(10),
        }
    }
}

/// What a storm generator saw of the storm.
#[derive(Clone, Debug, Default)]
pub struct StormReport {
    /// Clients connected again, their echo checked.
    pub reconnected: usize,
    /// Clients whose backoff ran out of tries.
    pub gave_up: usize,
    /// Echoes that differed from the message sent (a bug somewhere).
    pub mismatched: u64,
    /// Attempts after the first connection, all outcomes.
    pub attempts: u64,
    /// Of them refused (nothing listened).
    pub refused: u64,
    /// Timed out: the TCP connect, the handshake or the echo.
    pub timed_out: u64,
    /// Reset or ended by the server during the handshake or the echo.
    pub reset: u64,
    /// Failed otherwise.
    pub other: u64,
    /// `per_client[n]`: clients that made `n` attempts after the loss.
    pub per_client: Vec<u64>,
    /// Per client back: microseconds from the kill to its echo checked.
    pub times_us: Vec<u64>,
    /// The 100 ms slot (Unix time / 100 ms) of `timeline[0]`.
    pub slot0: u64,
    /// Attempts after the first connection ended in each 100 ms slot from
    /// `slot0`: the load the servers see, wave by wave.
    pub timeline: Vec<u64>,
}

impl StormReport {
    fn line(&self) -> String {
        let list = |v: &[u64]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
            }
        };
        format!(
            "storm {} {} {} {} {} {} {} {} {} {} {} {}",
            self.reconnected,
            self.gave_up,
            self.mismatched,
            self.attempts,
            self.refused,
            self.timed_out,
            self.reset,
            self.other,
            list(&self.per_client),
            list(&self.times_us),
            self.slot0,
            list(&self.timeline)
        )
    }

    fn parse(line: &str) -> Option<Self> {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() != 13 || words[0] != "storm" {
            return None;
        }
        let n = |i: usize| words[i].parse::<u64>().ok();
        let list = |i: usize| -> Option<Vec<u64>> {
            if words[i] == "-" {
                return Some(Vec::new());
            }
            words[i].split(',').map(|v| v.parse().ok()).collect()
        };
        Some(StormReport {
            reconnected: n(1)? as usize,
            gave_up: n(2)? as usize,
            mismatched: n(3)?,
            attempts: n(4)?,
            refused: n(5)?,
            timed_out: n(6)?,
            reset: n(7)?,
            other: n(8)?,
            per_client: list(9)?,
            times_us: list(10)?,
            slot0: n(11)?,
            timeline: list(12)?,
        })
    }

    /// Adds another generator's report to this one.
    pub fn merge(&mut self, other: &StormReport) {
        self.reconnected += other.reconnected;
        self.gave_up += other.gave_up;
        self.mismatched += other.mismatched;
        self.attempts += other.attempts;
        self.refused += other.refused;
        self.timed_out += other.timed_out;
        self.reset += other.reset;
        self.other += other.other;
        if self.per_client.len() < other.per_client.len() {
            self.per_client.resize(other.per_client.len(), 0);
        }
        for (mine, theirs) in self.per_client.iter_mut().zip(&other.per_client) {
            *mine += theirs;
        }
        self.times_us.extend_from_slice(&other.times_us);
        if other.timeline.is_empty() {
            return;
        }
        if self.timeline.is_empty() {
            self.slot0 = other.slot0;
        }
        // Both timelines on one axis of absolute slots.
        let start = self.slot0.min(other.slot0);
        let end = (self.slot0 + self.timeline.len() as u64)
            .max(other.slot0 + other.timeline.len() as u64);
        let mut merged = vec![0; (end - start) as usize];
        for (line, slot0) in [(&self.timeline, self.slot0), (&other.timeline, other.slot0)] {
            for (i, count) in line.iter().enumerate() {
                merged[(slot0 - start) as usize + i] += count;
            }
        }
        self.slot0 = start;
        self.timeline = merged;
    }

    /// The most attempts that ended in one 100 ms slot.
    pub fn peak_attempts(&self) -> u64 {
        self.timeline.iter().copied().max().unwrap_or(0)
    }
}

/// A running storm generator.
pub struct StormGenerator {
    process: ChildProcess,
}

impl StormGenerator {
    /// Starts a generator; it waits for [`go`](Self::go).
    pub fn start(plan: &StormPlan) -> Self {
        let args = plan.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut process = ChildProcess::start(&args, &[]);
        assert_eq!(process.line(), "ready", "a storm generator did not start");
        StormGenerator { process }
    }

    /// Connects the clients.
    pub fn go(&mut self) {
        self.process.send("go");
    }

    /// Waits for the first connections: (connected, failed).
    pub fn connected(&mut self) -> (usize, usize) {
        let line = self.process.line();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["connected", ok, failed] => (
                ok.parse().expect("connected count"),
                failed.parse().expect("failed count"),
            ),
            _ => panic!("a storm generator said {line:?}, expected `connected`"),
        }
    }

    /// Tells the generator the servers were killed at Unix microsecond
    /// `kill_us`.
    pub fn watch(&mut self, kill_us: u64) {
        self.process.send(&format!("watch {kill_us}"));
    }

    /// Waits for the generator's report of the storm.
    pub fn report(&mut self) -> StormReport {
        let line = self.process.line();
        StormReport::parse(&line).unwrap_or_else(|| {
            panic!(
                "a storm generator said {:?}, expected `storm`",
                &line[..line.len().min(200)]
            )
        })
    }
}

/// Counters the clients of one generator share.
struct Shared {
    attempts: AtomicU64,
    refused: AtomicU64,
    timed_out: AtomicU64,
    reset: AtomicU64,
    other: AtomicU64,
    mismatched: AtomicU64,
    gave_up: AtomicUsize,
    /// Per client: attempts after its first connection.
    tries: Vec<AtomicU32>,
    /// Per client: Unix microseconds of its second connection's echo (0:
    /// not yet).
    back_at: Vec<AtomicU64>,
    /// The 100 ms slot of `timeline[0]`, set once the first connections
    /// are made.
    slot0: AtomicU64,
    /// Attempts after the first connection ended per 100 ms slot; those
    /// past the end count in the last.
    timeline: Vec<AtomicU64>,
}

impl Shared {
    fn count_attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let slot = (unix_us() / 100_000).saturating_sub(self.slot0.load(Ordering::Relaxed));
        let last = self.timeline.len() - 1;
        self.timeline[(slot as usize).min(last)].fetch_add(1, Ordering::Relaxed);
    }

    fn count_failure(&self, error: &Error) {
        use io::ErrorKind as K;
        let counter = match error {
            Error::Io(e) if e.kind() == K::ConnectionRefused => &self.refused,
            Error::Io(e) if e.kind() == K::TimedOut => &self.timed_out,
            Error::HandshakeTimeout => &self.timed_out,
            Error::Io(e)
                if matches!(
                    e.kind(),
                    K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
                ) =>
            {
                &self.reset
            }
            // The stream ended before the echo.
            Error::Protocol(_) => &self.reset,
            _ => &self.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The storm generator's process: never returns.
pub fn generate(args: &[String]) -> ! {
    child::die_with_parent();
    child::raise_open_files_limit();
    let plan = StormPlan::parse(args);
    std::thread::spawn(move || {
        std::thread::sleep(plan.deadline);
        eprintln!("storm generator {}: deadline reached", std::process::id());
        std::process::exit(2);
    });
    let (lines_tx, mut lines_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
        // Standard input ended: the bench is done with us.
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        println!("ready");
        io::stdout().flush().expect("flush stdout");
        if lines_rx.recv().await.as_deref() != Some("go") {
            std::process::exit(0);
        }
        let shared = Arc::new(Shared {
            attempts: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            reset: AtomicU64::new(0),
            other: AtomicU64::new(0),
            mismatched: AtomicU64::new(0),
            gave_up: AtomicUsize::new(0),
            tries: (0..plan.count).map(|_| AtomicU32::new(0)).collect(),
            back_at: (0..plan.count).map(|_| AtomicU64::new(0)).collect(),
            slot0: AtomicU64::new(unix_us() / 100_000),
            timeline: (0..plan.wait.as_millis() as usize * 2 / 100 + 1)
                .map(|_| AtomicU64::new(0))
                .collect(),
        });
        let gate = Arc::new(Semaphore::new(plan.parallel.max(1)));
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
        let mut tasks = Vec::with_capacity(plan.count);
        for index in 0..plan.count {
            tasks.push(tokio::spawn(client(
                plan.clone(),
                index,
                shared.clone(),
                gate.clone(),
                done_tx.clone(),
            )));
        }
        drop(done_tx);
        let mut ok = 0;
        let first = async {
            for _ in 0..plan.count {
                let Some(connected) = done_rx.recv().await else {
                    break;
                };
                ok += usize::from(connected);
            }
        };
        let _ = tokio::time::timeout(plan.wait, first).await;
        shared.slot0.store(unix_us() / 100_000, Ordering::Relaxed);
        println!("connected {ok} {}", plan.count - ok);
        io::stdout().flush().expect("flush stdout");
        let kill_us = loop {
            let Some(line) = lines_rx.recv().await else {
                std::process::exit(0);
            };
            if let Some(at) = line.strip_prefix("watch ") {
                break at.trim().parse::<u64>().expect("kill time");
            }
        };
        let until = Instant::now() + plan.wait;
        loop {
            let back = shared
                .back_at
                .iter()
                .filter(|t| t.load(Ordering::Relaxed) > 0)
                .count();
            let over = back + shared.gave_up.load(Ordering::Relaxed);
            if over >= ok || Instant::now() >= until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut report = StormReport {
            gave_up: shared.gave_up.load(Ordering::Relaxed),
            mismatched: shared.mismatched.load(Ordering::Relaxed),
            attempts: shared.attempts.load(Ordering::Relaxed),
            refused: shared.refused.load(Ordering::Relaxed),
            timed_out: shared.timed_out.load(Ordering::Relaxed),
            reset: shared.reset.load(Ordering::Relaxed),
            other: shared.other.load(Ordering::Relaxed),
            slot0: shared.slot0.load(Ordering::Relaxed),
            timeline: shared
                .timeline
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            ..StormReport::default()
        };
        // Trailing empty slots say nothing.
        while report.timeline.last() == Some(&0) {
            report.timeline.pop();
        }
        for (tries, back) in shared.tries.iter().zip(&shared.back_at) {
            let back = back.load(Ordering::Relaxed);
            if back > 0 {
                report.reconnected += 1;
                report.times_us.push(back.saturating_sub(kill_us));
            }
            let tries = tries.load(Ordering::Relaxed) as usize;
            if report.per_client.len() <= tries {
                report.per_client.resize(tries + 1, 0);
            }
            report.per_client[tries] += 1;
        }
        println!("{}", report.line());
        io::stdout().flush().expect("flush stdout");
        // Hold the clients until the bench closes our standard input.
        while lines_rx.recv().await.is_some() {}
        drop(tasks);
        std::process::exit(0)
    })
}

/// The message of connection `connection` of client `conn`.
fn stamp(conn: usize, connection: u64) -> Vec<u8> {
    let mut message = Vec::with_capacity(MESSAGE);
    message.extend_from_slice(&(conn as u64).to_le_bytes());
    message.extend_from_slice(&connection.to_le_bytes());
    message
}

/// The hook's type, spelled out for the closure's lifetimes.
fn as_hook<F>(hook: F) -> F
where
    F: for<'a> FnMut(&'a mut WebSocketStream<TcpStream>) -> BoxFuture<'a, Result<(), Error>>,
{
    hook
}

/// One client: connects (under the gate), reports on `done`, then reads
/// until it is closed or gives up; its reconnects happen inside `recv`.
async fn client(
    plan: StormPlan,
    index: usize,
    shared: Arc<Shared>,
    gate: Arc<Semaphore>,
    done: tokio::sync::mpsc::UnboundedSender<bool>,
) {
    let (addr, source, conn) = (plan.addr, plan.source, plan.first + index);
    let request = ClientRequest::new(&format!("ws://{addr}/")).expect("a ws:// request");
    let connect = move || {
        let request = request.clone();
        async move {
            let socket = load::bound_socket(source)?;
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(addr))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
            stream.set_nodelay(true)?;
            WebSocketStream::client(stream, request, Config::default()).await
        }
    };
    let mut connection = 0u64;
    let hook_shared = shared.clone();
    let hook = as_hook(move |ws| {
        let expected = stamp(conn, connection);
        connection += 1;
        let shared = hook_shared.clone();
        let exchange = async move {
            ws.send(Message::binary(expected.clone())).await?;
            match ws.recv().await {
                Some(Ok(echo)) if echo.as_bytes() == expected.as_slice() => Ok(()),
                Some(Ok(_)) => {
                    shared.mismatched.fetch_add(1, Ordering::Relaxed);
                    Err(io::Error::other("the echo differs").into())
                }
                Some(Err(error)) => Err(error),
                None => Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            }
        };
        Box::pin(async move {
            tokio::time::timeout(ECHO_TIMEOUT, exchange)
                .await
                .unwrap_or_else(|_| Err(io::Error::from(io::ErrorKind::TimedOut).into()))
        })
    });
    let mut successes = 0u32;
    let mut tries = 0u32;
    let report_shared = shared.clone();
    let report = move |attempt: &Attempt<'_>| {
        let shared = &report_shared;
        if successes >= 1 {
            tries += 1;
            shared.tries[index].store(tries, Ordering::Relaxed);
            shared.count_attempt();
            if let Err(error) = attempt.outcome {
                shared.count_failure(error);
            }
        }
        if attempt.outcome.is_ok() {
            successes += 1;
            if successes == 2 {
                shared.back_at[index].store(unix_us(), Ordering::Relaxed);
            }
        }
    };
    let permit = gate.acquire_owned().await.expect("open semaphore");
    let client = ReconnectingClient::builder_with(connect)
        .backoff(plan.backoff)
        .on_connect(hook)
        .on_attempt(report)
        .connect()
        .await;
    drop(permit);
    let Ok(mut client) = client else {
        let _ = done.send(false);
        return;
    };
    let _ = done.send(true);
    drop(done);
    loop {
        match client.recv().await {
            // The servers send nothing but echoes, and those the hook reads.
            Some(Ok(_)) => {
                shared.mismatched.fetch_add(1, Ordering::Relaxed);
            }
            Some(Err(_)) => {
                shared.gave_up.fetch_add(1, Ordering::Relaxed);
                return;
            }
            None => {
                // Closed by a final code: as good as given up.
                shared.gave_up.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_survives_its_line() {
        let report = StormReport {
            reconnected: 3,
            gave_up: 1,
            mismatched: 0,
            attempts: 9,
            refused: 4,
            timed_out: 1,
            reset: 1,
            other: 0,
            per_client: vec![0, 1, 2, 1],
            times_us: vec![5, 700, 12],
            slot0: 17,
            timeline: vec![3, 0, 6],
        };
        let back = StormReport::parse(&report.line()).expect("parses");
        assert_eq!(back.line(), report.line());
        assert!(StormReport::parse("storm 1 2").is_none());
        // Timelines merge on one axis.
        let mut merged = report.clone();
        merged.merge(&StormReport {
            slot0: 15,
            timeline: vec![1, 1, 1, 1, 1],
            ..StormReport::default()
        });
        assert_eq!(
            (merged.slot0, merged.timeline.clone()),
            (15, vec![1, 1, 4, 1, 7])
        );
        assert_eq!(merged.peak_attempts(), 7);
        let empty = StormReport::default();
        assert_eq!(
            StormReport::parse(&empty.line()).expect("parses").line(),
            empty.line()
        );
    }

    #[test]
    fn the_plan_survives_its_arguments() {
        let plan = StormPlan {
            addr: "127.0.0.1:9".parse().unwrap(),
            source: "127.3.0.1".parse().unwrap(),
            count: 10,
            first: 20,
            parallel: 4,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
                .max_tries(7)
                .jitter(false),
            wait: Duration::from_secs(30),
            deadline: Duration::from_secs(60),
        };
        let back = StormPlan::parse(&plan.args()[1..]);
        assert_eq!(back.args(), plan.args());
        assert_eq!(back.backoff, plan.backoff);
    }

    #[test]
    fn the_counters_are_read_from_netstat() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\n\
                    TcpExt: 7 12 15\n\
                    IpExt: ListenOverflows\n\
                    IpExt: 99\n";
        assert_eq!(parse_listen(text), (12, 15));
        let later = "IpExt: A\nIpExt: 1\nTcpExt: ListenDrops ListenOverflows\nTcpExt: 4 3\n";
        assert_eq!(parse_listen(later), (3, 4));
        assert_eq!(parse_listen(""), (0, 0));
    }
}
