//! The hyper and axum examples, served in process on 127.0.0.1: our client
//! over HTTP/1.1, the h2 crate's client over HTTP/2 extended CONNECT
//! (RFC 8441), and refusals with the right status on both. Each path agrees
//! permessage-deflate when the client offers it.
#![cfg(all(feature = "axum", feature = "deflate"))]

#[path = "../examples/hyper_server.rs"]
#[allow(dead_code)]
mod hyper_server;

#[path = "../examples/axum_server.rs"]
#[allow(dead_code)]
mod axum_server;

mod h2_client;

use std::net::SocketAddr;

use bytes::Bytes;
use h2_client::H2Stream;
use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::{ClientHandshake, ClientRequest};
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{CloseCode, Config, Connection, Message, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start_hyper() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(hyper_server::serve(listener));
    address
}

async fn start_axum() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum_server::app()).await });
    address
}

/// Sends text, binary and a large message, checks each comes back, then
/// closes and checks the server answered the close with 1000.
async fn echo_round_trip<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>) {
    let large = Message::binary(vec![7u8; 200_000]);
    for message in [
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 255]),
        large,
    ] {
        ws.send(message.clone()).await.unwrap();
        let echoed = ws.recv().await.expect("an echo").unwrap();
        assert_eq!(echoed, message);
    }
    ws.close(CloseCode::Normal, "bye").await.unwrap();
    assert!(
        ws.recv().await.is_none(),
        "the close handshake ends the stream"
    );
    assert_eq!(ws.peer_close().map(|c| c.code()), Some(CloseCode::Normal));
}

/// Writes a raw HTTP/1.1 request and reads the whole answer (the server
/// closes or the answer has a length).
async fn raw_http1(address: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer);
        if n == 0 || (text.contains("\r\n\r\n") && text.ends_with('\n')) {
            return text.into_owned();
        }
    }
}

async fn http1_paths(address: SocketAddr) {
    let ws = WebSocketStream::connect(&format!("ws://{address}/ws"))
        .await
        .unwrap();
    assert!(ws.connection().deflate().is_none(), "not offered");
    echo_round_trip(ws).await;
    let request = ClientRequest::new(&format!("ws://{address}/ws")).unwrap();
    let config = Config::default().deflate(DeflateConfig::default());
    let ws = WebSocketStream::connect_with(request, config)
        .await
        .unwrap();
    assert!(ws.connection().deflate().is_some(), "offered and agreed");
    echo_round_trip(ws).await;

    let page = raw_http1(
        address,
        "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("/ws"));

    // A plain GET on /ws: 426 naming the protocol and the version.
    let plain = raw_http1(
        address,
        "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    )
    .await;
    let lower = plain.to_ascii_lowercase();
    assert!(plain.starts_with("HTTP/1.1 426 "), "{plain}");
    assert!(
        lower.contains("\r\nsec-websocket-version: 13\r\n"),
        "{plain}"
    );
    assert!(lower.contains("\r\nupgrade: websocket\r\n"), "{plain}");

    // Version 8: 426 too; a POST upgrade: 405 with Allow: GET.
    let old = raw_http1(
        address,
        "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    )
    .await;
    assert!(old.starts_with("HTTP/1.1 426 "), "{old}");
    assert!(
        old.to_ascii_lowercase()
            .contains("sec-websocket-version: 13")
    );
    let post = raw_http1(
        address,
        "POST /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Content-Length: 0\r\n\r\n",
    )
    .await;
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    assert!(
        post.to_ascii_lowercase().contains("\r\nallow: get\r\n"),
        "{post}"
    );
}

/// Opens `/ws` over HTTP/2 with our client's request and checks; returns the
/// checked WebSocket or the status of a refusal.
async fn h2_websocket(
    address: SocketAddr,
    request: ClientRequest,
) -> Result<WebSocketStream<H2Stream>, u16> {
    h2_client::websocket(address, request, Config::default())
        .await
        .map(|(ws, _)| ws)
}

async fn http2_paths(address: SocketAddr) {
    let url = format!("ws://{address}/ws");
    let request = ClientRequest::new(&url)
        .unwrap()
        .deflate(DeflateConfig::default());
    let ws = h2_websocket(address, request)
        .await
        .expect("200 to the extended CONNECT");
    assert!(ws.connection().deflate().is_some(), "offered and agreed");
    echo_round_trip(ws).await;

    // A subprotocol the server does not pick: still accepted, none agreed;
    // no deflate offered, none used.
    let ws = h2_websocket(address, ClientRequest::new(&url).unwrap().protocol("chat"))
        .await
        .unwrap();
    assert!(ws.connection().deflate().is_none());
    echo_round_trip(ws).await;

    // A wrong version over HTTP/2: 426, sent without Upgrade or Connection.
    let response = h2_client::connect_with_version(address, "/ws", "8").await;
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    assert!(response.headers().get("upgrade").is_none());
}

#[tokio::test]
async fn hyper_over_http1() {
    http1_paths(start_hyper().await).await;
}

#[tokio::test]
async fn hyper_over_http2_with_the_h2_client() {
    http2_paths(start_hyper().await).await;
}

#[tokio::test]
async fn axum_over_http1() {
    http1_paths(start_axum().await).await;
}

#[tokio::test]
async fn axum_over_http2_with_the_h2_client() {
    http2_paths(start_axum().await).await;
}

#[tokio::test]
async fn a_protocol_error_over_http2_gets_its_close_code() {
    let address = start_hyper().await;
    let url = format!("ws://{address}/ws");
    let mut ws = h2_websocket(address, ClientRequest::new(&url).unwrap())
        .await
        .unwrap();
    // An unmasked frame from a client breaks RFC 6455 section 5.1: the
    // server closes with 1002 and ends the stream without waiting for our
    // answer (hyper then resets the HTTP/2 stream, so answering may fail).
    ws.get_mut().write_all(b"\x81\x02hi").await.unwrap();
    match ws.recv().await {
        None | Some(Err(rfc6455::io::Error::Io(_))) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        ws.peer_close().map(|c| c.code()),
        Some(CloseCode::ProtocolError)
    );
}

/// hyper's own HTTP/1.1 client, with the request and checks of our
/// `ClientHandshake`, against the axum example: the client half of the
/// `http` conversions over a real HTTP library.
#[tokio::test]
async fn hyper_client_over_http1_with_our_request_and_checks() {
    let address = start_axum().await;
    let tcp = TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection.with_upgrades());

    let request = ClientRequest::new(&format!("ws://{address}/ws"))
        .unwrap()
        .deflate(DeflateConfig::default());
    let mut client = ClientHandshake::new(request).unwrap();
    let request = client
        .http_request()
        .unwrap()
        .map(|()| http_body_util::Empty::<Bytes>::new());
    let mut response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 101);
    let checked = client.check_http_response(&response).unwrap();
    assert_eq!(checked.protocol(), None);
    assert!(checked.deflate().is_some(), "deflate offered and agreed");
    let upgraded = hyper::upgrade::on(&mut response).await.unwrap();
    let io = hyper_util::rt::TokioIo::new(upgraded);
    let connection = Connection::with_deflate(Role::Client, Config::default(), checked.deflate());
    echo_round_trip(WebSocketStream::from_connection(io, connection)).await;
}
