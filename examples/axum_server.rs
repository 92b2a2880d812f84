//! A WebSocket echo server in axum 0.8: a page at `/`, an echo at `/ws`, over
//! HTTP/1.1 (Upgrade) and HTTP/2 (extended CONNECT, RFC 8441).
//!
//! ```text
//! cargo run --example axum_server --features axum [ADDRESS]   # default 127.0.0.1:9002
//! ```
//!
//! With port 0 the system picks a free port; the first line printed names
//! the address either way. The extractor, `rfc6455::axum::WebSocketUpgrade`,
//! checks the request, answers it (permessage-deflate agreed in shared mode
//! when the client offers it: the default for servers facing browsers, see
//! `rfc6455::deflate`) and runs the callback in a task of its own. The route uses
//! `any`, not `get`, because an HTTP/2 WebSocket is a `CONNECT`.

use axum::Router;
use axum::response::{Html, Response};
use axum::routing::{any, get};
use futures_util::StreamExt;
use rfc6455::axum::WebSocketUpgrade;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&address).await?;
    let address = listener.local_addr()?;
    println!("axum echo server on http://{address}/ and ws://{address}/ws");
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

/// Sends every message back. `feed` only queues the echo; `next` writes the
/// queue once the bytes read are used up, so the echoes of one read leave
/// in one write. Pings and the close are answered by the stream.
async fn echo(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut ws| async move {
        while let Some(Ok(message)) = ws.next().await {
            let _ = ws.feed(message).await;
        }
    })
}
