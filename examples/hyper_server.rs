//! A WebSocket echo server inside hyper 1: a page at `/`, an echo at `/ws`,
//! over HTTP/1.1 (Upgrade, RFC 6455) and HTTP/2 (extended CONNECT,
//! RFC 8441) on the same port.
//!
//! ```text
//! cargo run --example hyper_server --features http,tokio [ADDRESS]   # default 127.0.0.1:9002
//! ```
//!
//! hyper parses every request; the crate only checks the WebSocket rules
//! (`HttpUpgrade`), writes the answer, and takes over the stream that
//! `hyper::upgrade::on` hands back. permessage-deflate is agreed when the
//! client offers it. Without TLS, HTTP/2 is spoken with
//! prior knowledge (h2c), as by the h2 client in `tests/http_servers.rs`;
//! browsers use HTTP/2 only over TLS.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::Accept;
use rfc6455::handshake::http::HttpUpgrade;
use rfc6455::io::Error;
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{Config, Connection, Role};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

const PAGE: &str = "<!doctype html><title>rfc6455 in hyper</title>\
<p>A WebSocket echo at <code>/ws</code>, over HTTP/1.1 and HTTP/2.</p>\n";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&address).await?;
    eprintln!("hyper echo server on http://{address}/ and ws://{address}/ws");
    serve(listener).await
}

/// Serves every connection of `listener`, HTTP/1.1 or HTTP/2.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // RFC 8441 section 3: announce extended CONNECT in SETTINGS.
            builder.http2().enable_connect_protocol();
            let service = service_fn(handle);
            if let Err(error) = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection ended: {error}");
            }
        });
    }
}

async fn handle(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    match request.uri().path() {
        "/" => return Ok(Response::new(Full::from(PAGE))),
        "/ws" => {}
        _ => {
            let mut response = Response::new(Full::from("not found\n"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            return Ok(response);
        }
    }
    // HTTP/2's `:protocol` lives in hyper's extensions, not in `http`'s types.
    let protocol = request
        .extensions()
        .get::<hyper::ext::Protocol>()
        .map(|p| p.as_str());
    let upgrade = match HttpUpgrade::from_request(&request, protocol) {
        Ok(upgrade) => upgrade,
        // 400, 405, or 426 with Sec-WebSocket-Version: 13.
        Err(error) => return Ok(error.response(request.version()).map(Full::from)),
    };
    // permessage-deflate (RFC 7692) when the client offers it.
    let deflate = upgrade
        .request()
        .negotiate_deflate(&DeflateConfig::default());
    let accept = Accept::new().deflate(deflate).header("Server", "rfc6455");
    let accepted = match upgrade.accept(accept) {
        Ok(accepted) => accepted,
        Err(error) => {
            let mut response = Response::new(Full::from(format!("{error}\n")));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return Ok(response);
        }
    };
    // The stream is handed over once hyper has sent the 101 (or the 200).
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let io = TokioIo::new(upgraded);
                let connection = Connection::with_deflate(Role::Server, Config::default(), deflate);
                let ws = WebSocketStream::from_connection(io, connection);
                if let Err(error) = echo(ws).await {
                    eprintln!("websocket ended: {error}");
                }
            }
            Err(error) => eprintln!("upgrade failed: {error}"),
        }
    });
    Ok(accepted.response.map(|()| Full::default()))
}

/// Sends every message back. `feed` only queues the echo: receiving writes
/// the queue once the bytes read are used up, so the echoes of one read
/// leave in one write. Pings and the close are answered by the adapter;
/// after a protocol error of the peer its close goes out and the stream
/// ends.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>) -> Result<(), Error> {
    while let Some(message) = ws.next().await {
        match message {
            Ok(message) => ws.feed(message).await?,
            Err(Error::Protocol(error)) => eprintln!("peer error: {error}"),
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
