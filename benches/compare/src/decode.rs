//! Decoding a stream of masked client frames into messages, server side,
//! with each implementation over the same in-memory bytes.
//!
//! - ours: [`rfc6455::Connection`], fed 16 KiB at a time as a read loop
//!   would, `poll_event` until it needs more ([`ours_in_reads`] takes
//!   another read size);
//! - tungstenite: `WebSocket::read` over an in-memory `Read + Write`;
//! - fastwebsockets: `WebSocket::read_frame` over an in-memory
//!   `AsyncRead + AsyncWrite`, polled to completion without a runtime (the
//!   stream is always ready).
//!
//! Every decoder returns the payloads it produced so that the bench can
//! check them against the messages sent before it times anything.

use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use rfc6455::{Config, Connection, Event, Message, Role};

/// What a client sends: `count` messages of `payload`, masked, one frame
/// each.
pub fn client_frames(payload: &[u8], text: bool, count: usize) -> Vec<u8> {
    client_fragments(payload, text, count, payload.len())
}

/// What a client sends: `count` messages of `payload`, masked, in frames
/// of at most `frame` bytes.
pub fn client_fragments(payload: &[u8], text: bool, count: usize, frame: usize) -> Vec<u8> {
    let config = Config::default().send_frame_size(frame.max(1));
    let mut client = Connection::new(Role::Client, config);
    for _ in 0..count {
        if text {
            client
                .send_text(std::str::from_utf8(payload).unwrap())
                .unwrap();
        } else {
            client.send_binary(payload).unwrap();
        }
    }
    client.take_transmit().to_vec()
}

/// Ours: calls `each` with every message's payload.
pub fn ours(bytes: &[u8], each: impl FnMut(&[u8])) {
    ours_in_reads(bytes, 16 * 1024, each)
}

/// Ours, fed `read` bytes at a time.
pub fn ours_in_reads(bytes: &[u8], read: usize, mut each: impl FnMut(&[u8])) {
    let mut server = Connection::new(Role::Server, Config::default());
    for chunk in bytes.chunks(read) {
        server.receive(chunk);
        while let Some(event) = server.poll_event().unwrap() {
            if let Event::Message(message) = event {
                match &message {
                    Message::Text(text) => each(text.as_bytes()),
                    Message::Binary(data) => each(data),
                }
            }
        }
    }
}

/// The limit for one large frame: the same bytes copied (`copy_from_slice`)
/// `read` bytes at a time into `into`, which is cleared first. A fresh,
/// empty `Vec` of enough capacity each call is what a decoder that
/// allocates each message gets: with glibc, once the first 16 MiB is freed
/// (its mmap threshold then rises past that size), the same heap memory
/// again, not pages new to the process: no page fault per call (AMD EPYC
/// Zen 5, 2026-12-05). The same `Vec` each call keeps one buffer.
pub fn memcpy_in_reads(bytes: &[u8], read: usize, into: &mut Vec<u8>) {
    into.clear();
    for chunk in bytes.chunks(read) {
        into.extend_from_slice(chunk);
    }
}

/// An in-memory transport: reads come from `input`, writes vanish.
pub struct MemoryStream<'a> {
    input: &'a [u8],
}

impl<'a> MemoryStream<'a> {
    /// A stream that yields `input`, then end of stream.
    pub fn new(input: &'a [u8]) -> Self {
        MemoryStream { input }
    }
}

impl Read for MemoryStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for MemoryStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for MemoryStream<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = buf.remaining().min(self.input.len());
        buf.put_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for MemoryStream<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// tungstenite: reads `count` messages.
pub fn tungstenite(bytes: &[u8], count: usize, mut each: impl FnMut(&[u8])) {
    use tungstenite::protocol::{Role, WebSocket};
    let mut ws = WebSocket::from_raw_socket(MemoryStream::new(bytes), Role::Server, None);
    for _ in 0..count {
        match ws.read().unwrap() {
            tungstenite::Message::Text(text) => each(text.as_bytes()),
            tungstenite::Message::Binary(data) => each(&data),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// fastwebsockets: reads `count` frames.
pub fn fastwebsockets(bytes: &[u8], count: usize, mut each: impl FnMut(&[u8])) {
    use fastwebsockets::{Role, WebSocket};
    let mut ws = WebSocket::after_handshake(MemoryStream::new(bytes), Role::Server);
    for _ in 0..count {
        let frame = ready(ws.read_frame()).unwrap();
        each(&frame.payload);
    }
}

/// Polls a future that never waits (the stream is in memory) once.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an in-memory stream never waits"),
    }
}
