//! The simplest loop the docs show (read, `receive`, `poll_event`, `send`,
//! write the slices of `transmit`, `advance_transmit` by what was written,
//! until it is empty), at both ends of a real TCP connection, echoes every
//! message from 16 B to 16 MiB, whole and fragmented, byte for byte, and
//! never hangs: a read or write that waits 30 s fails the test.
#![cfg(feature = "std")]

use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use rfc6455::message::DataKind;
use rfc6455::{CloseCode, Config, Connection, Event, Message, Role};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const SIZES: &[usize] = &[
    16,
    125,
    126,
    65_535,
    65_536,
    65_537,
    100_000,
    1 << 20,
    (4 << 20) + 3,
    16 << 20,
];

/// Writes every queued byte, as the docs show.
fn write_queued(connection: &mut Connection, stream: &mut TcpStream) -> io::Result<()> {
    while !connection.transmit().is_empty() {
        let mut slices = [IoSlice::new(&[]); 16];
        let n = stream.write_vectored(connection.transmit().io_slices(&mut slices))?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        connection.advance_transmit(n);
    }
    Ok(())
}

/// Reads once into the connection.
fn read_once(
    connection: &mut Connection,
    stream: &mut TcpStream,
    buf: &mut [u8],
) -> io::Result<()> {
    match stream.read(buf)? {
        0 => connection.receive_eof(),
        n => connection.receive(&buf[..n]),
    }
    Ok(())
}

fn bounded(stream: &TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))
}

/// The echo server of the README, driven by hand.
fn serve(mut stream: TcpStream) -> Result<usize> {
    bounded(&stream)?;
    let mut connection = Connection::new(Role::Server, Config::default());
    let mut buf = vec![0; 64 << 10];
    let mut echoed = 0;
    loop {
        while let Some(event) = connection.poll_event()? {
            if let Event::Message(message) = event {
                echoed += 1;
                connection.send(message)?;
            }
        }
        write_queued(&mut connection, &mut stream)?;
        if connection.is_done() {
            return Ok(echoed);
        }
        read_once(&mut connection, &mut stream, &mut buf)?;
    }
}

/// A payload that differs at every offset and between sizes; ASCII, so that
/// it is valid text too.
fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'!' + ((i * 7 + i / 251 + len) % 90) as u8)
        .collect()
}

/// Sends `data` whole or as fragments of `fragment` bytes, with a ping
/// between fragments, and waits for its echo.
fn round_trip(
    connection: &mut Connection,
    stream: &mut TcpStream,
    buf: &mut [u8],
    kind: DataKind,
    data: &[u8],
    fragment: Option<usize>,
) -> Result<Message> {
    match fragment {
        None if kind == DataKind::Text => {
            connection.send(Message::text(String::from_utf8(data.to_vec())?))?
        }
        None => connection.send(Message::binary(data.to_vec()))?,
        Some(size) => {
            let mut chunks = data.chunks(size).peekable();
            while let Some(chunk) = chunks.next() {
                connection.send_fragment(kind, chunk, chunks.peek().is_none())?;
                connection.ping(b"between")?;
            }
        }
    }
    loop {
        write_queued(connection, stream)?;
        read_once(connection, stream, buf)?;
        while let Some(event) = connection.poll_event()? {
            if let Event::Message(message) = event {
                return Ok(message);
            }
        }
    }
}

#[test]
fn every_size_is_echoed_byte_for_byte_whole_and_fragmented() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let server = thread::spawn(move || -> Result<usize> { serve(listener.accept()?.0) });

    let mut stream = TcpStream::connect(address)?;
    bounded(&stream)?;
    let mut client = Connection::new(Role::Client, Config::default());
    let mut buf = vec![0; 64 << 10];
    let mut sent = 0;
    for (i, &size) in SIZES.iter().enumerate() {
        let data = payload(size);
        let kind = if i % 2 == 0 {
            DataKind::Binary
        } else {
            DataKind::Text
        };
        for fragment in [None, Some(1000), Some(64 << 10), Some(size / 3 + 1)] {
            let echo = round_trip(&mut client, &mut stream, &mut buf, kind, &data, fragment)?;
            sent += 1;
            assert_eq!(echo.kind(), kind, "{size} bytes, fragments {fragment:?}");
            assert!(
                echo.as_bytes() == data,
                "{size} bytes, fragments {fragment:?}: the echo differs"
            );
        }
    }
    client.close(CloseCode::Normal, "")?;
    while !client.is_done() {
        write_queued(&mut client, &mut stream)?;
        read_once(&mut client, &mut stream, &mut buf)?;
        while client.poll_event()?.is_some() {}
    }
    let echoed = server.join().expect("the server panicked")?;
    assert_eq!(echoed, sent);
    Ok(())
}
