//! A WebSocket echo server on tokio and the crate's tokio adapter, one task
//! per connection, with every timer on and a count of live connections.
//!
//! ```text
//! cargo run --release --features tokio --example echo_server_tokio [ADDRESS] [--keepalive SECS] \
//!     [--idle-timeout SECS] [--handshake-timeout SECS] [--close-timeout SECS] \
//!     [--send-timeout SECS] [--max-message BYTES] [--deflate shared|dedicated|off] [--stats SECS]
//! ```
//!
//! The address defaults to 127.0.0.1:9001; port 0 picks a free port, and the
//! first line printed names it. Every text and binary message comes back
//! unchanged. `scripts/soak.sh` runs it for a while against clients that
//! misbehave in every way it knows (`examples/soak/`).
//!
//! What each kind of peer meets, with the defaults (every flag takes 0 for
//! off):
//!
//! - one that trickles its request in (slowloris) is dropped once the
//!   handshake has taken 10 s (`--handshake-timeout`), with no answer;
//! - one that vanishes without a close is pinged after 30 s of silence
//!   (`--keepalive`) and dropped after 75 s with no byte (`--idle-timeout`);
//! - one that sends but does not read fills its send queue to the adapter's
//!   high-water mark (128 KiB); the echo then waits for room at most 10 s
//!   (`--send-timeout`) before the connection is dropped, so memory stays
//!   bounded and the task ends;
//! - one that breaks the protocol gets its close code (1002, 1007, or 1009
//!   for a message over `--max-message`, 1 MiB by default); the connection
//!   ends once that is written, or after 5 s (`--close-timeout`) for a
//!   peer that reads nothing, as does the answer to a close from a peer
//!   that then reads nothing.
//!
//! `--stats SECS` prints a line on stderr every SECS seconds: the
//! connections live (accepted and not yet ended, handshakes included), the
//! total accepted, and how the ended ones ended.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use futures_util::StreamExt;
use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::Accept;
use rfc6455::io::Error;
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{Config, ProtocolError};
use tokio::net::{TcpListener, TcpStream};

const USAGE: &str = "usage: echo_server_tokio [ADDRESS] [--keepalive SECS] [--idle-timeout SECS] \
[--handshake-timeout SECS] [--close-timeout SECS] [--send-timeout SECS] [--max-message BYTES] \
[--deflate shared|dedicated|off] [--stats SECS]";

/// The command line.
#[derive(Clone, Copy)]
struct Settings {
    config: Config,
    send_timeout: Option<Duration>,
    stats: Option<Duration>,
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let (address, settings) = match parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&address).await?;
    let config = settings.config;
    eprintln!(
        "echo server on ws://{}/ (keepalive {}, idle timeout {}, handshake timeout {}, \
         close timeout {}, send timeout {}, max message {} B, deflate {})",
        listener.local_addr()?,
        seconds(config.keepalive_interval),
        seconds(config.idle_timeout),
        seconds(config.handshake_timeout),
        seconds(config.close_timeout),
        seconds(settings.send_timeout),
        config.max_message_size,
        if config.deflate.is_some() {
            "on"
        } else {
            "off"
        },
    );
    if let Some(every) = settings.stats {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                eprintln!("{}", STATS.line());
            }
        });
    }
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of descriptors, or a connection reset before it was
            // accepted: the listener itself is fine. Wait a little rather
            // than spin on EMFILE.
            Err(error) => {
                eprintln!("accept: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        STATS.accepted.fetch_add(1, Relaxed);
        tokio::spawn(async move {
            let ended = serve(stream, settings).await;
            STATS.ended[ended as usize].fetch_add(1, Relaxed);
        });
    }
}

/// How a connection ended, for the stats line.
#[derive(Clone, Copy)]
enum Ended {
    /// The close handshake completed.
    Closed,
    /// The opening handshake failed: a broken or plain HTTP request, or the
    /// peer left.
    Handshake,
    HandshakeTimeout,
    /// The peer broke a rule and got its close code.
    Protocol,
    /// No byte for the idle timeout, or no answer to our close.
    Timeout,
    /// The send queue stayed full for the send timeout.
    SendTimeout,
    /// The stream ended or failed without a close handshake.
    Abnormal,
}

const ENDED: [&str; 7] = [
    "closed",
    "handshake failed",
    "handshake timeout",
    "protocol error",
    "idle or close timeout",
    "send timeout",
    "abnormal",
];

/// Counters shared by every task.
struct Stats {
    accepted: AtomicU64,
    ended: [AtomicU64; ENDED.len()],
}

static STATS: Stats = Stats {
    accepted: AtomicU64::new(0),
    ended: [const { AtomicU64::new(0) }; ENDED.len()],
};

impl Stats {
    /// `stats: live 3, accepted 120, closed 100, ...`. The live count is
    /// accepted minus ended: every task adds to `ended` as it returns.
    fn line(&self) -> String {
        let ended: Vec<u64> = self.ended.iter().map(|n| n.load(Relaxed)).collect();
        let accepted = self.accepted.load(Relaxed);
        let mut line = format!(
            "stats: live {}, accepted {accepted}",
            accepted.saturating_sub(ended.iter().sum())
        );
        for (name, n) in ENDED.iter().zip(ended) {
            line += &format!(", {name} {n}");
        }
        line
    }
}

/// One connection: the handshake, then every message back until the end.
async fn serve(stream: TcpStream, settings: Settings) -> Ended {
    if stream.set_nodelay(true).is_err() {
        return Ended::Abnormal;
    }
    let accept = |_: &_| Ok(Accept::new().header("Server", "rfc6455"));
    let mut ws = match WebSocketStream::accept_with_config(stream, settings.config, accept).await {
        Ok(ws) => ws,
        Err(Error::HandshakeTimeout) => return Ended::HandshakeTimeout,
        Err(_) => return Ended::Handshake,
    };
    // `next` runs the timers and writes what `feed` queued; `feed` waits
    // only while the queue is at the high-water mark, which a peer that
    // does not read keeps it at: that wait is bounded.
    let mut ended = None;
    while let Some(message) = ws.next().await {
        let message = match message {
            Ok(message) => message,
            // Reported once; the stream ends on the next poll, once its
            // close frame is out or the close timeout has passed.
            Err(error) => {
                ended = ended.or(Some(match error {
                    Error::Protocol(ProtocolError::IdleTimeout | ProtocolError::CloseTimeout) => {
                        Ended::Timeout
                    }
                    Error::Protocol(ProtocolError::AbnormalClosure) | Error::Io(_) => {
                        Ended::Abnormal
                    }
                    _ => Ended::Protocol,
                }));
                continue;
            }
        };
        let echo = ws.feed(message);
        let fed = match settings.send_timeout {
            Some(limit) => tokio::time::timeout(limit, echo).await,
            None => Ok(echo.await),
        };
        match fed {
            Ok(Ok(())) => {}
            // The connection is over (the error was reported by `next`).
            Ok(Err(_)) => return ended.unwrap_or(Ended::Abnormal),
            // Section 7.1.7: no close frame for a peer that cannot take it.
            Err(_) => return Ended::SendTimeout,
        }
    }
    // The close handshake is over, or the error above ended it; dropping
    // the stream closes TCP, the server first (section 7.1.1).
    ended.unwrap_or(Ended::Closed)
}

/// The address and the settings from the command line.
fn parse(mut args: impl Iterator<Item = String>) -> Result<(String, Settings), String> {
    let s = Duration::from_secs;
    let mut address = "127.0.0.1:9001".to_string();
    let mut settings = Settings {
        config: Config::default()
            .keepalive_interval(s(30))
            .idle_timeout(s(75))
            .close_timeout(s(5))
            .handshake_timeout(s(10))
            .max_message_size(1 << 20),
        send_timeout: Some(s(10)),
        stats: None,
    };
    let mut first = true;
    while let Some(arg) = args.next() {
        if first && !arg.starts_with("--") {
            address = arg;
            first = false;
            continue;
        }
        first = false;
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        let secs = || -> Result<Option<Duration>, String> {
            let duration = value
                .parse()
                .ok()
                .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                .ok_or(format!("{arg}: not a number of seconds: {value}"))?;
            Ok(Some(duration).filter(|d| !d.is_zero()))
        };
        let config = settings.config;
        match arg.as_str() {
            "--keepalive" => settings.config = config.keepalive_interval(secs()?),
            "--idle-timeout" => settings.config = config.idle_timeout(secs()?),
            "--handshake-timeout" => settings.config = config.handshake_timeout(secs()?),
            "--close-timeout" => settings.config = config.close_timeout(secs()?),
            "--send-timeout" => settings.send_timeout = secs()?,
            "--stats" => settings.stats = secs()?,
            "--max-message" => {
                let bytes = value
                    .parse()
                    .map_err(|_| format!("--max-message: not a number of bytes: {value}"))?;
                settings.config = config.max_message_size(bytes);
            }
            "--deflate" => {
                settings.config = config.deflate(match value.as_str() {
                    "shared" => Some(DeflateConfig::shared()),
                    "dedicated" => Some(DeflateConfig::default()),
                    "off" => None,
                    _ => return Err(format!("--deflate: not shared, dedicated or off: {value}")),
                });
            }
            _ => return Err(format!("unknown argument: {arg}")),
        }
    }
    Ok((address, settings))
}

fn seconds(duration: Option<Duration>) -> String {
    duration.map_or("off".into(), |d| format!("{} s", d.as_secs_f64()))
}
