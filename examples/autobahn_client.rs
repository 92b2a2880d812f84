//! Drives the Autobahn TestSuite's fuzzing server with this crate as the
//! client under test.
//!
//! ```text
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001 [JOBS]
//! ```
//!
//! Asks for the number of cases, runs each one echoing every message, JOBS
//! cases at a time (default 1), then asks the server to write its reports.
//! Exits 0 when the reports are updated.

use std::io::{self, Read};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::ClientRequest;
use rfc6455::io::{Error, blocking::WebSocket};
use rfc6455::{Config, Message};

const AGENT: &str = "rfc6455";

fn main() -> ExitCode {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let base = base.trim_end_matches('/');
    let jobs = std::env::args()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1u32)
        .max(1);
    match run(base, jobs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("autobahn client: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(base: &str, jobs: u32) -> Result<(), Error> {
    let count = get_case_count(base)?;
    eprintln!("{count} cases, {jobs} at a time");
    // Each worker takes the next case until none is left.
    let next = AtomicU32::new(1);
    thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let case = next.fetch_add(1, Ordering::Relaxed);
                    if case > count {
                        break;
                    }
                    let url = format!("{base}/runCase?case={case}&agent={AGENT}");
                    if let Err(error) = echo(&url) {
                        eprintln!("case {case}: {error}");
                    }
                }
            });
        }
    });
    let url = format!("{base}/updateReports?agent={AGENT}");
    echo(&url)?;
    eprintln!("reports updated");
    Ok(())
}

/// The fuzzing server answers `getCaseCount` with one text message.
fn get_case_count(base: &str) -> Result<u32, Error> {
    let mut count = None;
    run_connection(&format!("{base}/getCaseCount"), |message, _| {
        if let Some(text) = message.as_text() {
            count = text.trim().parse().ok();
        }
        Ok(())
    })?;
    count.ok_or_else(|| io::Error::other("no case count received").into())
}

/// Echoes every message until the connection closes.
fn echo(url: &str) -> Result<(), Error> {
    run_connection(url, |message, ws| ws.send(message))
}

fn run_connection(
    url: &str,
    mut on_message: impl FnMut(Message, &mut WebSocket<std::net::TcpStream>) -> Result<(), Error>,
) -> Result<(), Error> {
    // The offer of the Autobahn project's own client:
    // `permessage-deflate; client_no_context_takeover; client_max_window_bits`.
    // The fuzzing server accepts the offers of cases 13.2, 13.5 and 13.6
    // only from a client that offers client_no_context_takeover. Every
    // message is compressed, however short.
    let deflate = DeflateConfig::default()
        .client_no_context_takeover(true)
        .min_size(0);
    let config = Config::default().deflate(deflate);
    let mut ws = WebSocket::connect_with(ClientRequest::new(url)?, config)?;
    loop {
        match ws.read() {
            Ok(Some(message)) => on_message(message, &mut ws)?,
            Ok(None) => break,
            // The close frame with its code is queued; the next read sends it.
            Err(Error::Protocol(_)) => {}
            Err(Error::Io(error)) if error.kind() == io::ErrorKind::ConnectionReset => break,
            Err(error) => return Err(error),
        }
    }
    // RFC 6455 section 7.1.1: the client waits for the server to close TCP.
    let (mut stream, _) = ws.into_parts();
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}
