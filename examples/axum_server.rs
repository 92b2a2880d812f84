//! A WebSocket echo server in axum 0.8: a page at `/`, an echo at `/ws`, over
//! HTTP/1.1 (Upgrade) and HTTP/2 (extended CONNECT, RFC 8441).
//!
//! ```text
//! cargo run --example axum_server --features http,tokio [ADDRESS]   # default 127.0.0.1:9002
//! ```
//!
//! The extractor below, `Ws`, is the whole glue: it checks the request with
//! `HttpUpgrade` and takes hyper's `OnUpgrade`. The route uses `any`, not
//! `get`, because an HTTP/2 WebSocket is a `CONNECT`.

use axum::Router;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use futures_util::StreamExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use rfc6455::deflate::DeflateConfig;
use rfc6455::handshake::Accept;
use rfc6455::handshake::http::HttpUpgrade;
use rfc6455::io::Error;
use rfc6455::io::tokio::WebSocketStream;
use rfc6455::{Config, Connection, Role};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&address).await?;
    eprintln!("axum echo server on http://{address}/ and ws://{address}/ws");
    axum::serve(listener, app()).await
}

/// The routes: the page and the echo.
pub fn app() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { Html("<p>A WebSocket echo at <code>/ws</code>.</p>\n") }),
        )
        .route("/ws", any(echo))
}

/// A checked WebSocket request and the stream hyper will hand over.
pub struct Ws {
    upgrade: HttpUpgrade,
    on_upgrade: OnUpgrade,
}

impl<S: Send + Sync> FromRequestParts<S> for Ws {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let protocol = parts.extensions.get::<hyper::ext::Protocol>();
        let upgrade = HttpUpgrade::from_parts(parts, protocol.map(|p| p.as_str()))
            .map_err(|error| error.response(parts.version).map(Body::from))?;
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or_else(|| {
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "no upgrade").into_response()
        })?;
        Ok(Ws {
            upgrade,
            on_upgrade,
        })
    }
}

async fn echo(
    Ws {
        upgrade,
        on_upgrade,
    }: Ws,
) -> Response {
    // permessage-deflate (RFC 7692) when the client offers it.
    let deflate = upgrade
        .request()
        .negotiate_deflate(&DeflateConfig::default());
    let accepted = match upgrade.accept(Accept::new().deflate(deflate)) {
        Ok(accepted) => accepted,
        Err(error) => {
            let status = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            return (status, error.to_string()).into_response();
        }
    };
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = TokioIo::new(upgraded);
        let connection = Connection::with_deflate(Role::Server, Config::default(), deflate);
        let mut ws = WebSocketStream::from_connection(io, connection);
        // `feed` queues the echo; `next` writes the queue once the bytes
        // read are used up: one write for every echo of one read.
        while let Some(message) = ws.next().await {
            match message {
                Ok(message) => {
                    if ws.feed(message).await.is_err() {
                        break;
                    }
                }
                // The peer's protocol error: its close is queued, the stream ends.
                Err(Error::Protocol(_)) => {}
                Err(_) => break,
            }
        }
    });
    accepted.response.map(|()| Body::empty())
}
