//! `rfc6455::hyper::upgrade` in a hyper 1 server without a framework, over
//! HTTP/1.1 and HTTP/2 (RFC 8441): the defaults, the `Upgrade` options
//! (subprotocols, deflate declined, a message limit) reaching the
//! connection, and the answers of a `Rejection`.
#![cfg(all(feature = "hyper", feature = "deflate"))]

mod h2_client;

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::ClientRequest;
use rfc6455::hyper::{Upgrade, UpgradeFuture, upgrade};
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{CloseCode, Config, Message};
use tokio::net::TcpListener;

/// `/options` upgrades with subprotocols, deflate declined and a 100-byte
/// message limit, and first sends the chosen subprotocol; anything else
/// with the defaults. Both echo.
async fn handle(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let options = if request.uri().path() == "/options" {
        Upgrade::new()
            .protocols(["b", "a"])
            .deflate(None)
            .max_message_size(100)
    } else {
        Upgrade::new()
    };
    Ok(match options.upgrade(&mut request) {
        Ok((response, websocket)) => {
            tokio::spawn(echo(websocket));
            response
        }
        Err(rejection) => rejection.response(),
    })
}

async fn echo(websocket: UpgradeFuture) {
    let protocol = websocket.protocol().map(str::to_owned);
    let Ok(mut ws) = websocket.await else { return };
    if let Some(protocol) = protocol
        && ws.send(Message::text(protocol)).await.is_err()
    {
        return;
    }
    while let Some(message) = ws.next().await {
        if let Ok(message) = message
            && ws.feed(message).await.is_err()
        {
            return;
        }
    }
}

async fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder.http2().enable_connect_protocol();
                let _ = builder
                    .serve_connection_with_upgrades(TokioIo::new(tcp), service_fn(handle))
                    .await;
            });
        }
    });
    address
}

async fn round_trip<S>(ws: &mut WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for message in [Message::text("hi"), Message::binary(vec![0u8, 255, 7])] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), message);
    }
}

#[tokio::test]
async fn the_defaults_agree_deflate_over_http1_and_http2() {
    let address = start().await;
    let url = format!("ws://{address}/ws");
    let config = Config::default().deflate(DeflateConfig::default());
    let request = ClientRequest::new(&url).unwrap();
    let mut ws = WebSocketStream::connect_with(request, config)
        .await
        .unwrap();
    assert!(ws.connection().deflate().is_some());
    round_trip(&mut ws).await;

    let request = ClientRequest::new(&url).unwrap();
    let (mut ws, protocol) = h2_client::websocket(address, request, config)
        .await
        .expect("200 to the extended CONNECT");
    assert!(ws.connection().deflate().is_some());
    assert_eq!(protocol, None);
    round_trip(&mut ws).await;
}

#[tokio::test]
async fn the_options_reach_the_answer_and_the_connection() {
    let address = start().await;
    let url = format!("ws://{address}/options");
    let config = Config::default().deflate(DeflateConfig::default());
    // The server prefers "b"; the client offers "a" first.
    let request = || {
        ClientRequest::new(&url)
            .unwrap()
            .protocol("a")
            .protocol("b")
    };
    let mut ws = WebSocketStream::connect_with(request(), config)
        .await
        .unwrap();
    check_options(&mut ws).await;

    let (mut ws, protocol) = h2_client::websocket(address, request(), config)
        .await
        .unwrap();
    assert_eq!(protocol.as_deref(), Some("b"));
    check_options(&mut ws).await;
}

/// Subprotocol "b" reported to the handler, deflate declined though
/// offered, and a 101-byte message failing the connection with 1009.
async fn check_options<S>(ws: &mut WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("b"));
    assert!(ws.connection().deflate().is_none(), "declined");
    round_trip(ws).await;
    ws.send(Message::binary(vec![1u8; 101])).await.unwrap();
    if let Some(Ok(message)) = ws.next().await {
        panic!("no echo expected: {} bytes", message.len());
    }
    while ws.next().await.is_some() {}
    assert_eq!(
        ws.peer_close().map(|c| c.code()),
        Some(CloseCode::MessageTooBig)
    );
}

#[test]
fn a_rejection_answers_in_the_request_version() {
    // An upgrade by POST: 405 with Allow: GET, the client's fault.
    let mut request = http::Request::post("/ws")
        .header("Host", "h")
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", "13")
        .body(())
        .unwrap();
    let rejection = upgrade::<_, ()>(&mut request).unwrap_err();
    assert_eq!(rejection.status(), 405);
    assert!(rejection.upgrade_error().is_some());
    let response: http::Response<Vec<u8>> = rejection.response();
    assert_eq!(response.headers()["allow"], "GET");
    assert!(!response.body().is_empty());

    // A wrong version over HTTP/2: 426 in HTTP/2, without Upgrade.
    let mut request = http::Request::connect("http://h/ws")
        .version(http::Version::HTTP_2)
        .header("Sec-WebSocket-Version", "8")
        .body(())
        .unwrap();
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let rejection = upgrade::<_, ()>(&mut request).unwrap_err();
    let response: http::Response<Vec<u8>> = rejection.response();
    assert_eq!(response.status(), 426);
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    assert!(response.headers().get("upgrade").is_none());

    // A valid request that no hyper server handed in: 500, the server's.
    let mut request = http::Request::connect("http://h/ws")
        .version(http::Version::HTTP_2)
        .header("Sec-WebSocket-Version", "13")
        .body(())
        .unwrap();
    request
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let rejection = upgrade::<_, ()>(&mut request).unwrap_err();
    assert_eq!(rejection.status(), 500);
    assert!(rejection.upgrade_error().is_none());
    assert!(!rejection.to_string().is_empty());
}
