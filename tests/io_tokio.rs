//! The whole tokio `WebSocketStream` over TCP on 127.0.0.1: `recv` is
//! cancel-safe in `select!`, `start_send` only queues, `poll_ready` holds the
//! queue near its high-water mark, and a reader alone answers pings.
#![cfg(feature = "tokio")]

use std::pin::Pin;
use std::time::Duration;

use futures_util::{FutureExt, Sink, SinkExt, StreamExt};
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{CloseCode, Config, Connection, Message, Role};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as TtMessage;

const GUARD: Duration = Duration::from_secs(30);

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

fn messages() -> Vec<Message> {
    (0..60usize)
        .map(|i| match i % 3 {
            0 => Message::text(format!("text {i} ").repeat(i)),
            1 => Message::binary(vec![i as u8; i * 997]),
            _ => Message::text("é".repeat(i * 50)),
        })
        .collect()
}

#[tokio::test]
async fn recv_loses_nothing_when_select_drops_it_mid_message() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = WebSocketStream::accept(stream).await.unwrap();
        let (mut got, mut cancelled) = (Vec::new(), 0u32);
        loop {
            // The second branch wins every other poll: `recv` is dropped
            // while frames are half read, again and again.
            tokio::select! {
                biased;
                message = ws.recv() => match message {
                    Some(message) => got.push(message.unwrap()),
                    None => break,
                },
                _ = tokio::task::yield_now() => cancelled += 1,
            }
        }
        (got, cancelled)
    });

    // A client that writes each message's frames in 7-byte pieces, so that
    // every frame arrives in parts.
    let client = async {
        let request = rfc6455::handshake::ClientRequest::new(&url).unwrap();
        let mut stream = tokio::net::TcpStream::connect((request.host(), request.port()))
            .await
            .unwrap();
        stream.set_nodelay(true).unwrap();
        let mut handshake = rfc6455::handshake::ClientHandshake::new(request).unwrap();
        stream.write_all(handshake.request_bytes()).await.unwrap();
        let mut buf = [0u8; 1024];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut stream, &mut buf)
                .await
                .unwrap();
            if handshake.receive(&buf[..n]).unwrap().is_complete() {
                break;
            }
        }
        let mut conn = Connection::new(Role::Client, Config::default());
        for message in messages() {
            conn.send(message).unwrap();
            let wire = conn.take_transmit();
            for piece in wire.chunks(7) {
                stream.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
        }
        conn.close(CloseCode::Normal, "").unwrap();
        stream.write_all(&conn.take_transmit()).await.unwrap();
        stream
    }
    .await;
    let (got, cancelled) = tokio::time::timeout(GUARD, server).await.unwrap().unwrap();
    assert_eq!(got, messages());
    assert!(cancelled > 100, "recv was dropped only {cancelled} times");
    drop(client);
}

#[tokio::test]
async fn start_send_only_queues_and_poll_ready_holds_the_queue_at_the_mark() {
    let (listener, url) = listen().await;
    // The peer reads nothing until told, so the socket fills.
    let (read_tx, read_rx) = tokio::sync::oneshot::channel::<()>();
    let peer = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        read_rx.await.unwrap();
        let mut count = 0;
        while let Some(Ok(message)) = ws.next().await {
            match message {
                TtMessage::Binary(data) => {
                    assert_eq!(data.len(), 16 << 10);
                    count += 1;
                }
                TtMessage::Close(_) => break,
                other => panic!("{other:?}"),
            }
        }
        count
    });

    let mut ws = WebSocketStream::connect(&url).await.unwrap();
    ws.set_high_water_mark(64 << 10);
    let message = Message::binary(vec![5u8; 16 << 10]);

    // start_send writes nothing.
    Pin::new(&mut ws).start_send(message.clone()).unwrap();
    assert_eq!(ws.buffered_amount(), 8 + (16 << 10)); // masked header

    // Feed until poll_ready says wait: the queue never passes the mark by
    // more than one message.
    let mut sent = 1;
    loop {
        let ready =
            futures_util::future::poll_fn(|cx| Pin::new(&mut ws).poll_ready(cx)).now_or_never();
        let Some(ready) = ready else {
            break;
        };
        ready.unwrap();
        assert!(ws.buffered_amount() < (64 << 10) + (16 << 10) + 8);
        Pin::new(&mut ws).start_send(message.clone()).unwrap();
        sent += 1;
        assert!(sent < 100_000, "poll_ready never waited");
    }
    // Waiting means the stream took what it could and bytes are still queued.
    assert!(ws.buffered_amount() > 0);

    // Once the peer reads, flush drains everything.
    read_tx.send(()).unwrap();
    tokio::time::timeout(GUARD, ws.flush())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ws.buffered_amount(), 0);
    ws.close(CloseCode::Normal, "").await.unwrap();
    assert_eq!(
        tokio::time::timeout(GUARD, peer).await.unwrap().unwrap(),
        sent
    );
}

#[tokio::test]
async fn a_stream_that_only_receives_answers_pings() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = WebSocketStream::accept(stream).await.unwrap();
        let mut got = Vec::new();
        while let Some(message) = ws.next().await {
            got.push(message.unwrap());
        }
        got
    });
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(TtMessage::Ping("hello?".into())).await.unwrap();
    let pong = tokio::time::timeout(GUARD, ws.next()).await.unwrap();
    assert_eq!(pong.unwrap().unwrap(), TtMessage::Pong("hello?".into()));
    ws.send(TtMessage::text("done")).await.unwrap();
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    assert_eq!(server.await.unwrap(), [Message::text("done")]);
    // The server's stream ended after the close: nothing to poll forever.
    assert!(ws.next().now_or_never().flatten().is_none());
}

#[test]
fn an_idle_stream_is_small() {
    // The stream, the Connection (at most 504 bytes, no heap while idle),
    // the two pieces in flight (empty `Bytes` while idle: no heap), the peer's
    // close, the timer (a pointer to a `Sleep`, boxed only once a timer
    // runs, and the deadline it is armed for) and a few words. No read
    // buffer: reads go through the stack.
    let size = std::mem::size_of::<WebSocketStream<tokio::net::TcpStream>>();
    assert!(size <= 680, "WebSocketStream<TcpStream> is {size} bytes");
}

/// Reads from a script, fails every write: a peer that vanished.
struct BrokenWrites(std::io::Cursor<Vec<u8>>);

impl tokio::io::AsyncRead for BrokenWrites {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = std::io::Read::read(&mut self.0, buf.initialize_unfilled())?;
        buf.advance(n);
        std::task::Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for BrokenWrites {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()))
    }
    fn poll_flush(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

fn ping_then_text() -> Vec<u8> {
    let mut client = Connection::new(Role::Client, Config::default());
    client.ping(b"hello").unwrap();
    client.send(Message::text("then this")).unwrap();
    client.take_transmit().to_vec()
}

/// What a receiving loop sees, with the errors as text, up to the end.
async fn drain_all<S>(mut stream: S) -> Vec<Result<Message, String>>
where
    S: futures_util::Stream<Item = Result<Message, rfc6455::io::Error>> + Unpin,
{
    let mut seen = Vec::new();
    while let Some(item) = stream.next().await {
        seen.push(item.map_err(|e| e.to_string()));
        assert!(seen.len() < 10, "the stream never ends: {seen:?}");
    }
    seen
}

#[tokio::test]
async fn a_stream_that_cannot_be_written_ends_instead_of_failing_forever() {
    // The text arrived in the same read as the ping, so it comes before the
    // pong is tried; the pong cannot be written: the error comes once, then
    // the connection is over.
    let expected = vec![
        Ok(Message::text("then this")),
        Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).to_string()),
        Err(rfc6455::ProtocolError::AbnormalClosure.to_string()),
    ];
    let io = BrokenWrites(std::io::Cursor::new(ping_then_text()));
    let ws = WebSocketStream::from_raw(io, Role::Server, &[], Config::default());
    assert_eq!(drain_all(ws).await, expected);

    let io = BrokenWrites(std::io::Cursor::new(ping_then_text()));
    let (read, _write) =
        WebSocketStream::from_raw(io, Role::Server, &[], Config::default()).into_split();
    assert_eq!(drain_all(read).await, expected);
}

#[test]
fn the_handshake_futures_are_small() {
    // A task that awaits a handshake is as large as the handshake's future
    // for the rest of its life: an idle connection pays for it. The state,
    // the read buffer and the timeout are boxed while the handshake runs.
    let io = || tokio::io::duplex(64).0;
    let accept = WebSocketStream::accept(io());
    let client = WebSocketStream::client(
        io(),
        rfc6455::handshake::ClientRequest::new("ws://localhost/").unwrap(),
        Config::default(),
    );
    // One pointer each: the handshake, stream included, runs in a box. With
    // the handshake's state inline, accept's future was 9,104 bytes.
    let (accept, client) = (size_of_val(&accept), size_of_val(&client));
    assert_eq!(
        accept,
        size_of::<usize>(),
        "accept's future is {accept} bytes"
    );
    assert_eq!(
        client,
        size_of::<usize>(),
        "client's future is {client} bytes"
    );
}
