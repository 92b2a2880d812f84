//! Drives the Autobahn TestSuite's fuzzing server with this crate as the
//! client under test.
//!
//! ```text
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001
//! ```
//!
//! Asks for the number of cases, runs each one echoing every message, then
//! asks the server to write its reports. Exits 0 when the reports are updated.

use std::io::{self, Read};
use std::process::ExitCode;
use std::time::Duration;

use rfc6455::Message;
use rfc6455::io::{Error, blocking::WebSocket};

const AGENT: &str = "rfc6455";

fn main() -> ExitCode {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let base = base.trim_end_matches('/');
    match run(base) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("autobahn client: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(base: &str) -> Result<(), Error> {
    let count = get_case_count(base)?;
    eprintln!("{count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        if let Err(error) = echo(&url) {
            eprintln!("case {case}: {error}");
        }
    }
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
    let mut ws = WebSocket::connect(url)?;
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
