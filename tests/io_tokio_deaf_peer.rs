//! A peer that stops reading and goes silent, with a message of ours half
//! written into its full pipe: the idle timeout still ends the stream, and
//! the stream ends (`None`) right after the error instead of waiting
//! forever to write the rest to a peer that will never take it.
#![cfg(feature = "tokio")]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rfc6455::io::{Error, tokio::WebSocketStream};
use rfc6455::{Config, Message, ProtocolError, Role};

const IDLE: Duration = Duration::from_millis(300);

#[tokio::test]
async fn the_stream_ends_after_the_idle_timeout_with_bytes_left_unwritten() {
    // A pipe that holds 1 KiB: the peer's end is kept and never read.
    let (ours, _deaf_peer) = tokio::io::duplex(1024);
    let config = Config::default()
        .keepalive_interval(Duration::from_millis(100))
        .idle_timeout(IDLE);
    let mut ws = WebSocketStream::from_raw(ours, Role::Server, &[], config);
    // Under the high-water mark, so `feed` does not wait; `next` writes
    // the first KiB and waits for room that never comes.
    ws.feed(Message::binary(vec![7u8; 64 << 10])).await.unwrap();
    let start = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        let first = ws.next().await;
        let second = ws.next().await;
        (first, second)
    })
    .await;
    let (first, second) = ended.expect("the stream ends within the idle timeout, not never");
    assert!(
        matches!(
            first,
            Some(Err(Error::Protocol(ProtocolError::IdleTimeout)))
        ),
        "{first:?}"
    );
    assert!(second.is_none(), "{second:?}");
    assert!(start.elapsed() >= IDLE, "not before the idle timeout");
}

/// A peer that sent its close and stopped reading, with our message half
/// written: the close echo can never leave. The stream ends once the close
/// timeout has passed, not never.
#[tokio::test]
async fn the_stream_ends_at_the_close_timeout_when_the_peer_takes_nothing_more() {
    use tokio::io::AsyncWriteExt;
    let (ours, mut deaf_peer) = tokio::io::duplex(1024);
    let close_timeout = Duration::from_millis(300);
    let config = Config::default().close_timeout(close_timeout);
    let mut ws = WebSocketStream::from_raw(ours, Role::Server, &[], config);
    ws.feed(Message::binary(vec![7u8; 64 << 10])).await.unwrap();
    // A masked close with 1000 (key 0: the payload as is).
    deaf_peer
        .write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])
        .await
        .unwrap();
    let start = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("the stream ends at the close timeout, not never");
    assert!(end.is_none(), "{end:?}");
    assert!(
        start.elapsed() >= close_timeout,
        "not before the close timeout"
    );
}

/// The same two ends on split halves: the reader ends, and a writer that
/// waits for room is woken with an error instead of waiting forever.
#[tokio::test]
async fn split_halves_end_after_the_idle_timeout_with_bytes_left_unwritten() {
    let (ours, _deaf_peer) = tokio::io::duplex(1024);
    let config = Config::default().idle_timeout(IDLE);
    let ws = WebSocketStream::from_raw(ours, Role::Server, &[], config);
    let (mut read, mut write) = ws.into_split();
    let writer =
        tokio::spawn(async move { write.send(Message::binary(vec![7u8; 64 << 10])).await });
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        (read.recv().await, read.recv().await, writer.await.unwrap())
    })
    .await;
    let (first, second, written) = ended.expect("both halves end, not never");
    assert!(
        matches!(
            first,
            Some(Err(Error::Protocol(ProtocolError::IdleTimeout)))
        ),
        "{first:?}"
    );
    assert!(second.is_none(), "{second:?}");
    assert!(written.is_err(), "the message was never taken: {written:?}");
}

#[tokio::test]
async fn a_read_half_ends_at_the_close_timeout_when_the_peer_takes_nothing_more() {
    use tokio::io::AsyncWriteExt;
    let (ours, mut deaf_peer) = tokio::io::duplex(1024);
    let close_timeout = Duration::from_millis(300);
    let config = Config::default().close_timeout(close_timeout);
    let ws = WebSocketStream::from_raw(ours, Role::Server, &[], config);
    let (mut read, mut write) = ws.into_split();
    let writer =
        tokio::spawn(async move { write.send(Message::binary(vec![7u8; 64 << 10])).await });
    // The writer has filled the pipe and waits for room.
    tokio::time::sleep(Duration::from_millis(50)).await;
    deaf_peer
        .write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])
        .await
        .unwrap();
    let start = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        (read.recv().await, writer.await.unwrap())
    })
    .await;
    let (end, written) = ended.expect("both halves end at the close timeout, not never");
    assert!(end.is_none(), "{end:?}");
    assert!(written.is_err(), "the message was never taken: {written:?}");
    assert!(
        start.elapsed() >= close_timeout,
        "not before the close timeout"
    );
}
