//! Our tokio adapter against tokio-tungstenite, the Rust default, both ways
//! round, over TCP on 127.0.0.1: text, binary, 16 MiB, fragments, pings and
//! a close with a code and a reason, each checked on both sides.
#![cfg(feature = "tokio")]

use futures_util::{SinkExt, StreamExt};
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{CloseCode, Message};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as TtMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as TtClose;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode as TtCode, Data, OpCode};

/// 16 MiB that are not all the same byte.
fn big() -> Vec<u8> {
    (0..16usize << 20).map(|i| (i % 251) as u8).collect()
}

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

#[tokio::test]
async fn our_client_against_a_tokio_tungstenite_server() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let mut pings = Vec::new();
        while let Some(message) = ws.next().await {
            match message.unwrap() {
                m @ (TtMessage::Text(_) | TtMessage::Binary(_)) => ws.send(m).await.unwrap(),
                TtMessage::Ping(payload) => pings.push(payload.to_vec()),
                TtMessage::Close(frame) => {
                    // tungstenite queues the echo; flushing sends it.
                    ws.flush().await.unwrap();
                    return (
                        pings,
                        frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                    );
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        panic!("the stream ended before the close");
    });

    let mut ws = WebSocketStream::connect(&url).await.unwrap();
    // The 16 MiB message leaves as 256 fragments of 64 KiB
    // (Config::send_frame_size), which tungstenite reassembles.
    for message in [
        Message::text("hello, tungstenite"),
        Message::binary(vec![0, 1, 2, 255]),
        Message::binary(big()),
        Message::text(""),
    ] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), message);
    }
    ws.ping(b"ours").await.unwrap();
    ws.send(Message::text("after the ping")).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::text("after the ping")
    );
    ws.close(CloseCode::Private(4001), "client done")
        .await
        .unwrap();
    assert!(ws.recv().await.is_none(), "the stream ends after the close");
    let echo = ws.peer_close().expect("the server answered the close");
    assert_eq!(
        (echo.code(), echo.reason()),
        (CloseCode::Private(4001), "client done")
    );

    let (pings, close) = server.await.unwrap();
    assert_eq!(pings, [b"ours".to_vec()]);
    assert_eq!(close, Some((4001, "client done".to_owned())));
}

#[tokio::test]
async fn a_tokio_tungstenite_client_against_our_server() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = WebSocketStream::accept(stream).await.unwrap();
        let mut received = Vec::new();
        while let Some(message) = ws.recv().await {
            let message = message.unwrap();
            received.push(message.len());
            ws.send(message).await.unwrap();
        }
        (
            received,
            ws.peer_close().map(|f| (f.code(), f.reason().to_owned())),
        )
    });

    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    for message in [
        TtMessage::text("hello, rfc6455"),
        TtMessage::binary(vec![9u8; 1000]),
        TtMessage::binary(big()),
    ] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), message);
    }
    // A text message in three fragments, a ping between two of them.
    ws.send(TtMessage::Frame(Frame::message(
        "frag",
        OpCode::Data(Data::Text),
        false,
    )))
    .await
    .unwrap();
    ws.send(TtMessage::Ping("between".into())).await.unwrap();
    ws.send(TtMessage::Frame(Frame::message(
        "men",
        OpCode::Data(Data::Continue),
        false,
    )))
    .await
    .unwrap();
    ws.send(TtMessage::Frame(Frame::message(
        "ts",
        OpCode::Data(Data::Continue),
        true,
    )))
    .await
    .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        TtMessage::Pong("between".into())
    );
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        TtMessage::text("fragments")
    );

    ws.close(Some(TtClose {
        code: TtCode::from(4002),
        reason: "bye from tungstenite".into(),
    }))
    .await
    .unwrap();
    let mut echo = None;
    while let Some(message) = ws.next().await {
        if let TtMessage::Close(frame) = message.unwrap() {
            echo = frame;
        }
    }
    let echo = echo.expect("our server answered the close");
    assert_eq!(u16::from(echo.code), 4002);

    let (received, close) = server.await.unwrap();
    assert_eq!(received, [14, 1000, 16 << 20, 9]);
    assert_eq!(
        close,
        Some((CloseCode::Private(4002), "bye from tungstenite".to_owned()))
    );
}

#[tokio::test]
async fn our_server_closes_a_tokio_tungstenite_client_with_a_code_and_reason() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = WebSocketStream::accept(stream).await.unwrap();
        ws.send(Message::text("last words")).await.unwrap();
        ws.close(CloseCode::GoingAway, "server shutting down")
            .await
            .unwrap();
        assert!(ws.recv().await.is_none());
        ws.peer_close().map(|f| f.code())
    });
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        TtMessage::text("last words")
    );
    let Some(Ok(TtMessage::Close(Some(frame)))) = ws.next().await else {
        panic!("expected the server's close");
    };
    assert_eq!(frame.code, TtCode::Away);
    assert_eq!(frame.reason.as_str(), "server shutting down");
    // tungstenite echoes the close on its next write or flush.
    ws.flush().await.unwrap();
    assert_eq!(server.await.unwrap(), Some(CloseCode::GoingAway));
}
