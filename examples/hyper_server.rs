//! A WebSocket echo server inside hyper 1: a page at `/`, an echo at `/ws`,
//! over HTTP/1.1 (Upgrade, RFC 6455) and HTTP/2 (extended CONNECT,
//! RFC 8441) on the same port.
//!
//! ```text
//! cargo run --example hyper_server --features hyper [ADDRESS]   # default 127.0.0.1:9002
//! ```
//!
//! hyper parses every request; `rfc6455::hyper::upgrade` checks the
//! WebSocket rules, writes the answer (permessage-deflate agreed in shared
//! mode when the client offers it: the default for servers facing browsers,
//! see `rfc6455::deflate`) and gives the WebSocket once hyper hands the
//! connection over. Without TLS, HTTP/2 is spoken with prior knowledge (h2c), as by the
//! h2 client in `tests/http_servers.rs`; browsers use HTTP/2 only over TLS.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rfc6455::hyper::UpgradeFuture;
use rfc6455::io::Error;
use tokio::net::TcpListener;

const PAGE: &str = "<!doctype html><title>rfc6455 in hyper</title>\
<p>A WebSocket echo at <code>/ws</code>, over HTTP/1.1 and HTTP/2.</p>\n";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&address).await?;
    let address = listener.local_addr()?;
    println!("hyper echo server on http://{address}/ and ws://{address}/ws");
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
    Ok(match request.uri().path() {
        "/" => Response::new(Full::from(PAGE)),
        "/ws" => match rfc6455::hyper::upgrade(&mut request) {
            Ok((response, websocket)) => {
                tokio::spawn(echo(websocket));
                response // 101, or 200 over HTTP/2
            }
            // 400, 405, or 426 with Sec-WebSocket-Version: 13.
            Err(rejection) => rejection.response(),
        },
        _ => {
            let mut response = Response::new(Full::from("not found\n"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    })
}

/// Sends every message back. `feed` only queues the echo: receiving writes
/// the queue once the bytes read are used up, so the echoes of one read
/// leave in one write. Pings and the close are answered by the stream;
/// after a protocol error of the peer, receiving on sends its close and
/// ends the stream.
async fn echo(websocket: UpgradeFuture) {
    let mut ws = match websocket.await {
        Ok(ws) => ws,
        Err(error) => return eprintln!("upgrade failed: {error}"),
    };
    while let Some(message) = ws.next().await {
        match message {
            Ok(message) => {
                if let Err(error) = ws.feed(message).await {
                    return eprintln!("websocket ended: {error}");
                }
            }
            Err(Error::Protocol(error)) => eprintln!("peer error: {error}"),
            Err(error) => return eprintln!("websocket ended: {error}"),
        }
    }
}
