//! A line-oriented WebSocket client on `std::net`.
//!
//! ```text
//! cargo run --release --example client -- ws://127.0.0.1:9001/
//! ```
//!
//! Sends each line of standard input as a text message and prints each text
//! message received on its own line. At the end of input it waits for as many
//! messages as it sent (the echo of each), closes with 1000 and exits 0.

use std::io::{self, BufRead};
use std::process::ExitCode;
use std::sync::mpsc::{self, TryRecvError};
use std::thread;
use std::time::Duration;

use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::ClientRequest;
use rfc6455::io::{Error, blocking::WebSocket};
use rfc6455::{CloseCode, Config, Message, State};

fn main() -> ExitCode {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001/".into());
    match run(&url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("client: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(url: &str) -> Result<(), Error> {
    // Offer permessage-deflate (the default offer); the server may decline.
    let config = Config::default().deflate(DeflateConfig::default());
    let mut ws = WebSocket::connect_with(ClientRequest::new(url)?, config)?;
    // Standard input is read on its own thread; the socket is read with a
    // short timeout so both make progress on this one. A timeout loses
    // nothing: the next read goes on where it stopped.
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_millis(20)))?;
    let (lines_tx, lines) = mpsc::channel::<String>();
    thread::spawn(move || {
        for line in io::stdin().lock().lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let (mut sent, mut received, mut input_done) = (0u64, 0u64, false);
    loop {
        loop {
            match lines.try_recv() {
                Ok(line) => {
                    ws.write(Message::text(line))?;
                    sent += 1;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    input_done = true;
                    break;
                }
            }
        }
        if input_done && received >= sent && ws.connection().state() == State::Open {
            ws.close(CloseCode::Normal, "")?;
        }
        match ws.flush() {
            Err(e) if !e.is_would_block() => return Err(e),
            _ => {}
        }
        match ws.read() {
            Ok(Some(message)) => {
                received += 1;
                if let Some(text) = message.as_text() {
                    println!("{text}");
                }
            }
            Ok(None) => break,
            Err(e) if e.is_would_block() => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(frame) = ws.peer_close() {
        eprintln!(
            "server closed: {} {}",
            u16::from(frame.code()),
            frame.reason()
        );
    }
    Ok(())
}
