//! A WebSocket echo server on `std::net`, one thread per connection.
//!
//! ```text
//! cargo run --release --example echo_server [ADDRESS]   # default 127.0.0.1:9001
//! ```
//!
//! Every text and binary message comes back unchanged. A plain HTTP request on
//! the same port gets a short page saying what this is.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::{Accept, Incoming, Limits, ServerHandshake, Status, plain_response};
use rfc6455::io::{Error, blocking::WebSocket};
use rfc6455::{Config, Connection, Role};

const PAGE: &[u8] = b"<!doctype html><title>rfc6455 echo</title>\
<p>This is a WebSocket echo server built on the <code>rfc6455</code> crate. \
Connect a WebSocket client to this address and every message comes back.</p>\n";

fn main() -> io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&address)?;
    eprintln!("echo server on ws://{address}/");
    for stream in listener.incoming() {
        let stream = stream?;
        thread::spawn(move || {
            if let Err(error) = serve(stream) {
                eprintln!("connection ended: {error}");
            }
        });
    }
    Ok(())
}

fn serve(mut stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;

    // The opening handshake by hand, because a plain request gets a page:
    // `WebSocket::accept` would answer it with 426.
    let mut handshake = ServerHandshake::new(Limits::default());
    let mut buf = [0u8; 4096];
    let request = loop {
        let n = stream.read(&mut buf)?;
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
    // permessage-deflate when the client offers it. Every message is
    // compressed, however short, so that the Autobahn TestSuite's short
    // messages exercise the compressor too.
    let config = Config::default().deflate(DeflateConfig::default().min_size(0));
    let deflate = config
        .deflate
        .and_then(|wanted| request.negotiate_deflate(&wanted));
    let accept = Accept::new().header("Server", "rfc6455").deflate(deflate);
    stream.write_all(&request.accept(accept)?)?;

    // The connection: every message comes back. Pings and the close are
    // answered by the adapter.
    let mut connection = Connection::with_deflate(Role::Server, config, deflate);
    connection.receive(handshake.leftover());
    let mut ws = WebSocket::from_connection(stream, connection);
    loop {
        match ws.read() {
            Ok(Some(message)) => ws.send(message)?,
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
