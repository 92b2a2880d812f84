//! The axum extractor `rfc6455::axum::WebSocketUpgrade` in a real axum
//! server on 127.0.0.1: echoes checked byte for byte with our client and
//! tokio-tungstenite, permessage-deflate agreed and compressing, HTTP/2
//! extended CONNECT (RFC 8441), every refusal status on raw HTTP,
//! subprotocol selection, the options reaching the connection, and
//! `on_failed_upgrade`.
#![cfg(all(feature = "axum", feature = "deflate"))]

mod h2_client;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures_util::{SinkExt, StreamExt};
use rfc6455::axum::{Message, WebSocket, WebSocketUpgrade};
use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::ClientRequest;
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{CloseCode, Config};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Echoes until the stream ends, going on after an error so that the close
/// it queued is sent.
async fn echo(mut ws: WebSocket) {
    while let Some(message) = ws.next().await {
        if let Ok(message) = message
            && ws.feed(message).await.is_err()
        {
            return;
        }
    }
}

/// The echo loop of the quick start, which stops at the first error and
/// drops the connection.
async fn short_loop_echo(mut ws: WebSocket) {
    while let Some(Ok(message)) = ws.next().await {
        let _ = ws.feed(message).await;
    }
}

/// The routes under test: `/echo` with the defaults, `/plain` with
/// deflate declined, `/chat` with subprotocols (its first message names
/// the chosen one), `/small` with a 1000-byte message limit.
fn app() -> Router {
    Router::new()
        .route(
            "/echo",
            any(|ws: WebSocketUpgrade| async { ws.on_upgrade(echo) }),
        )
        .route(
            "/plain",
            any(|ws: WebSocketUpgrade| async { ws.deflate(None).on_upgrade(echo) }),
        )
        .route(
            "/chat",
            any(|ws: WebSocketUpgrade| async {
                let ws = ws.protocols(["chat.v2", "chat.v1"]);
                let chosen = ws.selected_protocol().unwrap_or("none").to_owned();
                ws.on_upgrade(|mut ws| async move {
                    if ws.send(Message::text(chosen)).await.is_ok() {
                        echo(ws).await;
                    }
                })
            }),
        )
        .route(
            "/small",
            any(|ws: WebSocketUpgrade| async { ws.max_message_size(1000).on_upgrade(echo) }),
        )
        .route(
            "/short",
            any(|ws: WebSocketUpgrade| async {
                ws.max_message_size(1000).on_upgrade(short_loop_echo)
            }),
        )
}

async fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app()).await });
    address
}

/// Text, binary with every byte value, an empty message and 1 MiB of
/// pseudo-random bytes (no two runs of it alike, so no compression helps).
fn messages() -> Vec<(bool, Vec<u8>)> {
    let mut state = 0x2545_f491_u32;
    let noise = (0..1 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    vec![
        (true, "hello".into()),
        (true, "héllo wörld ✓ 😀".into()),
        (false, (0..=255).collect()),
        (false, Vec::new()),
        (false, noise),
    ]
}

async fn our_echo<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) {
    for (text, bytes) in messages() {
        let message = if text {
            Message::text(String::from_utf8(bytes.clone()).unwrap())
        } else {
            Message::binary(bytes.clone())
        };
        ws.send(message).await.unwrap();
        match ws.next().await.expect("an echo").unwrap() {
            Message::Text(echoed) => {
                assert!(text);
                assert_eq!(echoed.as_str().as_bytes(), &bytes[..]);
            }
            Message::Binary(echoed) => {
                assert!(!text);
                assert_eq!(&echoed[..], &bytes[..]);
            }
        }
    }
    ws.close(CloseCode::Normal, "bye").await.unwrap();
    assert!(ws.next().await.is_none(), "the server answered the close");
    assert_eq!(ws.peer_close().map(|c| c.code()), Some(CloseCode::Normal));
}

#[tokio::test]
async fn our_client_echoes_byte_for_byte() {
    let address = start().await;
    let mut ws = WebSocketStream::connect(&format!("ws://{address}/echo"))
        .await
        .unwrap();
    assert!(ws.connection().deflate().is_none(), "not offered");
    our_echo(&mut ws).await;
}

#[tokio::test]
async fn tungstenite_echoes_byte_for_byte() {
    use tokio_tungstenite::tungstenite::Message as T;
    let address = start().await;
    let (mut ws, response) = tokio_tungstenite::connect_async(format!("ws://{address}/echo"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    for (text, bytes) in messages() {
        let message = if text {
            T::text(String::from_utf8(bytes.clone()).unwrap())
        } else {
            T::binary(bytes.clone())
        };
        ws.send(message.clone()).await.unwrap();
        let echoed = ws.next().await.expect("an echo").unwrap();
        assert_eq!(echoed.is_text(), text);
        assert_eq!(echoed.into_data(), bytes);
    }
    ws.close(None).await.unwrap();
    while let Some(Ok(message)) = ws.next().await {
        assert!(message.is_close(), "{message:?}");
    }
}

/// A TCP stream that counts the bytes it reads.
struct Counting {
    tcp: TcpStream,
    read: Arc<AtomicUsize>,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.tcp).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.read.fetch_add(n, Ordering::Relaxed);
        result
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Offers permessage-deflate to `path`, echoes 256 KiB of repetitive text
/// and returns whether deflate was agreed and how many bytes the echo took.
async fn deflate_echo(address: SocketAddr, path: &str) -> (bool, usize) {
    let read = Arc::new(AtomicUsize::new(0));
    let tcp = TcpStream::connect(address).await.unwrap();
    let stream = Counting {
        tcp,
        read: read.clone(),
    };
    let request = ClientRequest::new(&format!("ws://{address}{path}")).unwrap();
    let config = Config::default().deflate(DeflateConfig::default());
    let mut ws = WebSocketStream::client(stream, request, config)
        .await
        .unwrap();
    let agreed = ws.connection().deflate().is_some();
    let text = "0123456789abcdef".repeat(16 << 10);
    let before = read.load(Ordering::Relaxed);
    ws.send(Message::text(text.clone())).await.unwrap();
    let echoed = ws.next().await.expect("an echo").unwrap();
    assert_eq!(echoed, Message::text(text));
    let bytes = read.load(Ordering::Relaxed) - before;
    our_echo(&mut ws).await;
    (agreed, bytes)
}

#[tokio::test]
async fn deflate_is_agreed_when_offered_and_compresses() {
    let address = start().await;
    let answer = raw(
        address,
        "GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    )
    .await;
    assert_eq!(answer.status, 101, "{}", answer.head);
    let extensions = answer.header("sec-websocket-extensions").expect("agreed");
    assert!(extensions.starts_with("permessage-deflate"), "{extensions}");
    // The default is shared mode, as the deflate module recommends for a
    // server facing browsers.
    assert!(
        extensions.contains("server_no_context_takeover")
            && extensions.contains("client_no_context_takeover"),
        "{extensions}"
    );

    let (agreed, bytes) = deflate_echo(address, "/echo").await;
    assert!(agreed);
    assert!(
        bytes < 16 << 10,
        "256 KiB of text came back in {bytes} bytes"
    );

    // Declined with `deflate(None)`: the same text comes back whole.
    let (agreed, bytes) = deflate_echo(address, "/plain").await;
    assert!(!agreed);
    assert!(bytes > 256 << 10, "{bytes}");
}

#[tokio::test]
async fn http2_extended_connect_echoes_with_deflate_and_protocols() {
    let address = start().await;
    let config = Config::default().deflate(DeflateConfig::default());
    let request = ClientRequest::new(&format!("ws://{address}/echo")).unwrap();
    let (mut ws, protocol) = h2_client::websocket(address, request, config)
        .await
        .expect("200 to the extended CONNECT");
    assert!(ws.connection().deflate().is_some(), "offered and agreed");
    assert_eq!(protocol, None);
    our_echo(&mut ws).await;

    let request = ClientRequest::new(&format!("ws://{address}/chat"))
        .unwrap()
        .protocol("chat.v1")
        .protocol("chat.v2");
    let (mut ws, protocol) = h2_client::websocket(address, request, Config::default())
        .await
        .unwrap();
    assert_eq!(protocol.as_deref(), Some("chat.v2"));
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("chat.v2"));

    // A wrong version over HTTP/2: 426 naming version 13.
    let response = h2_client::connect_with_version(address, "/echo", "8").await;
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
}

/// An HTTP/1.1 answer read off the wire.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    /// The value of header `name` (lowercase), if present.
    fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field.eq_ignore_ascii_case(name).then_some(value.trim())
        })
    }
}

/// Writes a raw request and reads the answer's head, and its body when it
/// has a `Content-Length`.
async fn raw(address: SocketAddr, request: &str) -> Answer {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the head ended");
        bytes.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(bytes[..head_end].to_vec()).unwrap();
    let status = head[9..12].parse().unwrap();
    let mut answer = Answer {
        status,
        head,
        body: String::new(),
    };
    let length: usize = answer
        .header("content-length")
        .map_or(0, |n| n.parse().unwrap());
    while bytes.len() < head_end + length {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the body ended");
        bytes.extend_from_slice(&buf[..n]);
    }
    answer.body = String::from_utf8_lossy(&bytes[head_end..head_end + length]).into_owned();
    answer
}

#[tokio::test]
async fn every_refusal_has_its_status_and_headers() {
    let address = start().await;
    let upgrade = "Host: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let cases = [
        // (request, status, a header that must be there)
        (
            format!("GET /echo HTTP/1.1\r\n{upgrade}Sec-WebSocket-Version: 13\r\n\r\n"),
            400,
            None,
        ),
        (
            format!(
                "GET /echo HTTP/1.1\r\n{upgrade}Sec-WebSocket-Key: c2hvcnQ=\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n"
            ),
            400,
            None,
        ),
        (
            format!(
                "GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\
                 {key}Sec-WebSocket-Version: 13\r\n\r\n"
            ),
            400,
            None,
        ),
        (
            format!(
                "POST /echo HTTP/1.1\r\n{upgrade}{key}Sec-WebSocket-Version: 13\r\n\
                 Content-Length: 0\r\n\r\n"
            ),
            405,
            Some(("allow", "GET")),
        ),
        (
            format!("GET /echo HTTP/1.1\r\n{upgrade}{key}Sec-WebSocket-Version: 8\r\n\r\n"),
            426,
            Some(("sec-websocket-version", "13")),
        ),
        (
            format!("GET /echo HTTP/1.1\r\n{upgrade}{key}\r\n"),
            426,
            Some(("sec-websocket-version", "13")),
        ),
        (
            "GET /echo HTTP/1.1\r\nHost: h\r\n\r\n".to_owned(),
            426,
            Some(("sec-websocket-version", "13")),
        ),
    ];
    for (request, status, header) in cases {
        let answer = raw(address, &request).await;
        assert_eq!(answer.status, status, "{request}\n{}", answer.head);
        if let Some((name, value)) = header {
            assert_eq!(answer.header(name), Some(value), "{}", answer.head);
        }
        assert!(answer.header("sec-websocket-accept").is_none());
        assert!(!answer.body.is_empty(), "the body says what was wrong");
    }
}

#[tokio::test]
async fn the_first_server_protocol_the_client_offered_is_chosen() {
    let address = start().await;
    let offer = |protocols: &'static str| {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                format!("ws://{address}/chat"),
            )
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocols.parse().unwrap());
        request
    };
    for (offered, chosen) in [
        ("chat.v1, chat.v2", "chat.v2"),
        ("chat.v1", "chat.v1"),
        ("other, chat.v1", "chat.v1"),
    ] {
        let (mut ws, response) = tokio_tungstenite::connect_async(offer(offered))
            .await
            .unwrap();
        let header = response.headers().get("sec-websocket-protocol");
        assert_eq!(header.map(|v| v.to_str().unwrap()), Some(chosen));
        let first = ws.next().await.unwrap().unwrap();
        assert_eq!(first.to_text().unwrap(), chosen);
    }

    // Nothing in common: accepted, and the answer names no subprotocol.
    let answer = raw(
        address,
        "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: other\r\n\r\n",
    )
    .await;
    assert_eq!(answer.status, 101, "{}", answer.head);
    assert_eq!(answer.header("sec-websocket-protocol"), None);

    // No offer at all: the handler saw none chosen.
    let mut ws = WebSocketStream::connect(&format!("ws://{address}/chat"))
        .await
        .unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("none"));
}

#[tokio::test]
async fn the_options_reach_the_connection() {
    let address = start().await;
    let mut ws = WebSocketStream::connect(&format!("ws://{address}/small"))
        .await
        .unwrap();
    ws.send(Message::binary(vec![1u8; 1000])).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap().len(), 1000);
    // One byte over the limit: the server fails the connection with 1009.
    ws.send(Message::binary(vec![1u8; 1001])).await.unwrap();
    if let Some(Ok(message)) = ws.next().await {
        panic!("no echo expected: {} bytes", message.len());
    }
    while ws.next().await.is_some() {}
    assert_eq!(
        ws.peer_close().map(|c| c.code()),
        Some(CloseCode::MessageTooBig)
    );
}

#[tokio::test]
async fn a_loop_that_stops_at_the_first_error_still_sends_the_close_code() {
    let address = start().await;
    let mut ws = WebSocketStream::connect(&format!("ws://{address}/short"))
        .await
        .unwrap();
    ws.send(Message::binary(vec![1u8; 1001])).await.unwrap();
    while ws.next().await.is_some() {}
    // The handler returned at its first `Err` and dropped the stream; the
    // close with 1009 went out before the error reached it.
    assert_eq!(
        ws.peer_close().map(|c| c.code()),
        Some(CloseCode::MessageTooBig)
    );
}

#[tokio::test]
async fn on_failed_upgrade_is_called_when_hyper_cannot_hand_over() {
    // hyper's HTTP/1.1 server without `with_upgrades`: it sends the 101,
    // then cannot hand the connection over.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (report, mut reports) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let service = hyper::service::service_fn(move |request| {
            let report = report.clone();
            let upgraded = report.clone();
            async move {
                let (mut parts, _body) = http::Request::into_parts(request);
                let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
                    Ok(ws) => ws,
                    Err(rejection) => return Ok::<_, Infallible>(rejection.into_response()),
                };
                Ok(ws
                    .on_failed_upgrade(move |error| {
                        let _ = report.send(format!("failed: {error}"));
                    })
                    .on_upgrade(move |_| async move {
                        let _ = upgraded.send("upgraded".to_owned());
                    }))
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
            .await;
    });
    let answer = raw(
        address,
        "GET /any HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    assert_eq!(answer.status, 101);
    let report = tokio::time::timeout(Duration::from_secs(5), reports.recv())
        .await
        .expect("a report within 5 s")
        .unwrap();
    assert!(report.starts_with("failed: "), "{report}");
}

#[tokio::test]
async fn a_request_without_hyper_upgrade_handle_is_refused_with_500() {
    let request = http::Request::get("/ws")
        .header("Host", "h")
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", "13")
        .body(())
        .unwrap();
    let (mut parts, ()) = request.into_parts();
    let rejection = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .unwrap_err();
    assert_eq!(rejection.status(), 500);
    assert!(rejection.upgrade_error().is_none());
    let response: Response = rejection.into_response();
    assert_eq!(response.status(), 500);

    // The same request, broken: the client's fault comes first.
    let (mut parts, ()) = http::Request::get("/ws")
        .header("Host", "h")
        .body(())
        .unwrap()
        .into_parts();
    let rejection = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .unwrap_err();
    assert_eq!(rejection.status(), 426);
    assert_eq!(
        rejection.into_response().headers()["sec-websocket-version"],
        "13"
    );
}
