//! permessage-deflate at scale, in process: per mode (ours shared, dedicated
//! at 15, 12 and 9 window bits, no compression), the live heap an idle
//! server connection holds after a chat-like exchange, the compression
//! ratio of that exchange, and echo throughput with compression as a ratio
//! to dedicated mode at 15 bits in the same run.
//!
//! ```text
//! cargo bench --manifest-path benches/compare/Cargo.toml --bench deflate_scale
//! ```
//!
//! Every connection is a server [`Connection`] and a client that offers
//! what Chromium offers (`permessage-deflate; client_max_window_bits`),
//! agreeing what the server answers with the mode's `DeflateConfig`, as
//! `examples/echo_server.rs --deflate MODE` does (`min_size(0)`: every
//! message compressed). Bytes move between them in memory: no sockets, so
//! the throughput is the compression work and the connection layer alone.
//!
//! - **Heap**: `DSCALE_N` connections [10,000] each exchange 5 JSON chat
//!   messages of 200 B to 2 KiB each way (the client sends, the server
//!   echoes), then the clients are dropped and the pool cleared; the live
//!   heap (counting allocator) after less before, per connection, median of
//!   `DSCALE_RUNS` [3]. Resident memory and Node `ws` are measured over
//!   sockets by `scripts/deflate_scale.sh`, which `DSCALE_RSS=1` runs
//!   afterwards (needs node and npm).
//! - **Ratio**: bytes of compressed payload over bytes of text, both ways,
//!   over the same exchange.
//! - **Throughput**: 1 and 16 connections (`DSCALE_CONNS`), 16 messages in
//!   flight on each, messages of 1 KiB and 16 KiB (`DSCALE_SIZES`) of
//!   JSON-like text; each mode for `DSCALE_MS` [200] ms per round, modes
//!   in rotated order, `DSCALE_ROUNDS` [5] rounds; ratio to dedicated 15,
//!   median over rounds. Every echo is checked.
//!
//! - **By allocation size**: the first heap run's live allocations, after
//!   less before, per connection, by size (rounded up to 16 B), as the
//!   idle bench reports them.
//! - **Throughput over sockets**: the same echo, but the server is ours on
//!   tokio (`WebSocketStream`, 2 workers) in a child process (this binary
//!   with `--serve-deflate MODE`), one per mode, and the client is the
//!   echo bench's load generator (`load::measure_with`) in this process:
//!   1 and 16 connections, 16 messages in flight on each, every echo
//!   inflated and checked. The client offers what Chromium offers and sends
//!   each message compressed on its own (compressed once before the run, 64
//!   distinct messages in turn: valid whatever the mode, since a side may
//!   always leave out its context), so the server inflates and compresses
//!   every message and the client only inflates. `off` is included; ratio
//!   to dedicated 15, `DSCALE_SOCKET_MS` [250] ms per round after 100 ms
//!   of warm-up, `DSCALE_ROUNDS` rounds.
//!
//! `DSCALE_PARTS` [heap,process,sockets] picks the sections.
//!
//! The overhead against the backend called directly is `benches/deflate.rs`
//! in the main crate (`DEFLATE_BENCH_BITS` for the window).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rfc6455::deflate::{DeflateConfig, DeflateParams, Deflater, accept_offer, check_answer, pool};
use rfc6455::{Config, Connection, Event, Message, Role};
use rfc6455_compare::child::{self, ChildProcess};
use rfc6455_compare::load::{self, Encode, Feed};
use rfc6455_compare::table::{env_list, env_number, median, ratio, size_name};
use rfc6455_compare::{heap, machine, servers};

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Shared,
    Dedicated(u8),
    Off,
}

const MODES: [Mode; 5] = [
    Mode::Shared,
    Mode::Dedicated(15),
    Mode::Dedicated(12),
    Mode::Dedicated(9),
    Mode::Off,
];
const BASELINE: Mode = Mode::Dedicated(15);

impl Mode {
    fn name(self) -> String {
        match self {
            Mode::Shared => "shared".into(),
            Mode::Dedicated(bits) => format!("dedicated {bits}"),
            Mode::Off => "off".into(),
        }
    }

    /// The mode named as `echo_server --deflate` takes it.
    fn arg(self) -> String {
        match self {
            Mode::Shared => "shared".into(),
            Mode::Dedicated(bits) => format!("dedicated:{bits}"),
            Mode::Off => "off".into(),
        }
    }

    fn from_arg(arg: &str) -> Option<Mode> {
        MODES.into_iter().find(|m| m.arg() == arg)
    }

    fn deflate(self) -> Option<DeflateConfig> {
        match self {
            Mode::Shared => Some(DeflateConfig::shared().min_size(0)),
            Mode::Dedicated(bits) => Some(DeflateConfig::dedicated(bits).min_size(0)),
            Mode::Off => None,
        }
    }

    /// A server and a Chromium-like client that agreed this mode.
    fn pair(self) -> (Connection, Connection) {
        let offer = [("client_max_window_bits".to_owned(), None)];
        let server = self.deflate();
        let params: Option<DeflateParams> = server.as_ref().and_then(|c| accept_offer(&offer, c));
        assert_eq!(params.is_some(), self != Mode::Off);
        let client = Config::default().deflate(DeflateConfig::default().min_size(0));
        (
            Connection::with_deflate(Role::Server, Config::default().deflate(server), params),
            Connection::with_deflate(Role::Client, client, params),
        )
    }
}

/// A chat message of 200 B to 2 KiB, different for each `seed`.
fn chat(seed: usize) -> String {
    const WORDS: [&str; 12] = [
        "hello", "there", "how", "is", "everyone", "doing", "today", "fine", "thanks", "see",
        "you", "later",
    ];
    let words = 25 + (seed * 7919) % 300;
    let text: Vec<&str> = (0..words)
        .map(|k| WORDS[(seed * 31 + k * k) % WORDS.len()])
        .collect();
    format!(
        r#"{{"type":"message","room":"general","user":"user{}","seq":{seed},"at":{},"text":"{}"}}"#,
        seed % 97,
        1_700_000_000 + seed * 13,
        text.join(" ")
    )
}

/// JSON-like text of exactly `size` bytes: chat messages in an array.
fn sized(size: usize, seed: usize) -> String {
    let mut out = String::from("[");
    let mut i = seed;
    while out.len() < size {
        out.push_str(&chat(i));
        out.push(',');
        i += 1;
    }
    out.truncate(size - 1);
    out.push(']');
    out
}

/// The compressed payload bytes of a frame (its header skipped), or its
/// whole payload if it is not compressed.
fn payload_len(wire: &[u8]) -> usize {
    let mut at = 0;
    let mut total = 0;
    while at < wire.len() {
        let masked = wire[at + 1] & 0x80 != 0;
        let (len, header) = match wire[at + 1] & 0x7f {
            126 => (u16::from_be_bytes([wire[at + 2], wire[at + 3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(wire[at + 2..at + 10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let header = header + if masked { 4 } else { 0 };
        total += len;
        at += header + len;
    }
    total
}

/// One message from `from` to `to`, checked; returns its payload bytes on
/// the wire.
fn carry(from: &mut Connection, to: &mut Connection, text: &str) -> usize {
    from.send_text(text).unwrap();
    let wire = from.take_transmit();
    let bytes = payload_len(&wire);
    to.receive(&wire);
    match to.poll_event().unwrap() {
        Some(Event::Message(Message::Text(got))) => assert_eq!(got.as_str(), text),
        other => panic!("{other:?}"),
    }
    bytes
}

/// Heap per idle server connection, the exchange's ratio (wire / text),
/// and the live allocations added, by size class ([`heap::diff`]).
fn heap_per_connection(mode: Mode, n: usize) -> (f64, f64, Vec<(usize, i64)>) {
    pool::clear();
    let classes = heap::snapshot();
    let before = heap::live_bytes() as f64;
    let (mut wire, mut text) = (0, 0);
    let mut servers = Vec::with_capacity(n);
    for c in 0..n {
        let (mut server, mut client) = mode.pair();
        for m in 0..5 {
            let message = chat(c * 5 + m);
            wire += carry(&mut client, &mut server, &message);
            wire += carry(&mut server, &mut client, &message);
            text += 2 * message.len();
        }
        drop(client);
        servers.push(server);
    }
    pool::clear();
    let per = (heap::live_bytes() as f64 - before) / n as f64;
    let by_size = heap::diff(&classes, &heap::snapshot());
    drop(servers);
    (per, wire as f64 / text as f64, by_size)
}

/// Echo messages per second over `conns` pairs, `in_flight` messages at a
/// time on each, for `window`.
fn echo_rate(mode: Mode, conns: usize, size: usize, in_flight: usize, window: Duration) -> f64 {
    let mut pairs: Vec<_> = (0..conns).map(|_| mode.pair()).collect();
    let messages: Vec<String> = (0..in_flight).map(|i| sized(size, i * 11)).collect();
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < window {
        for (server, client) in &mut pairs {
            for m in &messages {
                client.send_text(m).unwrap();
            }
            server.receive(&client.take_transmit());
            while let Some(event) = server.poll_event().unwrap() {
                if let Event::Message(Message::Text(text)) = event {
                    server.send_text(text.as_str()).unwrap();
                }
            }
            client.receive(&server.take_transmit());
            for m in &messages {
                match client.poll_event().unwrap() {
                    Some(Event::Message(Message::Text(got))) => assert_eq!(got.as_str(), m),
                    other => panic!("{other:?}"),
                }
            }
            done += messages.len();
        }
    }
    done as f64 / start.elapsed().as_secs_f64()
}

/// Distinct messages each connection sends in turn over sockets.
const RING: usize = 64;

/// The Chromium-like offer.
const OFFER: &str = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";

/// If started as `--serve-deflate MODE`: ours on tokio in that mode, until
/// killed.
fn serve_if_asked() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--serve-deflate") {
        let mode = args.get(at + 1).and_then(|a| Mode::from_arg(a));
        let mode = mode.expect("--serve-deflate shared|dedicated:BITS|off");
        child::die_with_parent();
        servers::serve_ours_tokio(Config::default().deflate(mode.deflate()));
    }
}

/// The agreed parameters in a 101 answer's head, if it has
/// permessage-deflate.
fn agreed(head: &str) -> Option<DeflateParams> {
    let value = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-extensions")
            .then(|| value.trim())
    })?;
    let mut parts = value.split(';').map(str::trim);
    assert_eq!(parts.next(), Some("permessage-deflate"), "{value}");
    let params: Vec<(String, Option<String>)> = parts
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_owned(), Some(v.trim().to_owned())),
            None => (p.to_owned(), None),
        })
        .collect();
    Some(check_answer(&params, &DeflateConfig::default()).expect("a valid answer"))
}

/// The client's frames, masked, each message compressed on its own when
/// deflate was agreed.
struct Frames(Arc<Vec<Vec<u8>>>);

impl Frames {
    fn new(texts: &[String], params: Option<DeflateParams>) -> Self {
        let frames = texts
            .iter()
            .map(|text| {
                let (first, payload) = match params {
                    Some(p) => {
                        let mut deflater = Deflater::new(6, p.client_max_window_bits(), true);
                        let mut out = Vec::new();
                        deflater.compress(text.as_bytes(), true, &mut out).unwrap();
                        (0xc1, out)
                    }
                    None => (0x81, text.as_bytes().to_vec()),
                };
                let mut frame = vec![first];
                match payload.len() {
                    n if n < 126 => frame.push(0x80 | n as u8),
                    n if n <= 0xffff => {
                        frame.push(0x80 | 126);
                        frame.extend_from_slice(&(n as u16).to_be_bytes());
                    }
                    n => {
                        frame.push(0x80 | 127);
                        frame.extend_from_slice(&(n as u64).to_be_bytes());
                    }
                }
                frame.extend_from_slice(&load::KEY);
                frame.extend(
                    payload
                        .iter()
                        .enumerate()
                        .map(|(i, b)| b ^ load::KEY[i % 4]),
                );
                frame
            })
            .collect();
        Frames(Arc::new(frames))
    }
}

impl Encode for Frames {
    fn encode(&mut self, seq: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0[seq as usize % self.0.len()]);
    }
}

/// The echoes, read by a client `Connection` (inflated, UTF-8 checked) and
/// compared with the texts sent.
struct Echoes {
    conn: usize,
    client: Connection,
    texts: Arc<Vec<String>>,
    seq: u64,
}

impl Feed for Echoes {
    fn feed(&mut self, buf: &[u8]) -> (usize, u64) {
        self.client.receive(buf);
        let mut done = 0;
        while let Some(event) = self.client.poll_event().expect("a valid echo") {
            match event {
                Event::Message(Message::Text(got)) => {
                    let sent = &self.texts[self.seq as usize % self.texts.len()];
                    assert!(
                        got.as_str() == sent.as_str(),
                        "connection {}, message {}: wrong echo",
                        self.conn,
                        self.seq
                    );
                    self.seq += 1;
                    done += 1;
                }
                other => panic!("connection {}: {other:?}", self.conn),
            }
        }
        (buf.len(), done)
    }

    fn conn(&self) -> usize {
        self.conn
    }
}

/// Echo messages per second of the server at `addr`, in `mode`, over
/// `conns` loopback connections with `in_flight` messages on each.
async fn socket_rate(
    addr: std::net::SocketAddr,
    mode: Mode,
    conns: usize,
    texts: &Arc<Vec<String>>,
    in_flight: usize,
    window: Duration,
) -> f64 {
    let mut streams = Vec::with_capacity(conns);
    for conn in 0..conns {
        let (stream, head, leftover) = load::connect_with(addr, None, OFFER).await;
        let params = agreed(&head);
        assert_eq!(params.is_some(), mode != Mode::Off, "{head}");
        if mode == Mode::Shared {
            let p = params.unwrap();
            assert!(p.server_no_context_takeover() && p.client_no_context_takeover());
        }
        let client = Connection::with_deflate(
            Role::Client,
            Config::default().deflate(DeflateConfig::default()),
            params,
        );
        let echoes = Echoes {
            conn,
            client,
            texts: texts.clone(),
            seq: 0,
        };
        streams.push((stream, leftover, Frames::new(texts, params), echoes));
    }
    load::measure_with(streams, in_flight, Duration::from_millis(100), window).await
}

/// The socket section: a server child per mode, every mode in turn.
fn sockets(rounds: usize, conns: &[usize], sizes: &[usize]) {
    let window = Duration::from_millis(env_number("DSCALE_SOCKET_MS", 250));
    let mut children: Vec<(Mode, ChildProcess, std::net::SocketAddr)> = MODES
        .into_iter()
        .map(|mode| {
            let mut child = ChildProcess::start(&["--serve-deflate", &mode.arg()], &[]);
            let addr = child.line().parse().expect("the server's address");
            (mode, child, addr)
        })
        .collect();
    let runtime = servers::runtime();
    println!(
        "\nEcho throughput over loopback sockets, ours on tokio (2 workers) in a child \
         process per mode, 16 in flight: ratio to dedicated 15 (median of {rounds} rounds \
         of {} ms)\n",
        window.as_millis()
    );
    let names: Vec<String> = MODES.iter().map(|m| m.name()).collect();
    println!(
        "| connections | size | {} | dedicated 15, messages/s |",
        names.join(" | ")
    );
    println!("|---|---|{}---:|", "---:|".repeat(MODES.len()));
    for &c in conns {
        for &size in sizes {
            let texts = Arc::new((0..RING).map(|i| sized(size, i * 11)).collect::<Vec<_>>());
            let rates = rotated(MODES.len(), rounds, |i| {
                let (mode, _, addr) = &children[i];
                runtime.block_on(socket_rate(*addr, *mode, c, &texts, 16, window))
            });
            let base = MODES.iter().position(|m| *m == BASELINE).unwrap();
            print_ratio_row(c, size, &rates, base);
        }
    }
    for (_, child, _) in &mut children {
        child.kill();
    }
}

/// The heap section: per mode, heap per idle connection, ratio, and the
/// first run's allocations by size.
fn heap_section(n: usize, runs: usize) {
    println!(
        "\n{n} connections, 5 chat messages of 200 B to 2 KiB each way, then idle; median of {runs}\n"
    );
    println!("| mode | heap per idle connection | over `off` | payload / text |");
    println!("|---|---:|---:|---:|");
    let mut rows = Vec::new();
    for mode in MODES {
        let mut heaps = Vec::new();
        let mut ratio_of = 0.0;
        let mut by_size = Vec::new();
        for _ in 0..runs {
            let (per, r, classes) = heap_per_connection(mode, n);
            if heaps.is_empty() {
                by_size = classes;
            }
            heaps.push(per);
            ratio_of = r;
        }
        rows.push((mode, median(heaps), ratio_of, by_size));
    }
    let off = rows.iter().find(|r| r.0 == Mode::Off).unwrap().1;
    for (mode, per, r, _) in &rows {
        println!(
            "| {} | {:.0} B | {:.0} B | {:.3} |",
            mode.name(),
            per,
            per - off,
            r
        );
    }

    println!(
        "\nLive heap added per idle server connection (first run), by allocation size \
         (sizes rounded up to 16 B; classes holding at least one allocation per 10 \
         connections):\n"
    );
    println!("| mode | live heap B per connection | allocations per connection: size B × count |");
    println!("|---|---:|---|");
    for (mode, _, _, classes) in &rows {
        let (total, parts) = heap::per_connection(classes, n);
        println!("| {} | {:.0} | {} |", mode.name(), total, parts);
    }
}

/// The in-process throughput section.
fn in_process(rounds: usize, window: Duration, conns: &[usize], sizes: &[usize]) {
    println!(
        "\nEcho throughput with compression, in process, 16 in flight: ratio to dedicated 15 (median of {rounds} rounds)\n"
    );
    let compressed: Vec<Mode> = MODES.into_iter().filter(|m| *m != Mode::Off).collect();
    let header: Vec<String> = compressed.iter().map(|m| m.name()).collect();
    println!(
        "| connections | size | {} | dedicated 15, messages/s |",
        header.join(" | ")
    );
    println!("|---|---|{}---:|", "---:|".repeat(compressed.len()));
    for &c in conns {
        for &size in sizes {
            let rates = rotated(compressed.len(), rounds, |i| {
                echo_rate(compressed[i], c, size, 16, window)
            });
            let base = compressed.iter().position(|m| *m == BASELINE).unwrap();
            print_ratio_row(c, size, &rates, base);
        }
    }
}

/// `rounds` measurements of each of `n` columns, in turns, the order
/// rotated each round so that no column always runs first.
fn rotated(n: usize, rounds: usize, mut measure: impl FnMut(usize) -> f64) -> Vec<Vec<f64>> {
    let mut rates = vec![Vec::new(); n];
    for round in 0..rounds {
        for k in 0..n {
            let i = (k + round) % n;
            rates[i].push(measure(i));
        }
    }
    rates
}

/// A table row: each column's rate as a ratio to column `base`, then the
/// base's median rate.
fn print_ratio_row(conns: usize, size: usize, rates: &[Vec<f64>], base: usize) {
    let cells: Vec<String> = rates
        .iter()
        .map(|r| format!("{:.2}", ratio(r, &rates[base])))
        .collect();
    println!(
        "| {conns} | {} | {} | {:.0} |",
        size_name(size),
        cells.join(" | "),
        median(rates[base].clone())
    );
}

fn main() {
    serve_if_asked();
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    machine::print();
    let n: usize = env_number("DSCALE_N", 10_000);
    let runs: usize = env_number("DSCALE_RUNS", 3);
    let rounds: usize = env_number("DSCALE_ROUNDS", 5);
    let window = Duration::from_millis(env_number("DSCALE_MS", 200));
    let conns = env_list("DSCALE_CONNS", &[1, 16]);
    let sizes = env_list("DSCALE_SIZES", &[1024, 16 * 1024]);
    let parts = std::env::var("DSCALE_PARTS").unwrap_or("heap,process,sockets".into());
    let part = |name: &str| parts.split(',').any(|p| p.trim() == name);
    if part("heap") {
        heap_section(n, runs);
    }
    if part("process") {
        in_process(rounds, window, &conns, &sizes);
    }
    if part("sockets") {
        child::raise_open_files_limit();
        sockets(rounds, &conns, &sizes);
    }

    if std::env::var_os("DSCALE_RSS").is_some() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let status = std::process::Command::new("bash")
            .arg(format!("{root}/scripts/deflate_scale.sh"))
            .env("DEFLATE_SCALE_N", n.to_string())
            .status()
            .expect("run scripts/deflate_scale.sh");
        assert!(status.success(), "scripts/deflate_scale.sh: {status}");
    }
}
