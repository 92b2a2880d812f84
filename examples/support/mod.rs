//! The few lines that wire the sans-IO core to a blocking `std::net` socket,
//! shared by the examples. Every example is a plain loop around these.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use rfc6455::handshake::{ClientHandshake, ClientRequest, HandshakeError, Status};
use rfc6455::{Config, Connection, Role};

/// How long a closing end waits for its peer before dropping the socket.
pub const LINGER: Duration = Duration::from_secs(2);

/// Connects to a `ws://` URL and runs the client handshake, offering
/// permessage-deflate when `config.deflate` says so. The connection already
/// holds whatever the server sent right behind its answer.
pub fn connect(url: &str, config: Config) -> io::Result<(TcpStream, Connection)> {
    let mut request = ClientRequest::new(url).map_err(io::Error::other)?;
    if let Some(deflate) = config.deflate {
        request = request.deflate(deflate);
    }
    let mut stream = TcpStream::connect((request.host(), request.port()))?;
    stream.set_nodelay(true)?;
    let mut handshake = ClientHandshake::new(request).map_err(io::Error::other)?;
    stream.write_all(handshake.request_bytes())?;
    let mut buf = [0u8; 4096];
    let response = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match handshake.receive(&buf[..n]) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(response)) => break response,
            Err(error) => return Err(handshake_error(error)),
        }
    };
    let mut connection = Connection::with_deflate(Role::Client, config, response.deflate());
    connection.receive(handshake.leftover());
    Ok((stream, connection))
}

fn handshake_error(error: HandshakeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// Writes every queued byte.
pub fn flush(stream: &mut TcpStream, connection: &mut Connection) -> io::Result<()> {
    let bytes = connection.take_transmit();
    if !bytes.is_empty() {
        stream.write_all(&bytes)?;
    }
    Ok(())
}

/// Reads once from the socket into the connection. Returns `false` at end
/// of stream.
pub fn read_into(
    stream: &mut TcpStream,
    connection: &mut Connection,
    buf: &mut [u8],
) -> io::Result<bool> {
    let n = stream.read(buf)?;
    if n == 0 {
        connection.receive_eof();
        Ok(false)
    } else {
        connection.receive(&buf[..n]);
        Ok(true)
    }
}

/// Ends the TCP connection the polite way once the WebSocket is done.
///
/// A server closes first (RFC 6455 section 7.1.1): it half-closes, so the
/// close frame is not lost to a reset, then drains what the peer still
/// sends. A client waits for the server's end of stream. Both give up after
/// [`LINGER`].
pub fn finish(mut stream: TcpStream, role: Role) {
    if role == Role::Server {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let _ = stream.set_read_timeout(Some(LINGER));
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}
