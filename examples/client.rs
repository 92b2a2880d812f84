//! A line-oriented WebSocket client on `std::net`.
//!
//! ```text
//! cargo run --release --example client -- ws://127.0.0.1:9001/
//! ```
//!
//! Sends each line of standard input as a text message and prints each text
//! message received on its own line. At the end of input it waits for as many
//! messages as it sent (the echo of each), closes with 1000 and exits 0.

mod support;

use std::io::{self, BufRead};
use std::process::ExitCode;
use std::sync::mpsc::{self, TryRecvError};
use std::thread;
use std::time::Duration;

use rfc6455::deflate::DeflateConfig;
use rfc6455::{CloseCode, Config, Event, Role, State};

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

fn run(url: &str) -> io::Result<()> {
    // Offers `permessage-deflate; client_max_window_bits`; long lines go
    // out compressed if the server agrees.
    let config = Config::default().deflate(DeflateConfig::default());
    let (mut stream, mut connection) = support::connect(url, config)?;
    // Standard input is read on its own thread; the socket is polled with a
    // short timeout so both make progress on this one.
    stream.set_read_timeout(Some(Duration::from_millis(20)))?;
    let (lines_tx, lines) = mpsc::channel::<String>();
    thread::spawn(move || {
        for line in io::stdin().lock().lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let (mut sent, mut received, mut input_done) = (0u64, 0u64, false);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        loop {
            match lines.try_recv() {
                Ok(line) => {
                    connection.send_text(&line).map_err(io::Error::other)?;
                    sent += 1;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    input_done = true;
                    break;
                }
            }
        }
        loop {
            match connection.poll_event() {
                Ok(Some(Event::Message(message))) => {
                    received += 1;
                    if let Some(text) = message.as_text() {
                        println!("{text}");
                    }
                }
                Ok(Some(Event::Close(frame))) => {
                    if let Some(frame) = frame {
                        eprintln!(
                            "server closed: {} {}",
                            u16::from(frame.code()),
                            frame.reason()
                        );
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(error) => return Err(io::Error::other(error)),
            }
        }
        if input_done && received >= sent && connection.state() == State::Open {
            connection
                .close(CloseCode::Normal, "")
                .map_err(io::Error::other)?;
        }
        support::flush(&mut stream, &mut connection)?;
        if connection.is_done() {
            break;
        }
        match support::read_into(&mut stream, &mut connection, &mut buf) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    support::finish(stream, Role::Client);
    Ok(())
}
