//! The guarantees of `into_split` over TCP on 127.0.0.1: a reader alone
//! answers pings, the writer never waits for the reader, a blocked writer
//! does not stop the reader, control frames overtake a long message, no
//! waker is lost, and a writer-only application drains with one line.
#![cfg(feature = "tokio")]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rfc6455::handshake::{ClientHandshake, ClientRequest, Status};
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{CloseCode, Config, Connection, Event, Message, ProtocolError, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message as TtMessage;

/// Far more than the socket buffers of a loopback connection hold, so that
/// a writer blocks until the peer reads.
const HUGE: usize = 48 << 20;

/// A guard against a hang: every wait in these tests has a deterministic
/// signal, this only turns a bug into a failure instead of a stuck run.
const GUARD: Duration = Duration::from_secs(30);

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

async fn accept_split(
    listener: TcpListener,
) -> (
    rfc6455::io::tokio::ReadHalf<TcpStream>,
    rfc6455::io::tokio::WriteHalf<TcpStream>,
) {
    let (stream, _) = listener.accept().await.unwrap();
    WebSocketStream::accept(stream).await.unwrap().into_split()
}

fn huge_message() -> Message {
    Message::binary((0..HUGE).map(|i| (i % 249) as u8).collect::<Vec<u8>>())
}

/// A client driven by hand, which decides when it reads and sees every
/// event, pongs included.
struct RawPeer {
    stream: TcpStream,
    conn: Connection,
}

impl RawPeer {
    async fn connect(url: &str) -> Self {
        let request = ClientRequest::new(url).unwrap();
        let mut stream = TcpStream::connect((request.host(), request.port()))
            .await
            .unwrap();
        let mut handshake = ClientHandshake::new(request).unwrap();
        stream.write_all(handshake.request_bytes()).await.unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the server hung up during the handshake");
            if let Status::Complete(_) = handshake.receive(&buf[..n]).unwrap() {
                break;
            }
        }
        let config = Config::default().max_message_size(64 << 20);
        let mut conn = Connection::new(Role::Client, config);
        conn.receive(handshake.leftover());
        RawPeer { stream, conn }
    }

    async fn flush(&mut self) {
        let bytes = self.conn.take_transmit();
        self.stream.write_all(&bytes).await.unwrap();
    }

    async fn event(&mut self) -> Option<Result<Event, ProtocolError>> {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match self.conn.poll_event() {
                Ok(Some(event)) => return Some(Ok(event)),
                Err(error) => return Some(Err(error)),
                Ok(None) => {}
            }
            let n = self.stream.read(&mut buf).await.ok()?;
            if n == 0 {
                self.conn.receive_eof();
            } else {
                self.conn.receive(&buf[..n]);
            }
        }
    }
}

#[tokio::test]
async fn a_reader_that_never_writes_answers_pings() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (mut read, _write) = accept_split(listener).await;
        let mut count = 0;
        while let Some(message) = read.recv().await {
            message.unwrap();
            count += 1;
        }
        count
    });
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    for payload in ["first", "second"] {
        ws.send(TtMessage::Ping(payload.into())).await.unwrap();
        let answer = tokio::time::timeout(GUARD, ws.next()).await.unwrap();
        assert_eq!(answer.unwrap().unwrap(), TtMessage::Pong(payload.into()));
    }
    ws.send(TtMessage::text("one message")).await.unwrap();
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    assert_eq!(server.await.unwrap(), 1);
}

#[tokio::test]
async fn the_writer_does_not_wait_for_a_reader_parked_in_recv() {
    let (listener, url) = listen().await;
    let (parked_tx, parked_rx) = oneshot::channel();
    let server = tokio::spawn(async move {
        let (mut read, mut write) = accept_split(listener).await;
        let reader = tokio::spawn(async move {
            parked_tx.send(()).unwrap();
            // Parked here: the client sends nothing until it got every message.
            let first = read.recv().await;
            (first.map(|m| m.unwrap()), read)
        });
        parked_rx.await.unwrap();
        for i in 0..100u32 {
            write
                .send(Message::text(format!("message {i}")))
                .await
                .unwrap();
        }
        let (first, _read) = reader.await.unwrap();
        first
    });
    let mut client = WebSocketStream::connect(&url).await.unwrap();
    for i in 0..100u32 {
        let message = tokio::time::timeout(GUARD, client.recv()).await.unwrap();
        assert_eq!(
            message.unwrap().unwrap(),
            Message::text(format!("message {i}"))
        );
    }
    client
        .send(Message::text("now you may read"))
        .await
        .unwrap();
    let first = tokio::time::timeout(GUARD, server).await.unwrap().unwrap();
    assert_eq!(first, Some(Message::text("now you may read")));
}

#[tokio::test]
async fn a_blocked_writer_does_not_stop_the_reader_and_the_pong_overtakes_its_message() {
    let (listener, url) = listen().await;
    let (got_text_tx, got_text_rx) = oneshot::channel();
    let server = tokio::spawn(async move {
        let (mut read, mut write) = accept_split(listener).await;
        let writer = tokio::spawn(async move { write.send(huge_message()).await });
        let text = read.recv().await.unwrap().unwrap();
        got_text_tx.send((text, writer.is_finished())).unwrap();
        while let Some(message) = read.recv().await {
            message.unwrap();
        }
        let close = read.peer_close().map(|f| f.code());
        (writer.await.unwrap().map_err(|e| e.to_string()), close)
    });

    let mut peer = RawPeer::connect(&url).await;
    // Nothing is read yet: the server's writer is stuck on a full socket.
    peer.conn.send(Message::text("while you write")).unwrap();
    peer.conn.ping(b"are you there").unwrap();
    peer.flush().await;
    let (text, writer_done) = tokio::time::timeout(GUARD, got_text_rx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text, Message::text("while you write"));
    assert!(
        !writer_done,
        "48 MiB cannot have been written to a peer that reads nothing"
    );

    // Now read: the pong comes at the next frame boundary, before the end
    // of the 48 MiB message, which arrives whole.
    let first = tokio::time::timeout(GUARD, peer.event()).await.unwrap();
    assert_eq!(first, Some(Ok(Event::Pong("are you there".into()))));
    let second = tokio::time::timeout(GUARD, peer.event()).await.unwrap();
    assert_eq!(second, Some(Ok(Event::Message(huge_message()))));

    peer.conn.close(CloseCode::Normal, "").unwrap();
    peer.flush().await;
    assert!(matches!(peer.event().await, Some(Ok(Event::Close(_)))));
    let (written, close) = tokio::time::timeout(GUARD, server).await.unwrap().unwrap();
    assert_eq!(written, Ok(()));
    assert_eq!(close, Some(CloseCode::Normal));
}

#[tokio::test]
async fn the_peers_close_reaches_the_reader_and_overtakes_a_blocked_writer() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (mut read, mut write) = accept_split(listener).await;
        let writer = tokio::spawn(async move { write.send(huge_message()).await });
        let end = read.recv().await;
        assert!(end.is_none(), "{end:?}");
        let close = read.peer_close().map(|f| (f.code(), f.reason().to_owned()));
        let written = tokio::time::timeout(GUARD, writer).await.unwrap().unwrap();
        (close, written.is_ok())
    });
    let mut peer = RawPeer::connect(&url).await;
    peer.conn.close(CloseCode::GoingAway, "leaving").unwrap();
    peer.flush().await;
    // The answer comes after at most one frame of the message, which is
    // dropped: no data may follow a close.
    let event = tokio::time::timeout(GUARD, peer.event()).await.unwrap();
    assert!(
        matches!(&event, Some(Ok(Event::Close(Some(f)))) if f.code() == CloseCode::GoingAway),
        "{event:?}"
    );
    let (close, _) = tokio::time::timeout(GUARD, server).await.unwrap().unwrap();
    assert_eq!(close, Some((CloseCode::GoingAway, "leaving".to_owned())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_waker_is_lost_when_both_halves_write_to_a_full_stream() {
    for round in 0..4 {
        let (listener, url) = listen().await;
        let (blocked_tx, blocked_rx) = oneshot::channel();
        let server = tokio::spawn(async move {
            let (mut read, mut write) = accept_split(listener).await;
            let writer = tokio::spawn(async move {
                for _ in 0..2 {
                    write
                        .send(Message::binary(vec![round as u8; 8 << 20]))
                        .await?;
                }
                Ok::<_, rfc6455::io::Error>(())
            });
            // Each ping makes the reader write a pong to the stream the
            // writer is blocked on.
            let mut blocked_tx = Some(blocked_tx);
            while let Some(message) = read.recv().await {
                message.unwrap();
                if let Some(tx) = blocked_tx.take() {
                    tx.send(writer.is_finished()).unwrap();
                }
            }
            writer.await.unwrap().map_err(|e| e.to_string())
        });
        let mut peer = RawPeer::connect(&url).await;
        for i in 0..20u8 {
            peer.conn.ping(&[i]).unwrap();
        }
        peer.conn.send(Message::text("pings sent")).unwrap();
        peer.flush().await;
        let writer_done = tokio::time::timeout(GUARD, blocked_rx)
            .await
            .unwrap()
            .unwrap();
        assert!(!writer_done);
        // Read it all: the writer must be woken and finish.
        let (mut pongs, mut messages) = (0, 0);
        while messages < 2 {
            match tokio::time::timeout(GUARD, peer.event()).await.unwrap() {
                Some(Ok(Event::Pong(_))) => pongs += 1,
                Some(Ok(Event::Message(m))) => {
                    assert_eq!(m.len(), 8 << 20);
                    messages += 1;
                }
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert!(pongs >= 1, "round {round}: no pong");
        peer.conn.close(CloseCode::Normal, "").unwrap();
        peer.flush().await;
        let written = tokio::time::timeout(GUARD, server).await.unwrap().unwrap();
        assert_eq!(written, Ok(()), "round {round}");
    }
}

#[tokio::test]
async fn a_writer_only_application_drains_the_reader_in_one_line() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (read, mut write) = accept_split(listener).await;
        let drained = tokio::spawn(read.drain());
        for i in 0..10u8 {
            write.send(Message::binary(vec![i; 100])).await.unwrap();
        }
        drained.await.unwrap().unwrap().map(|f| f.code())
    });
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(TtMessage::Ping("keepalive".into())).await.unwrap();
    let (mut messages, mut pong) = (0, false);
    while messages < 10 || !pong {
        match tokio::time::timeout(GUARD, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            TtMessage::Binary(data) => {
                assert_eq!(data.as_ref(), vec![messages; 100].as_slice());
                messages += 1;
            }
            TtMessage::Pong(payload) => {
                assert_eq!(payload.as_ref(), b"keepalive");
                pong = true;
            }
            other => panic!("{other:?}"),
        }
    }
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    assert_eq!(server.await.unwrap(), None);
}
