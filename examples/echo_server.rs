//! A WebSocket echo server on `std::net`, one thread per connection.
//!
//! ```text
//! cargo run --release --example echo_server [ADDRESS]   # default 127.0.0.1:9001
//! ```
//!
//! Every text and binary message comes back unchanged. A plain HTTP request on
//! the same port gets a short page saying what this is.

mod support;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::{Accept, Incoming, Limits, ServerHandshake, Status, plain_response};
use rfc6455::{Config, Connection, Event, Role};

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

fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];

    // The opening handshake: an upgrade, a plain page, or an HTTP error.
    let mut handshake = ServerHandshake::new(Limits::default());
    let request = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        match handshake.receive(&buf[..n]) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(Incoming::Upgrade(request))) => break request,
            Ok(Status::Complete(Incoming::Plain(_))) => {
                let page = plain_response(200, "text/html; charset=utf-8", PAGE);
                return stream.write_all(&page.map_err(io::Error::other)?);
            }
            Err(error) => return stream.write_all(&error.response()),
        }
    };
    // permessage-deflate when the client offers it. Every message is
    // compressed, however short, so that the Autobahn TestSuite's short
    // messages exercise the compressor too.
    let config = Config::default().deflate(DeflateConfig::default().min_size(0));
    let deflate = config
        .deflate
        .and_then(|wanted| request.negotiate_deflate(&wanted));
    let response = request
        .accept(Accept::new().header("Server", "rfc6455").deflate(deflate))
        .map_err(io::Error::other)?;
    stream.write_all(&response)?;

    // The connection: events out, echo, bytes to send, repeat.
    let mut connection = Connection::with_deflate(Role::Server, config, deflate);
    connection.receive(handshake.leftover());
    loop {
        loop {
            match connection.poll_event() {
                Ok(Some(Event::Message(message))) => {
                    // Fails only once our close is out; then there is no one
                    // to echo to.
                    let _ = connection.send(message);
                }
                Ok(Some(_)) => {} // pings and closes are answered for us
                Ok(None) => break,
                Err(error) => {
                    eprintln!("peer error: {error} (close code {})", error.close_code());
                    break;
                }
            }
        }
        support::flush(&mut stream, &mut connection)?;
        if connection.is_done() {
            break;
        }
        support::read_into(&mut stream, &mut connection, &mut buf)?;
    }
    support::finish(stream, Role::Server);
    Ok(())
}
