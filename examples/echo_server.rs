//! A WebSocket echo server on `std::net`, one thread per connection.
//!
//! ```text
//! cargo run --release --example echo_server [ADDRESS] [--keepalive SECS] [--idle-timeout SECS] [--handshake-timeout SECS] [--deflate MODE]
//! ```
//!
//! The address defaults to 127.0.0.1:9001. Every text and binary message
//! comes back unchanged. A plain HTTP request on the same port gets a short
//! page saying what this is.
//!
//! The server pings, as one facing browsers should (they never ping): a
//! keepalive ping after 30 s of silence, a connection dropped after 75 s with
//! no byte from the peer, a handshake given 10 s, and 5 s for the peer's
//! close. The flags change the first three; 0 turns one off.
//!
//! permessage-deflate is accepted when offered. `--deflate` picks how:
//! `dedicated` (the default here) keeps a compressor and an inflater per
//! connection with context takeover, the best ratio (`dedicated:9` to
//! `dedicated:15` pick the windows the server answers, 15 by default); `shared` answers
//! `server_no_context_takeover; client_no_context_takeover` to every offer
//! and borrows compression state from a bounded pool for one message at a
//! time, so an idle connection holds none (what a server for many browsers
//! wants, see `rfc6455::deflate`, and what the `hyper_server`,
//! `axum_server` and `chat` examples use); `off` declines every offer.
//!
//! Why `dedicated` is the default here, unlike the examples meant for
//! browsers: this server is the target of the Autobahn test suite and of the
//! benchmarks, where context takeover is the harder case to get right
//! (`scripts/autobahn.sh` runs it as is, and again with `--deflate
//! shared`). A server for many browsers built from it should pass
//! `--deflate shared`.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::{Accept, Incoming, Limits, ServerHandshake, Status, plain_response};
use rfc6455::io::{Error, blocking::WebSocket};
use rfc6455::{Config, Connection, Role};

const PAGE: &[u8] = b"<!doctype html><title>rfc6455 echo</title>\
<p>This is a WebSocket echo server built on the <code>rfc6455</code> crate. \
Connect a WebSocket client to this address and every message comes back.</p>\n";

const USAGE: &str = "usage: echo_server [ADDRESS] [--keepalive SECS] [--idle-timeout SECS] [--handshake-timeout SECS] [--deflate shared|dedicated[:BITS]|off]";

fn main() -> io::Result<()> {
    let (address, config) = match parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&address)?;
    let deflate = match config.deflate {
        None => "off",
        Some(d) if d.server_no_context_takeover && d.client_no_context_takeover => "shared",
        Some(_) => "dedicated",
    };
    eprintln!(
        "echo server on ws://{address}/ (keepalive {}, idle timeout {}, handshake timeout {}, \
         deflate {deflate})",
        seconds(config.keepalive_interval),
        seconds(config.idle_timeout),
        seconds(config.handshake_timeout),
    );
    for stream in listener.incoming() {
        let stream = stream?;
        thread::spawn(move || {
            if let Err(error) = serve(stream, config) {
                eprintln!("connection ended: {error}");
            }
        });
    }
    Ok(())
}

/// The address, the timers and the compression mode from the command line.
fn parse(mut args: impl Iterator<Item = String>) -> Result<(String, Config), String> {
    let s = Duration::from_secs;
    let mut address = "127.0.0.1:9001".to_string();
    let mut config = Config::default()
        .keepalive_interval(s(30))
        .idle_timeout(s(75))
        .close_timeout(s(5))
        .handshake_timeout(s(10))
        .deflate(DeflateConfig::default().min_size(0));
    let mut first = true;
    while let Some(arg) = args.next() {
        if first && !arg.starts_with("--") {
            address = arg;
            first = false;
            continue;
        }
        first = false;
        if arg == "--deflate" {
            // Every message is compressed, however short, so that the
            // Autobahn TestSuite's short messages exercise the compressor.
            let mode = args
                .next()
                .ok_or("--deflate needs shared, dedicated or off")?;
            let bits = match mode.strip_prefix("dedicated:") {
                None if mode == "dedicated" => Some(15),
                None => None,
                Some(b) => b.parse::<u8>().ok().filter(|b| (8..=15).contains(b)),
            };
            config = config.deflate(match (mode.as_str(), bits) {
                ("shared", _) => Some(DeflateConfig::shared().min_size(0)),
                (_, Some(bits)) => Some(DeflateConfig::dedicated(bits).min_size(0)),
                ("off", _) => None,
                _ => {
                    return Err(format!(
                        "--deflate: not shared, dedicated[:8-15] or off: {mode}"
                    ));
                }
            });
            continue;
        }
        let mut value = || -> Result<Option<Duration>, String> {
            let value = args
                .next()
                .ok_or(format!("{arg} needs a number of seconds"))?;
            let duration = value
                .parse()
                .ok()
                .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                .ok_or(format!("{arg}: not a number of seconds: {value}"))?;
            Ok(Some(duration).filter(|d| !d.is_zero()))
        };
        config = match arg.as_str() {
            "--keepalive" => config.keepalive_interval(value()?),
            "--idle-timeout" => config.idle_timeout(value()?),
            "--handshake-timeout" => config.handshake_timeout(value()?),
            _ => return Err(format!("unknown argument: {arg}")),
        };
    }
    Ok((address, config))
}

fn seconds(duration: Option<Duration>) -> String {
    duration.map_or("off".into(), |d| format!("{} s", d.as_secs_f64()))
}

fn serve(mut stream: TcpStream, config: Config) -> Result<(), Error> {
    stream.set_nodelay(true)?;

    // The opening handshake by hand, because a plain request gets a page:
    // `WebSocket::accept` would answer it with 426. A peer that sends its
    // request too slowly is dropped at the deadline.
    let deadline = config
        .handshake_timeout
        .and_then(|t| Instant::now().checked_add(t));
    let mut handshake = ServerHandshake::new(Limits::default());
    let mut buf = [0u8; 4096];
    let request = loop {
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::HandshakeTimeout);
            }
            stream.set_read_timeout(Some(left))?;
        }
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Ok(());
        }
        match handshake.receive(&buf[..n]) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(Incoming::Upgrade(request))) => break request,
            Ok(Status::Complete(Incoming::Plain(_))) => {
                let page = plain_response(200, "text/html; charset=utf-8", PAGE)?;
                return Ok(stream.write_all(&page)?);
            }
            Err(error) => return Ok(stream.write_all(&error.response())?),
        }
    };
    stream.set_read_timeout(None)?;
    // permessage-deflate when the client offers it and `--deflate` is not
    // `off`.
    let deflate = config
        .deflate
        .and_then(|wanted| request.negotiate_deflate(&wanted));
    let accept = Accept::new().header("Server", "rfc6455").deflate(deflate);
    stream.write_all(&request.accept(accept)?)?;

    // The connection: every message comes back. `write` only queues the
    // echo; `read` writes what is queued once the bytes it read are used
    // up, so the echoes of one read leave in one write. Pings and the close
    // are answered by the adapter, which also sends the keepalive pings and
    // ends the connection when the peer goes silent.
    let mut connection = Connection::with_deflate(Role::Server, config, deflate);
    connection.receive(handshake.leftover());
    let mut ws = WebSocket::from_connection(stream, connection);
    loop {
        match ws.read() {
            Ok(Some(message)) => ws.write(message)?,
            // The stream is dropped here: the server closes TCP first.
            Ok(None) => return Ok(()),
            // Its close frame is queued; the next read sends it and ends.
            Err(Error::Protocol(error)) => {
                eprintln!("peer error: {error} (close code {})", error.close_code());
            }
            Err(error) => return Err(error),
        }
    }
}
