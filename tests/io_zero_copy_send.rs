//! A large message goes from the application's `Bytes` to the transport's
//! write without a copy: the slice the adapter hands to `write_vectored` is
//! the message's own buffer, behind its frame header in the same call
//! (a server's frames are not masked, RFC 6455 section 5.1).
#![cfg(feature = "tokio")]

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use rfc6455::io::blocking::{ReadTimeout, WebSocket};
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{Config, Message, Role};

/// One write call: the address and length of each slice it was given.
type Call = Vec<(usize, usize)>;

/// A transport that records the slices of every write and takes them all.
#[derive(Default)]
struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Recorder {
    fn record(&self, bufs: &[IoSlice<'_>]) -> usize {
        let call: Call = bufs
            .iter()
            .filter(|b| !b.is_empty())
            .map(|b| (b.as_ptr() as usize, b.len()))
            .collect();
        let n = call.iter().map(|&(_, len)| len).sum();
        self.calls.lock().unwrap().push(call);
        n
    }
}

impl io::Read for Recorder {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl io::Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.record(&[IoSlice::new(buf)]))
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Ok(self.record(bufs))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ReadTimeout for Recorder {
    fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Recorder {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

impl tokio::io::AsyncWrite for Recorder {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.record(&[IoSlice::new(buf)])))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.record(bufs)))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A 64 KiB binary payload in a buffer of its own.
fn payload() -> Bytes {
    Bytes::from((0..64 << 10).map(|i| (i * 7) as u8).collect::<Vec<u8>>())
}

/// The payload went out as one slice at its own address, in the same write
/// as its 10-byte header (65,536 is one past the 16-bit lengths, so 127 and
/// a 64-bit length, section 5.2), and nothing else was written.
fn assert_sent_in_place(calls: &[Call], payload: &Bytes) {
    let at = payload.as_ptr() as usize;
    assert_eq!(calls.len(), 1, "one write call: {calls:?}");
    let call = &calls[0];
    assert_eq!(call.len(), 2, "header and payload: {call:?}");
    assert_eq!(call[0].1, 10, "the frame header");
    assert_eq!(
        call[1],
        (at, payload.len()),
        "the payload, from its own buffer"
    );
}

#[test]
fn blocking_writes_a_large_payload_from_the_message_buffer() {
    let recorder = Recorder::default();
    let calls = recorder.calls.clone();
    let mut ws = WebSocket::from_raw(recorder, Role::Server, &[], Config::default());
    let payload = payload();
    ws.send(Message::binary(payload.clone())).unwrap();
    assert_sent_in_place(&calls.lock().unwrap(), &payload);
}

#[tokio::test]
async fn tokio_writes_a_large_payload_from_the_message_buffer() {
    let recorder = Recorder::default();
    let calls = recorder.calls.clone();
    let mut ws = WebSocketStream::from_raw(recorder, Role::Server, &[], Config::default());
    let payload = payload();
    ws.send(Message::binary(payload.clone())).await.unwrap();
    assert_sent_in_place(&calls.lock().unwrap(), &payload);
}

#[tokio::test]
async fn a_client_masks_a_shared_payload_into_a_copy() {
    // The application keeps a handle, so masking in place would change its
    // bytes: the client copies (section 5.3), and the payload's own buffer
    // is never handed to the write.
    let recorder = Recorder::default();
    let calls = recorder.calls.clone();
    let mut ws = WebSocketStream::from_raw(recorder, Role::Client, &[], Config::default());
    let payload = payload();
    ws.send(Message::binary(payload.clone())).await.unwrap();
    let calls = calls.lock().unwrap();
    let at = payload.as_ptr() as usize;
    let range = at..at + payload.len();
    let written: usize = calls.iter().flatten().map(|&(_, len)| len).sum();
    assert_eq!(
        written,
        14 + payload.len(),
        "header with key, then the payload"
    );
    assert!(calls.iter().flatten().all(|&(p, _)| !range.contains(&p)));
    assert_eq!(
        payload[..4],
        [0, 7, 14, 21],
        "the application's bytes unchanged"
    );
}
