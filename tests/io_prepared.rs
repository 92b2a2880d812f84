//! The adapters send prepared messages (`send_prepared`, `feed_prepared`,
//! `write_prepared`), on the whole tokio stream, its write half and the
//! blocking socket, and their non-waiting offer refuses a message over the
//! high-water mark without queueing it, leaving it to the caller.
#![cfg(feature = "tokio")]

use std::time::Duration;

use rfc6455::io::TryFeedError;
use rfc6455::io::blocking::WebSocket;
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{CloseCode, Config, Connection, Message, PreparedMessage, Role, SendError};
use tokio::io::DuplexStream;

/// A guard against a hang, not a timing assumption.
const GUARD: Duration = Duration::from_secs(30);

fn big(len: usize) -> Message {
    Message::binary((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

/// A server and a client stream over an in-memory pipe of `capacity` bytes.
fn pair(
    capacity: usize,
    server: Connection,
    client: Connection,
) -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
    let (a, b) = tokio::io::duplex(capacity);
    (
        WebSocketStream::from_connection(a, server),
        WebSocketStream::from_connection(b, client),
    )
}

fn plain_pair(capacity: usize) -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
    let config = Config::default();
    pair(
        capacity,
        Connection::new(Role::Server, config),
        Connection::new(Role::Client, config),
    )
}

#[tokio::test]
async fn send_prepared_and_feed_prepared_deliver_in_order() {
    let (mut server, mut client) = plain_pair(64 << 10);
    let config = Config::default();
    let large = PreparedMessage::for_config(big(200 << 10), &config);
    let small = PreparedMessage::for_config(Message::text("tick"), &config);
    let receiver = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(client.recv().await.unwrap().unwrap());
        }
        got
    });
    server.send_prepared(&large).await.unwrap();
    server.feed_prepared(&small).await.unwrap();
    server.feed(Message::text("ordinary")).await.unwrap();
    server.feed_prepared(&large).await.unwrap();
    server.flush().await.unwrap();
    let got = tokio::time::timeout(GUARD, receiver)
        .await
        .unwrap()
        .unwrap();
    assert!(got[0] == big(200 << 10), "first");
    assert_eq!(
        got[1..3],
        [Message::text("tick"), Message::text("ordinary")]
    );
    assert!(got[3] == big(200 << 10), "last");
}

#[cfg(feature = "deflate")]
#[tokio::test]
async fn a_compressed_prepared_message_reaches_a_tokio_client() {
    use rfc6455::deflate::{DeflateConfig, DeflateParams};
    let params = Some(DeflateParams::new(true, false, 12, 15));
    let config = Config::default().deflate(DeflateConfig::default());
    let (mut server, mut client) = pair(
        1 << 20,
        Connection::with_deflate(Role::Server, config, params),
        Connection::with_deflate(Role::Client, config, params),
    );
    let text = "the same news for everyone ".repeat(2000);
    let prepared = PreparedMessage::for_config(Message::text(text.clone()), &config);
    server.send_prepared(&prepared).await.unwrap();
    // Compressed: far fewer bytes went through the pipe than the text.
    let got = client.recv().await.unwrap().unwrap();
    assert_eq!(got, Message::text(text.clone()));
    let compressed = prepared.compressed(12).unwrap().unwrap();
    assert!(compressed.len() < text.len() / 10);
}

#[tokio::test]
async fn the_write_half_sends_prepared_messages() {
    let (server, mut client) = plain_pair(64 << 10);
    let (_read, mut write) = server.into_split();
    let config = Config::default();
    let large = PreparedMessage::for_config(big(100_000), &config);
    let small = PreparedMessage::for_config(Message::text("half"), &config);
    let receiver = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(client.recv().await.unwrap().unwrap());
        }
        got
    });
    write.send_prepared(&large).await.unwrap();
    write.feed_prepared(&small).await.unwrap();
    write.try_feed_prepared(&small).unwrap();
    write.flush().await.unwrap();
    let got = tokio::time::timeout(GUARD, receiver)
        .await
        .unwrap()
        .unwrap();
    assert!(got[0] == big(100_000));
    assert_eq!(got[1..], [Message::text("half"), Message::text("half")]);
}

#[tokio::test]
async fn the_offer_refuses_over_the_high_water_mark_and_hands_the_message_back() {
    // The client does not read until the end.
    let (mut server, mut client) = plain_pair(1 << 20);
    assert_eq!(server.high_water_mark(), rfc6455::io::DEFAULT_HIGH_WATER);
    server.set_high_water_mark(100_000);
    let update = PreparedMessage::for_config(big(30_000), &Config::default());
    let mut accepted = 0;
    let refused = loop {
        match server.try_feed_prepared(&update) {
            Ok(()) => accepted += 1,
            Err(refused) => break refused,
        }
    };
    // 30,004 bytes a message: offers are taken while under the mark, so
    // the fourth takes the queue over it and the fifth is refused.
    assert_eq!(accepted, 4);
    let TryFeedError::Backpressure {
        buffered,
        high_water,
    } = refused
    else {
        panic!("{refused:?}");
    };
    assert_eq!((buffered, high_water), (4 * 30_004, 100_000));
    // Nothing was queued by the refusal, and the message is still ours:
    // another subscriber with room takes it.
    assert_eq!(server.buffered_amount(), 4 * 30_004);
    let (mut other, mut other_client) = plain_pair(1 << 20);
    other.try_feed_prepared(&update).unwrap();
    other.flush().await.unwrap();
    assert!(other_client.recv().await.unwrap().unwrap() == big(30_000));

    // Once written, the queue has room again.
    server.flush().await.unwrap();
    server.try_feed_prepared(&update).unwrap();
    // The other choice: close with 1008 instead of dropping.
    server.set_high_water_mark(0);
    assert!(matches!(
        server.try_feed_prepared(&update),
        Err(TryFeedError::Backpressure { .. })
    ));
    server
        .close(CloseCode::PolicyViolation, "too slow")
        .await
        .unwrap();
    assert!(matches!(
        server.try_feed_prepared(&update),
        Err(TryFeedError::Backpressure { .. })
    ));
    server.set_high_water_mark(1 << 30);
    assert!(matches!(
        server.try_feed_prepared(&update),
        Err(TryFeedError::Send(SendError::Closed))
    ));
    for _ in 0..5 {
        assert!(client.recv().await.unwrap().unwrap() == big(30_000));
    }
    assert!(client.recv().await.is_none());
    assert_eq!(
        client.peer_close().map(|close| close.code()),
        Some(CloseCode::PolicyViolation)
    );
}

#[tokio::test]
async fn the_write_halfs_offer_refuses_over_its_mark() {
    let (server, _client) = plain_pair(1 << 20);
    let (_read, mut write) = server.into_split();
    write.set_high_water_mark(50_000);
    let update = PreparedMessage::for_config(big(40_000), &Config::default());
    write.try_feed_prepared(&update).unwrap();
    write.try_feed_prepared(&update).unwrap();
    assert!(matches!(
        write.try_feed_prepared(&update),
        Err(TryFeedError::Backpressure {
            buffered: 80_008,
            high_water: 50_000
        })
    ));
    assert_eq!(write.buffered_amount(), 80_008);
}

#[test]
fn the_blocking_socket_writes_and_offers_prepared_messages() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let config = Config::default();
    let large = PreparedMessage::for_config(big(150_000), &config);
    let small = PreparedMessage::for_config(Message::text("blocking"), &config);
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = WebSocket::from_raw(stream, Role::Server, &[], config);
        ws.send_prepared(&large).unwrap();
        ws.write_prepared(&small).unwrap();
        ws.set_high_water_mark(1);
        assert!(matches!(
            ws.try_write_prepared(&small),
            Err(TryFeedError::Backpressure {
                buffered: 10,
                high_water: 1
            })
        ));
        ws.flush().unwrap();
        ws.try_write_prepared(&small).unwrap();
        ws.close(CloseCode::Normal, "").unwrap();
        while ws.read().unwrap().is_some() {}
    });
    let stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    let mut ws = WebSocket::from_raw(stream, Role::Client, &[], config);
    assert!(ws.read().unwrap() == Some(big(150_000)));
    assert_eq!(ws.read().unwrap(), Some(Message::text("blocking")));
    assert_eq!(ws.read().unwrap(), Some(Message::text("blocking")));
    assert_eq!(ws.read().unwrap(), None);
    server.join().unwrap();
}
