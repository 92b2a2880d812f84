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
//! The overhead against the backend called directly is `benches/deflate.rs`
//! in the main crate (`DEFLATE_BENCH_BITS` for the window).

use std::time::{Duration, Instant};

use rfc6455::deflate::{DeflateConfig, DeflateParams, accept_offer, pool};
use rfc6455::{Config, Connection, Event, Message, Role};
use rfc6455_compare::heap;
use rfc6455_compare::machine;
use rfc6455_compare::table::{env_list, env_number, median, ratio, size_name};

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

/// Heap per idle server connection and the exchange's ratio (wire / text).
fn heap_per_connection(mode: Mode, n: usize) -> (f64, f64) {
    pool::clear();
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
    drop(servers);
    (per, wire as f64 / text as f64)
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

fn main() {
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

    println!(
        "\n{n} connections, 5 chat messages of 200 B to 2 KiB each way, then idle; median of {runs}\n"
    );
    println!("| mode | heap per idle connection | over `off` | payload / text |");
    println!("|---|---:|---:|---:|");
    let mut rows = Vec::new();
    for mode in MODES {
        let mut heaps = Vec::new();
        let mut ratio_of = 0.0;
        for _ in 0..runs {
            let (per, r) = heap_per_connection(mode, n);
            heaps.push(per);
            ratio_of = r;
        }
        rows.push((mode, median(heaps), ratio_of));
    }
    let off = rows.iter().find(|r| r.0 == Mode::Off).unwrap().1;
    for (mode, per, r) in &rows {
        println!(
            "| {} | {:.0} B | {:.0} B | {:.3} |",
            mode.name(),
            per,
            per - off,
            r
        );
    }

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
    for &c in &conns {
        for &size in &sizes {
            let mut rates = vec![Vec::new(); compressed.len()];
            for round in 0..rounds {
                for k in 0..compressed.len() {
                    let i = (k + round) % compressed.len();
                    rates[i].push(echo_rate(compressed[i], c, size, 16, window));
                }
            }
            let base = compressed.iter().position(|m| *m == BASELINE).unwrap();
            let cells: Vec<String> = rates
                .iter()
                .map(|r| format!("{:.2}", ratio(r, &rates[base])))
                .collect();
            println!(
                "| {c} | {} | {} | {:.0} |",
                size_name(size),
                cells.join(" | "),
                median(rates[base].clone())
            );
        }
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
