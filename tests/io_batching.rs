//! An echo loop over either adapter writes every echo of one read in a
//! single write: receiving writes what is queued only once the bytes read
//! are used up.
#![cfg(feature = "tokio")]

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rfc6455::io::blocking::{ReadTimeout, WebSocket};
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{Config, Connection, Event, Message, Role};

/// Sixteen masked client messages, as one read brings them.
fn sixteen_messages() -> Vec<u8> {
    let mut client = Connection::new(Role::Client, Config::default());
    for i in 0..16u8 {
        client.send(Message::binary(vec![i; 100])).unwrap();
    }
    client.take_transmit().to_vec()
}

/// Gives `input` in one read, then nothing more (blocking: `WouldBlock`;
/// async: `Pending`); records every write.
struct Script {
    input: Option<Vec<u8>>,
    writes: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Script {
    fn new(writes: &Arc<Mutex<Vec<Vec<u8>>>>) -> Self {
        Script {
            input: Some(sixteen_messages()),
            writes: writes.clone(),
        }
    }

    fn write(&mut self, bufs: &[std::io::IoSlice<'_>]) -> usize {
        let bytes: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        let n = bytes.len();
        self.writes.lock().unwrap().push(bytes);
        n
    }
}

impl std::io::Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let input = self.input.take().ok_or(std::io::ErrorKind::WouldBlock)?;
        assert!(input.len() <= buf.len());
        buf[..input.len()].copy_from_slice(&input);
        Ok(input.len())
    }
}

impl std::io::Write for Script {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(Script::write(self, &[std::io::IoSlice::new(buf)]))
    }
    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        Ok(Script::write(self, bufs))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ReadTimeout for Script {
    fn set_read_timeout(&mut self, _: Option<Duration>) -> std::io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Script {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.input.take() {
            Some(input) => {
                buf.put_slice(&input);
                Poll::Ready(Ok(()))
            }
            None => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncWrite for Script {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(Script::write(&mut self, &[std::io::IoSlice::new(buf)])))
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(Script::write(&mut self, bufs)))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The sixteen echoes, whole and in order, in what was written.
fn assert_sixteen_echoes(written: &[u8]) {
    let mut client = Connection::new(Role::Client, Config::default());
    client.receive(written);
    for i in 0..16u8 {
        assert_eq!(
            client.poll_event().unwrap(),
            Some(Event::Message(Message::binary(vec![i; 100])))
        );
    }
    assert_eq!(client.poll_event().unwrap(), None);
}

#[test]
fn blocking_read_writes_the_echoes_of_one_read_at_once() {
    let writes = Arc::new(Mutex::new(Vec::new()));
    let mut ws = WebSocket::from_raw(Script::new(&writes), Role::Server, &[], Config::default());
    for _ in 0..16 {
        let message = ws.read().unwrap().unwrap();
        ws.write(message).unwrap();
        assert!(
            writes.lock().unwrap().is_empty(),
            "wrote before input ran out"
        );
    }
    // No more input: the read writes the queue, then would block.
    assert!(ws.read().unwrap_err().is_would_block());
    let writes = writes.lock().unwrap();
    assert_eq!(writes.len(), 1, "one write for the sixteen echoes");
    assert_sixteen_echoes(&writes[0]);
}

#[tokio::test]
async fn tokio_recv_writes_the_echoes_of_one_read_at_once() {
    let writes = Arc::new(Mutex::new(Vec::new()));
    let mut ws =
        WebSocketStream::from_raw(Script::new(&writes), Role::Server, &[], Config::default());
    for _ in 0..16 {
        let message = ws.recv().await.unwrap().unwrap();
        ws.feed(message).await.unwrap();
        assert!(
            writes.lock().unwrap().is_empty(),
            "wrote before input ran out"
        );
    }
    // No more input: receiving writes the queue, then waits for bytes.
    let waited = tokio::time::timeout(Duration::from_millis(50), ws.recv()).await;
    assert!(waited.is_err(), "no seventeenth message");
    let writes = writes.lock().unwrap();
    assert_eq!(writes.len(), 1, "one write for the sixteen echoes");
    assert_sixteen_echoes(&writes[0]);
}
