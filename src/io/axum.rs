//! axum 0.8 (feature `axum`): the [`WebSocketUpgrade`] extractor, shaped
//! like `axum::extract::ws::WebSocketUpgrade`, so that moving a route over
//! means changing its `use` line.
//!
//! It serves HTTP/1.1 (`GET` with `Upgrade: websocket`, RFC 6455 section
//! 4) and HTTP/2 (extended `CONNECT`, RFC 8441), and hands the handler this
//! crate's [`WebSocket`]: a `Stream` of [`Message`]s and a `Sink` for them.
//! Register the route with `any`, not `get`: a WebSocket over HTTP/2 is a
//! `CONNECT`. `axum::serve` announces extended CONNECT itself.
//!
//! The policy is that of [`rfc6455::hyper`](super::hyper), which the
//! extractor is built on: **permessage-deflate is agreed in shared mode
//! when the client offers it** ([`deflate`](WebSocketUpgrade::deflate) to change or refuse
//! it), a subprotocol is chosen only from
//! [`protocols`](WebSocketUpgrade::protocols), a bad request is answered
//! with 400, 405 or 426 ([`Rejection`]), and pings and the peer's close are
//! answered while the handler receives.
//!
//! # Example
//!
//! An echo:
//!
//! ```
//! use axum::{Router, response::Response, routing::any};
//! use futures_util::StreamExt;
//! use rfc6455::axum::WebSocketUpgrade;
//!
//! async fn echo(ws: WebSocketUpgrade) -> Response {
//!     ws.on_upgrade(|mut ws| async move {
//!         // `feed` queues the echo; the next `next` writes the queue
//!         // before it reads again.
//!         while let Some(Ok(message)) = ws.next().await {
//!             let _ = ws.feed(message).await;
//!         }
//!     })
//! }
//!
//! let app: Router = Router::new().route("/ws", any(echo));
//! ```
//!
//! That loop stops at the first error and drops the connection. After a
//! protocol error of the peer, the stream has already written the close
//! frame with its code (1002, 1007, 1009..., RFC 6455 section 7.4.1) when
//! `next` returns the `Err`, as far as the socket took it without waiting.

use std::fmt;
use std::future::Future;

use ::axum::body::Body;
use ::axum::extract::FromRequestParts;
use ::axum::response::{IntoResponse, Response};
use http::request::Parts;

use super::Error;
use super::hyper::{Pending, Upgrade};
use crate::Config;
use crate::handshake::UpgradeRequest;

pub use super::hyper::{Rejection, WebSocket};
pub use crate::{CloseCode, CloseFrame, Message, Utf8Bytes};

/// The extractor of a WebSocket request: checks it, then
/// [`on_upgrade`](Self::on_upgrade) answers it and runs the handler's
/// callback on the WebSocket in a task of its own.
///
/// A request that is not a valid WebSocket request is refused before the
/// handler runs, with the [`Rejection`]'s answer: 400, 405 with
/// `Allow: GET`, or 426 with `Sec-WebSocket-Version: 13`.
///
/// ```
/// use axum::response::Response;
/// use futures_util::StreamExt;
/// use rfc6455::axum::{Message, WebSocketUpgrade};
///
/// async fn chat(ws: WebSocketUpgrade) -> Response {
///     let ws = ws.protocols(["chat.v2", "chat.v1"]).max_message_size(1 << 20);
///     let protocol = ws.selected_protocol().map(str::to_owned);
///     ws.on_failed_upgrade(|error| eprintln!("upgrade failed: {error}"))
///         .on_upgrade(move |mut ws| async move {
///             let hello = format!("speaking {protocol:?}");
///             if ws.send(Message::text(hello)).await.is_err() {
///                 return;
///             }
///             while let Some(Ok(message)) = ws.next().await {
///                 println!("{message:?}");
///             }
///         })
/// }
/// ```
pub struct WebSocketUpgrade {
    pending: Pending,
    options: Upgrade,
    on_failed: Option<Box<dyn FnOnce(Error) + Send>>,
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Rejection> {
        Ok(WebSocketUpgrade {
            pending: Pending::from_parts(parts)?,
            options: Upgrade::new(),
            on_failed: None,
        })
    }
}

impl WebSocketUpgrade {
    /// The subprotocols this server speaks, the preferred first: the first
    /// one the client offered is chosen (RFC 6455 section 4.2.2) and named
    /// in the answer. None matching, none is named.
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.options = self.options.protocols(protocols);
        self
    }

    /// The subprotocol that the answer will name, chosen by
    /// [`protocols`](Self::protocols).
    pub fn selected_protocol(&self) -> Option<&str> {
        self.pending.select(self.options.get_protocols())
    }

    /// The subprotocols the client offered, in its order
    /// (`Sec-WebSocket-Protocol`).
    pub fn requested_protocols(&self) -> impl Iterator<Item = &str> {
        self.pending
            .request()
            .protocols()
            .iter()
            .map(String::as_str)
    }

    /// The checked request: path, query, headers, `Origin`, offers.
    pub fn request(&self) -> &UpgradeRequest {
        self.pending.request()
    }

    /// Replaces the connection's whole [`Config`]: limits, timers and
    /// **permessage-deflate too** (off in `Config::default()`; see
    /// [`Upgrade::config`](super::hyper::Upgrade::config)).
    pub fn config(mut self, config: Config) -> Self {
        self.options = self.options.config(config);
        self
    }

    /// Sets permessage-deflate (RFC 7692): by default
    /// `DeflateConfig::shared()`, agreed when the client offers it (see
    /// [`rfc6455::hyper`](super::hyper) for why); `None`
    /// declines.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: impl Into<Option<crate::deflate::DeflateConfig>>) -> Self {
        self.options = self.options.deflate(deflate);
        self
    }

    /// Sets [`Config::max_message_size`] (default 64 MiB): a larger message
    /// fails the connection with 1009 (RFC 6455 section 7.4.1).
    pub fn max_message_size(mut self, bytes: u64) -> Self {
        self.options = self.options.max_message_size(bytes);
        self
    }

    /// Sets [`Config::max_frame_size`] (default 16 MiB).
    pub fn max_frame_size(mut self, bytes: u64) -> Self {
        self.options = self.options.max_frame_size(bytes);
        self
    }

    /// Called instead of the [`on_upgrade`](Self::on_upgrade) callback when
    /// hyper could not hand the connection over after the answer (the
    /// client went away, or the server does not do upgrades). By default
    /// nothing is done.
    pub fn on_failed_upgrade<C>(mut self, callback: C) -> Self
    where
        C: FnOnce(Error) + Send + 'static,
    {
        self.on_failed = Some(Box::new(callback));
        self
    }

    /// Answers the request (101 over HTTP/1.1, 200 over HTTP/2), and spawns
    /// a tokio task that runs `callback` on the [`WebSocket`] once hyper
    /// has handed the connection over. **Return the response from the
    /// handler**: the upgrade happens only after it is sent.
    #[must_use = "the upgrade happens only once this response is sent"]
    pub fn on_upgrade<C, F>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let (response, websocket) = match self.pending.accept::<Body>(&self.options) {
            Ok(accepted) => accepted,
            Err(rejection) => return rejection.into_response(),
        };
        let on_failed = self.on_failed;
        ::tokio::spawn(async move {
            match websocket.await {
                Ok(ws) => callback(ws).await,
                Err(error) => {
                    if let Some(on_failed) = on_failed {
                        on_failed(error);
                    }
                }
            }
        });
        response
    }
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("request", self.pending.request())
            .field("options", &self.options)
            .field("on_failed_upgrade", &self.on_failed.is_some())
            .finish()
    }
}

/// The answer of [`Rejection::response`]: 400, 405 or 426 for the client's
/// faults, 500 for the server's.
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.response::<Body>()
    }
}
