//! A receiver that comes back late (its task was busy, or blocked on a
//! full send queue, for longer than the idle timeout) while the peer kept
//! sending: the bytes waiting in the stream count before the deadline
//! does, so the message is received and the connection is not failed as
//! idle.
#![cfg(all(feature = "std", feature = "tokio"))]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use futures_util::StreamExt;
use rfc6455::io::blocking::WebSocket;
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{Config, Message, Role};
use tokio::io::AsyncWriteExt;

const IDLE: Duration = Duration::from_millis(200);

/// A masked text frame "late" (key 0: the payload as is).
const LATE: [u8; 10] = [0x81, 0x84, 0, 0, 0, 0, b'l', b'a', b't', b'e'];

#[tokio::test]
async fn bytes_that_waited_in_the_stream_beat_the_idle_deadline() {
    let (ours, mut peer) = tokio::io::duplex(1024);
    let config = Config::default().idle_timeout(IDLE);
    let mut ws = WebSocketStream::from_raw(ours, Role::Server, &[], config);
    tokio::time::sleep(IDLE / 2).await;
    peer.write_all(&LATE).await.unwrap();
    // Away for longer than the idle timeout.
    tokio::time::sleep(IDLE * 2).await;
    let got = ws.next().await;
    assert!(
        matches!(&got, Some(Ok(m)) if *m == Message::text("late")),
        "{got:?}"
    );
}

#[tokio::test]
async fn the_same_on_a_read_half() {
    let (ours, mut peer) = tokio::io::duplex(1024);
    let config = Config::default().idle_timeout(IDLE);
    let (mut read, _write) =
        WebSocketStream::from_raw(ours, Role::Server, &[], config).into_split();
    tokio::time::sleep(IDLE / 2).await;
    peer.write_all(&LATE).await.unwrap();
    tokio::time::sleep(IDLE * 2).await;
    let got = read.recv().await;
    assert!(
        matches!(&got, Some(Ok(m)) if *m == Message::text("late")),
        "{got:?}"
    );
}

#[test]
fn the_same_on_the_blocking_adapter() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (ours, _) = listener.accept().unwrap();
    let config = Config::default().idle_timeout(IDLE);
    let mut ws = WebSocket::from_raw(ours, Role::Server, &[], config);
    std::thread::sleep(IDLE / 2);
    peer.write_all(&LATE).unwrap();
    // Away for longer than the idle timeout.
    std::thread::sleep(IDLE * 2);
    let got = ws.read();
    assert!(
        matches!(&got, Ok(Some(m)) if *m == Message::text("late")),
        "{got:?}"
    );
}
