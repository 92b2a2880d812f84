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

mod support;

use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;

use rfc6455::deflate::DeflateConfig;
use rfc6455::{Config, Event, Message, Role};

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

fn run(base: &str, jobs: u32) -> io::Result<()> {
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
fn get_case_count(base: &str) -> io::Result<u32> {
    let mut count = None;
    run_connection(&format!("{base}/getCaseCount"), |message, _| {
        if let Some(text) = message.as_text() {
            count = text.trim().parse().ok();
        }
    })?;
    count.ok_or_else(|| io::Error::other("no case count received"))
}

/// Echoes every message until the connection closes.
fn echo(url: &str) -> io::Result<()> {
    run_connection(url, |message, connection| {
        // Fails only when our close is already out.
        let _ = connection.send(message);
    })
}

fn run_connection(
    url: &str,
    mut on_message: impl FnMut(Message, &mut rfc6455::Connection),
) -> io::Result<()> {
    // The offer of the Autobahn project's own client:
    // `permessage-deflate; client_no_context_takeover; client_max_window_bits`.
    // The fuzzing server accepts the offers of cases 13.2, 13.5 and 13.6
    // only from a client that offers client_no_context_takeover. Every
    // message is compressed, however short.
    let deflate = DeflateConfig::default()
        .client_no_context_takeover(true)
        .min_size(0);
    let (mut stream, mut connection) = support::connect(url, Config::default().deflate(deflate))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        loop {
            match connection.poll_event() {
                Ok(Some(Event::Message(message))) => on_message(message, &mut connection),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => break, // the close frame with its code is queued
            }
        }
        support::flush(&mut stream, &mut connection)?;
        if connection.is_done() {
            break;
        }
        match support::read_into(&mut stream, &mut connection, &mut buf) {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::ConnectionReset => {
                connection.receive_eof();
            }
            Err(error) => return Err(error),
        }
    }
    support::finish(stream, Role::Client);
    Ok(())
}
