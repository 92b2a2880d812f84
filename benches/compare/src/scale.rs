//! The scale bench's processes: server groups sharing one port with
//! `SO_REUSEPORT`, and load generators that each open their share of the
//! connections from a source address of their own.
//!
//! - **A server** (this binary with `--serve-scale <column>`) runs one
//!   column's echo server on a current-thread tokio runtime, listening on
//!   `127.0.0.1:SCALE_PORT` with `SO_REUSEPORT` (the kernel spreads the
//!   connections over the group's processes). With `SCALE_PING_AT_MS` (Unix
//!   time in milliseconds) every connection is pinged from the server at
//!   that moment: ours through its keepalive (the interval set at accept to
//!   reach that moment), the peers from their task on a timer
//!   (`tokio::time::interval_at` in a `select!` with the read), as their
//!   users write a heartbeat. It prints `ready` once it listens.
//! - **A [`ServerGroup`]** holds the port (a bound socket of its own, so the
//!   port stays reserved while its processes are down) and the processes;
//!   [`ServerGroup::kill_all`] and [`ServerGroup::start_all`] kill every
//!   process and start them again on the same port, as a deploy does.
//! - **A generator** (this binary with `--generate`) opens its connections
//!   from one source address when told `go` on its standard input, at most
//!   `parallel` handshakes at once; each sends one message and checks its
//!   echo, then (if a ping moment is set) waits for the server's ping,
//!   answers it with a pong and notes when it came. It prints
//!   `open <ok> <failed>` when the ramp is over, then
//!   `pinged <count> <last_us>` (microseconds from the ping moment to the
//!   last ping seen), then holds its connections until it is killed, its
//!   standard input closes or its deadline passes.
//! - **A storm generator** (this binary with `--storm`) holds clients of
//!   our `ReconnectingClient` through a kill and restart of the group: see
//!   `crate::storm`.
//!
//! Every child dies with the bench ([`child::die_with_parent`]) and exits
//! by itself at its deadline.

use std::io::{self, BufRead, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;

use crate::child::{self, ChildProcess};
use crate::load::{self, Payloads};
use crate::servers::{self, BoxError, Server};

/// The columns of the scale bench: ours on tokio and the async peers.
pub const COLUMNS: [Server; 4] = [
    Server::OursTokio,
    Server::TokioTungstenite,
    Server::Fastwebsockets,
    Server::TokioWebsockets,
];

/// Bytes of the one message each connection sends.
pub const MESSAGE: usize = 16;

/// Connections one process may hold: the open-files limit is 20,000 here
/// and cannot be raised, and a process needs a few descriptors of its own.
pub const PER_PROCESS: usize = 19_000;

/// The backlog of every listener (the kernel caps it at `somaxconn`).
const BACKLOG: u32 = 4096;

/// The current time as Unix milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The `Instant` of Unix time `ms`, on this process's clock.
fn instant_of(ms: u64) -> Instant {
    let now = unix_ms();
    let now_instant = Instant::now();
    if ms >= now {
        now_instant + Duration::from_millis(ms - now)
    } else {
        now_instant
            .checked_sub(Duration::from_millis(now - ms))
            .unwrap_or(now_instant)
    }
}

/// Serves a scale server or runs a generator if the process was started as
/// one; never returns then. Call first thing in the bench's `main`.
pub fn child_if_asked() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--serve-scale") {
        let name = args.get(at + 1).expect("--serve-scale needs a server name");
        let server = Server::from_name(name).unwrap_or_else(|| panic!("no server {name}"));
        serve(server);
    }
    if let Some(at) = args.iter().position(|a| a == "--generate") {
        generate(&args[at + 1..]);
    }
    if let Some(at) = args.iter().position(|a| a == "--storm") {
        crate::storm::generate(&args[at + 1..]);
    }
}

/// Exits the process after `deadline`.
fn exit_at_deadline(deadline: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(deadline);
        eprintln!("scale child {}: deadline reached", std::process::id());
        std::process::exit(2);
    });
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ---- the server child ----

fn serve(server: Server) -> ! {
    child::die_with_parent();
    child::raise_open_files_limit();
    let port: u16 = env("SCALE_PORT").parse().expect("SCALE_PORT");
    let ping_at = std::env::var("SCALE_PING_AT_MS")
        .ok()
        .map(|ms| instant_of(ms.parse().expect("SCALE_PING_AT_MS")));
    let deadline: u64 = env("SCALE_DEADLINE_MS").parse().expect("SCALE_DEADLINE_MS");
    exit_at_deadline(Duration::from_millis(deadline));
    // Standard input ends when the bench drops its end: exit then.
    std::thread::spawn(|| {
        for line in io::stdin().lock().lines() {
            if line.is_err() {
                break;
            }
        }
        std::process::exit(0);
    });
    current_thread().block_on(async move {
        let listener = reuseport_socket(port)
            .and_then(|socket| socket.listen(BACKLOG))
            .expect("listen with SO_REUSEPORT");
        println!("ready");
        io::stdout().flush().expect("flush stdout");
        let ping_at = ping_at.map(tokio::time::Instant::from_std);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of descriptors: the connection waits in the queue.
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            };
            stream.set_nodelay(true).expect("TCP_NODELAY");
            spawn(server, stream, ping_at);
        }
    });
    unreachable!("the accept loop never ends")
}

/// A socket bound to `127.0.0.1:port` with `SO_REUSEADDR` and
/// `SO_REUSEPORT`.
fn reuseport_socket(port: u16) -> io::Result<TcpSocket> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    Ok(socket)
}

/// One task per connection, each spawn its own size (see `servers.rs`).
fn spawn(server: Server, stream: TcpStream, ping_at: Option<tokio::time::Instant>) {
    let Some(at) = ping_at else {
        match server {
            Server::OursTokio => drop(tokio::spawn(servers::ours_tokio(stream))),
            Server::TokioTungstenite => drop(tokio::spawn(servers::tokio_tungstenite(stream))),
            Server::Fastwebsockets => drop(tokio::spawn(servers::fastwebsockets(stream))),
            Server::TokioWebsockets => drop(tokio::spawn(servers::tokio_websockets(stream))),
            _ => unreachable!("not a scale column"),
        }
        return;
    };
    match server {
        Server::OursTokio => {
            // The keepalive counts from the last byte received: the one
            // message, a moment after this. Set to reach the chosen moment.
            // (At least 1 ms: zero would turn it off.)
            let interval = at
                .saturating_duration_since(tokio::time::Instant::now())
                .max(Duration::from_millis(1));
            let config = rfc6455::Config::default().keepalive_interval(interval);
            drop(tokio::spawn(servers::ours_tokio_with(stream, config)))
        }
        Server::TokioTungstenite => drop(tokio::spawn(tokio_tungstenite(stream, at))),
        Server::Fastwebsockets => drop(tokio::spawn(fastwebsockets(stream, at))),
        Server::TokioWebsockets => drop(tokio::spawn(tokio_websockets(stream, at))),
        _ => unreachable!("not a scale column"),
    }
}

/// How often the peers' heartbeat repeats after its first ping: longer
/// than any run, so each connection is pinged once.
const HEARTBEAT: Duration = Duration::from_secs(3600);

async fn tokio_tungstenite(stream: TcpStream, at: tokio::time::Instant) -> Result<(), BoxError> {
    use tokio_tungstenite::tungstenite::Message;
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    let mut heartbeat = tokio::time::interval_at(at, HEARTBEAT);
    loop {
        tokio::select! {
            message = ws.next() => {
                let Some(message) = message else { return Ok(()) };
                let message = message?;
                if message.is_binary() || message.is_text() {
                    ws.send(message).await?;
                }
            }
            _ = heartbeat.tick() => ws.send(Message::Ping(Bytes::new())).await?,
        }
    }
}

/// `read_frame` is dropped when the heartbeat wins the `select!`; the
/// clients send whole frames in one write, and nothing between their
/// message and the pong, so no partial frame is lost.
async fn fastwebsockets(mut stream: TcpStream, at: tokio::time::Instant) -> Result<(), BoxError> {
    use fastwebsockets::{FragmentCollector, Frame, OpCode, Payload, Role, WebSocket};
    servers::handshake_async(&mut stream).await?;
    let mut ws = FragmentCollector::new(WebSocket::after_handshake(stream, Role::Server));
    let mut heartbeat = tokio::time::interval_at(at, HEARTBEAT);
    loop {
        tokio::select! {
            frame = ws.read_frame() => {
                let frame = frame?;
                match frame.opcode {
                    OpCode::Close => return Ok(()),
                    OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
                    _ => {}
                }
            }
            _ = heartbeat.tick() => {
                let ping = Frame::new(true, OpCode::Ping, None, Payload::Borrowed(&[]));
                ws.write_frame(ping).await?;
            }
        }
    }
}

async fn tokio_websockets(stream: TcpStream, at: tokio::time::Instant) -> Result<(), BoxError> {
    let (_request, mut ws) = tokio_websockets::ServerBuilder::new()
        .accept(stream)
        .await?;
    let mut heartbeat = tokio::time::interval_at(at, HEARTBEAT);
    loop {
        tokio::select! {
            message = ws.next() => {
                let Some(message) = message else { return Ok(()) };
                let message = message?;
                if message.is_binary() || message.is_text() {
                    ws.send(message).await?;
                }
            }
            _ = heartbeat.tick() => ws.send(tokio_websockets::Message::ping(Bytes::new())).await?,
        }
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

// ---- the server group ----

/// The server processes of one column sharing one port: started, killed
/// and started again together.
pub struct ServerGroup {
    server: Server,
    /// Holds the port while no process listens on it.
    _reservation: TcpSocket,
    port: u16,
    processes: Vec<ChildProcess>,
    count: usize,
    env: Vec<(&'static str, String)>,
}

impl ServerGroup {
    /// Starts `count` processes of `server` on a fresh port; each pings its
    /// connections at Unix time `ping_at_ms` if given, and exits after
    /// `deadline` whatever happens.
    pub fn start(
        server: Server,
        count: usize,
        ping_at_ms: Option<u64>,
        deadline: Duration,
    ) -> Self {
        let reservation = reuseport_socket(0).expect("reserve a port");
        let port = reservation.local_addr().expect("reserved address").port();
        let mut env = vec![
            ("SCALE_PORT", port.to_string()),
            ("SCALE_DEADLINE_MS", deadline.as_millis().to_string()),
        ];
        if let Some(ms) = ping_at_ms {
            env.push(("SCALE_PING_AT_MS", ms.to_string()));
        }
        let mut group = ServerGroup {
            server,
            _reservation: reservation,
            port,
            processes: Vec::new(),
            count,
            env,
        };
        group.start_all();
        group
    }

    /// Where the clients connect.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Starts every process (after [`kill_all`](Self::kill_all)) and waits
    /// until each listens.
    pub fn start_all(&mut self) {
        assert!(self.processes.is_empty(), "kill the processes first");
        let env: Vec<(&str, String)> = self.env.iter().map(|(k, v)| (*k, v.clone())).collect();
        for _ in 0..self.count {
            self.processes.push(ChildProcess::start(
                &["--serve-scale", self.server.name()],
                &env,
            ));
        }
        for process in &mut self.processes {
            let line = process.line();
            assert_eq!(
                line,
                "ready",
                "a {} server did not start",
                self.server.name()
            );
        }
    }

    /// Kills every process at once (`SIGKILL`): their connections are
    /// reset, their listeners gone; the port stays reserved.
    pub fn kill_all(&mut self) {
        // Every signal first, then the waits: the processes die together.
        for process in &mut self.processes {
            process.signal_kill();
        }
        self.processes.clear();
    }

    /// The resident memory of each process, in bytes.
    pub fn rss(&self) -> Vec<u64> {
        self.processes.iter().map(ChildProcess::rss).collect()
    }
}

// ---- the generator child ----

/// What one generator is told.
#[derive(Clone, Debug)]
pub struct GeneratorPlan {
    /// The servers' address.
    pub addr: SocketAddr,
    /// The source address of every connection.
    pub source: IpAddr,
    /// Connections to open.
    pub count: usize,
    /// The number of the first (the stamps of messages carry it).
    pub first: usize,
    /// Handshakes under way at once.
    pub parallel: usize,
    /// The moment the servers ping (Unix ms), if they do.
    pub ping_at_ms: Option<u64>,
    /// How long after the ping moment to wait for every ping.
    pub ping_wait: Duration,
    /// How long the ramp may take.
    pub ramp_timeout: Duration,
    /// The process exits after this long, whatever happens.
    pub deadline: Duration,
}

impl GeneratorPlan {
    fn args(&self) -> Vec<String> {
        vec![
            "--generate".into(),
            self.addr.to_string(),
            self.source.to_string(),
            self.count.to_string(),
            self.first.to_string(),
            self.parallel.to_string(),
            self.ping_at_ms.map_or("-".into(), |ms| ms.to_string()),
            self.ping_wait.as_millis().to_string(),
            self.ramp_timeout.as_millis().to_string(),
            self.deadline.as_millis().to_string(),
        ]
    }

    fn parse(args: &[String]) -> Self {
        let arg = |i: usize| args.get(i).expect("a generator argument").as_str();
        let ms = |i: usize| Duration::from_millis(arg(i).parse().expect("milliseconds"));
        GeneratorPlan {
            addr: arg(0).parse().expect("address"),
            source: arg(1).parse().expect("source address"),
            count: arg(2).parse().expect("count"),
            first: arg(3).parse().expect("first"),
            parallel: arg(4).parse().expect("parallel"),
            ping_at_ms: arg(5).parse().ok(),
            ping_wait: ms(6),
            ramp_timeout: ms(7),
            deadline: ms(8),
        }
    }
}

/// A running generator.
pub struct Generator {
    process: ChildProcess,
}

/// What a generator reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct GeneratorReport {
    /// Connections opened and echoed.
    pub open: usize,
    /// Connections that failed.
    pub failed: usize,
    /// Pings seen (and answered).
    pub pinged: usize,
    /// From the ping moment to the last ping seen.
    pub last_ping: Duration,
}

impl Generator {
    /// Starts a generator; it waits for [`go`](Self::go).
    pub fn start(plan: &GeneratorPlan) -> Self {
        let args = plan.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut process = ChildProcess::start(&args, &[]);
        assert_eq!(process.line(), "ready", "a generator did not start");
        Generator { process }
    }

    /// Starts the ramp.
    pub fn go(&mut self) {
        self.process.send("go");
    }

    /// Waits for the end of the ramp: (opened, failed).
    pub fn opened(&mut self) -> (usize, usize) {
        let line = self.process.line();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["open", ok, failed] => (
                ok.parse().expect("open count"),
                failed.parse().expect("failed count"),
            ),
            _ => panic!("a generator said {line:?}, expected `open`"),
        }
    }

    /// Waits for the ping round: (pings seen, time from the ping moment to
    /// the last one).
    pub fn pinged(&mut self) -> (usize, Duration) {
        let line = self.process.line();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["pinged", count, last_us] => (
                count.parse().expect("ping count"),
                Duration::from_micros(last_us.parse().expect("microseconds")),
            ),
            _ => panic!("a generator said {line:?}, expected `pinged`"),
        }
    }
}

fn generate(args: &[String]) -> ! {
    child::die_with_parent();
    child::raise_open_files_limit();
    let plan = GeneratorPlan::parse(args);
    exit_at_deadline(plan.deadline);
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut lines = io::stdin().lock().lines();
        if matches!(lines.next(), Some(Ok(line)) if line == "go") {
            let _ = go_tx.send(());
        } else {
            std::process::exit(0);
        }
        // Hold the connections until standard input ends.
        for line in lines {
            if line.is_err() {
                break;
            }
        }
        std::process::exit(0);
    });
    current_thread().block_on(async move {
        println!("ready");
        io::stdout().flush().expect("flush stdout");
        if go_rx.await.is_err() {
            std::process::exit(0);
        }
        let (open, failed, pings) = ramp(&plan).await;
        println!("open {} {failed}", open.len());
        io::stdout().flush().expect("flush stdout");
        if plan.ping_at_ms.is_some() {
            let (count, last) = pings.await;
            println!("pinged {count} {}", last.as_micros());
            io::stdout().flush().expect("flush stdout");
        }
        // The connections stay open until the process ends.
        std::future::pending::<()>().await;
        drop(open);
    });
    unreachable!("the generator waits to be killed")
}

/// A ping seen: microseconds after the ping moment, plus one (0: none).
type PingTimes = Arc<Vec<AtomicU64>>;

/// Opens the plan's connections; returns the ones open (each task still
/// holds its stream, waiting for its ping), the number failed, and a
/// future of the ping round: (pings seen, the last one's time from the
/// ping moment).
async fn ramp(
    plan: &GeneratorPlan,
) -> (
    Vec<tokio::task::JoinHandle<()>>,
    usize,
    impl Future<Output = (usize, Duration)> + use<>,
) {
    let payloads = Payloads::new(MESSAGE);
    let gate = Arc::new(Semaphore::new(plan.parallel));
    let ping_at = plan.ping_at_ms.map(instant_of);
    let times: PingTimes = Arc::new((0..plan.count).map(|_| AtomicU64::new(0)).collect());
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let mut tasks = Vec::with_capacity(plan.count);
    for index in 0..plan.count {
        let (payloads, gate, times, done) = (
            payloads.clone(),
            gate.clone(),
            times.clone(),
            done_tx.clone(),
        );
        let (addr, source, conn) = (plan.addr, plan.source, plan.first + index);
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.expect("open semaphore");
            let opened = tokio::spawn(async move {
                load::open_one(addr, Some(source), false, conn, &payloads).await
            })
            .await;
            drop(permit);
            let Ok((stream, leftover)) = opened else {
                let _ = done.send(false);
                return;
            };
            let _ = done.send(true);
            let Some(at) = ping_at else {
                // Hold the stream until the process ends.
                let _stream = stream;
                return std::future::pending().await;
            };
            if let Ok((seen, _stream)) = await_ping(stream, leftover).await {
                let micros = seen.saturating_duration_since(at).as_micros() as u64;
                times[index].store(micros + 1, Ordering::Relaxed);
                std::future::pending::<()>().await;
            }
        }));
    }
    drop(done_tx);
    let mut open = 0;
    let ramp = async {
        // Each task keeps its sender while it holds its connection: count
        // the answers rather than wait for the channel to close.
        for _ in 0..plan.count {
            let Some(ok) = done_rx.recv().await else {
                break;
            };
            open += usize::from(ok);
        }
    };
    let _ = tokio::time::timeout(plan.ramp_timeout, ramp).await;
    // Those that failed and those not done within the ramp's time.
    let failed = plan.count - open;
    let wait_until = ping_at.map(|at| at + plan.ping_wait);
    let pings = async move {
        let Some(until) = wait_until else {
            return (0, Duration::ZERO);
        };
        loop {
            let seen = times
                .iter()
                .filter(|t| t.load(Ordering::Relaxed) > 0)
                .count();
            if seen == open || Instant::now() >= until {
                let last = times
                    .iter()
                    .map(|t| t.load(Ordering::Relaxed).saturating_sub(1))
                    .max()
                    .unwrap_or(0);
                return (seen, Duration::from_micros(last));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    (tasks, failed, pings)
}

/// Reads the server's frames until a ping; answers it with a pong (masked,
/// the same payload) and returns when it was seen. Anything else ends the
/// wait with an error. Returns the stream, to be held open.
async fn await_ping(mut stream: TcpStream, mut buf: Vec<u8>) -> io::Result<(Instant, TcpStream)> {
    let mut chunk = [0u8; 256];
    loop {
        if buf.len() >= 2 {
            let opcode = buf[0] & 0x0f;
            let len = (buf[1] & 0x7f) as usize;
            if buf[0] & 0x80 == 0 || buf[1] & 0x80 != 0 || len > 125 || opcode != 0x9 {
                return Err(io::Error::other(format!(
                    "expected a ping, got {:02x} {:02x}",
                    buf[0], buf[1]
                )));
            }
            if buf.len() >= 2 + len {
                let seen = Instant::now();
                let key = load::KEY;
                let mut pong = vec![0x8a, 0x80 | len as u8];
                pong.extend_from_slice(&key);
                pong.extend(
                    buf[2..2 + len]
                        .iter()
                        .enumerate()
                        .map(|(i, b)| b ^ key[i % 4]),
                );
                stream.write_all(&pong).await?;
                return Ok((seen, stream));
            }
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
