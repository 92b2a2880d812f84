//! hyper 1 without a framework (feature `hyper`): [`upgrade`] checks a
//! request, writes the answer, and gives a future of the [`WebSocket`]
//! that hyper hands over once the answer is sent.
//!
//! Both ways of opening a WebSocket inside HTTP are served by the same call:
//!
//! | version | request | answer | RFC |
//! |---|---|---|---|
//! | HTTP/1.1 | `GET` with `Upgrade: websocket` | `101 Switching Protocols` | 6455 section 4.2 |
//! | HTTP/2 | extended `CONNECT`, `:protocol websocket` | `200 OK` | 8441 sections 4 and 5 |
//!
//! For HTTP/2 the server must announce extended CONNECT (RFC 8441 section
//! 3): with hyper, `http2().enable_connect_protocol()` on its builder. The
//! `:protocol` pseudo-header is read from hyper's [`Protocol`] extension.
//!
//! # Policy
//!
//! - **permessage-deflate (RFC 7692) is agreed when the client offers it**
//!   (feature `deflate`, on by default), in shared mode
//!   ([`DeflateConfig::shared`]): browsers offer it, and text compresses
//!   well. Shared mode is what [`deflate`](crate::deflate) recommends for a
//!   server facing many browsers, which is what an HTTP server usually is:
//!   the answer adds `server_no_context_takeover` and
//!   `client_no_context_takeover` (every browser accepts them), each message
//!   is compressed on its own, and an idle connection holds no compression
//!   state instead of about 405 KiB in dedicated mode at 15-bit windows.
//!   For the better ratio of context takeover on few connections, pass
//!   [`Upgrade::deflate`] a [`DeflateConfig::dedicated`]. A bare
//!   [`Config::default`] leaves compression off; so does
//!   [`Upgrade::deflate(None)`](Upgrade::deflate).
//! - **A subprotocol is chosen only from [`Upgrade::protocols`]**: the first
//!   of that list, in the server's order, that the client offered. None
//!   matching, the answer names none and the client decides whether to go
//!   on.
//! - **A request that is not a valid WebSocket request is answered for
//!   you** through [`Rejection::response`]: 400 (a missing or malformed
//!   header), 405 with `Allow: GET` (an upgrade by another method), 426 with
//!   `Sec-WebSocket-Version: 13` (not a WebSocket request, or another
//!   version), the statuses of [`UpgradeError`].
//! - Pings and the peer's close are answered by the [`WebSocketStream`]
//!   while it receives, as everywhere in `rfc6455::io`.
//!
//! # Example
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper::{Request, Response};
//!
//! async fn handle(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
//!     let (response, websocket) = match rfc6455::hyper::upgrade(&mut request) {
//!         Ok(upgrade) => upgrade,
//!         Err(rejection) => return Ok(rejection.response()), // 400, 405 or 426
//!     };
//!     tokio::spawn(async move {
//!         let Ok(mut ws) = websocket.await else { return };
//!         while let Some(Ok(message)) = ws.next().await {
//!             let _ = ws.feed(message).await; // the next `next` writes it
//!         }
//!     });
//!     Ok(response) // 101, or 200 over HTTP/2
//! }
//! ```
//!
//! [`Protocol`]: ::hyper::ext::Protocol
//! [`DeflateConfig::shared`]: crate::deflate::DeflateConfig::shared
//! [`DeflateConfig::dedicated`]: crate::deflate::DeflateConfig::dedicated
//! [`UpgradeError`]: crate::handshake::http::UpgradeError

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use ::hyper::upgrade::{OnUpgrade, Upgraded};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Extensions, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;

use super::tokio::WebSocketStream;
use super::{Agreed, Error, open};
use crate::handshake::http::{HttpUpgrade, UpgradeError};
use crate::handshake::{Accept, BuildError, UpgradeRequest};
use crate::{Config, Role};

/// The WebSocket that hyper hands over: a [`WebSocketStream`] over the
/// upgraded connection, a `Stream` of messages and a `Sink` for them.
pub type WebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// Upgrades with the default [`Upgrade`] options: permessage-deflate in
/// shared mode when the client offers it, no subprotocol, the limits of
/// [`Config::default`].
///
/// See [`Upgrade::upgrade`].
pub fn upgrade<B, R: Default>(
    request: &mut Request<B>,
) -> Result<(Response<R>, UpgradeFuture), Rejection> {
    Upgrade::new().upgrade(request)
}

/// The options of an upgrade: the connection's [`Config`] (limits, timers,
/// permessage-deflate) and the subprotocols the server speaks.
///
/// ```no_run
/// # async fn handle(mut request: hyper::Request<hyper::body::Incoming>)
/// # -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, rfc6455::hyper::Rejection> {
/// use rfc6455::hyper::Upgrade;
///
/// let options = Upgrade::new()
///     .protocols(["chat.v2", "chat.v1"])
///     .max_message_size(1 << 20);
/// let (response, websocket) = options.upgrade(&mut request)?;
/// let protocol = websocket.protocol().map(str::to_owned); // chosen from the client's offer
/// # drop((protocol, websocket)); Ok(response)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Upgrade {
    config: Config,
    protocols: Vec<String>,
}

impl Default for Upgrade {
    fn default() -> Self {
        let config = Config::default();
        #[cfg(feature = "deflate")]
        let config = config.deflate(crate::deflate::DeflateConfig::shared());
        Upgrade {
            config,
            protocols: Vec::new(),
        }
    }
}

impl Upgrade {
    /// The defaults: permessage-deflate agreed in shared mode when offered
    /// (feature `deflate`; see the module's policy), the limits and timers
    /// of [`Config::default`], no subprotocol.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the whole [`Config`] of the connection: limits, timers
    /// and **permessage-deflate too**. `Config::default()` has compression
    /// off; keep it with `.config(config).deflate(DeflateConfig::shared())`
    /// or by setting [`Config::deflate`] in `config`.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Sets permessage-deflate (RFC 7692): what to accept of the client's
    /// offer, the level and the size under which messages go out
    /// uncompressed. `None` declines every offer.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: impl Into<Option<crate::deflate::DeflateConfig>>) -> Self {
        self.config.deflate = deflate.into();
        self
    }

    /// Sets [`Config::max_message_size`]: a larger message fails the
    /// connection with 1009 (RFC 6455 section 7.4.1).
    pub fn max_message_size(mut self, bytes: u64) -> Self {
        self.config.max_message_size = bytes;
        self
    }

    /// Sets [`Config::max_frame_size`]: a larger frame fails the connection
    /// with 1009 as soon as its header arrives.
    pub fn max_frame_size(mut self, bytes: u64) -> Self {
        self.config.max_frame_size = bytes;
        self
    }

    /// The subprotocols this server speaks, the preferred first (RFC 6455
    /// section 1.9): the first one the client offered is chosen. Replaces
    /// an earlier list.
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The connection's configuration.
    pub fn get_config(&self) -> &Config {
        &self.config
    }

    /// The subprotocols set with [`protocols`](Self::protocols).
    pub fn get_protocols(&self) -> &[String] {
        &self.protocols
    }

    /// Checks `request`, and answers it: the response to send (101 over
    /// HTTP/1.1, 200 over HTTP/2, with an empty body `R::default()`), and a
    /// future of the WebSocket, ready once hyper sent that response and
    /// handed the connection over.
    ///
    /// **Send the response before awaiting the future** (return it from the
    /// service, and await the future in a spawned task): hyper upgrades the
    /// connection only after writing it.
    ///
    /// A request that is not a valid WebSocket request, or that came
    /// without hyper's upgrade handle in its extensions (a request made by
    /// hand, not by a hyper server), gives a [`Rejection`] with the answer
    /// to send instead.
    pub fn upgrade<B, R: Default>(
        &self,
        request: &mut Request<B>,
    ) -> Result<(Response<R>, UpgradeFuture), Rejection> {
        Pending::from_request(request)?.accept(self)
    }
}

/// A checked request and hyper's handle on its connection, waiting for the
/// answer: the part that the axum extractor and [`upgrade`] share.
#[derive(Debug)]
pub(crate) struct Pending {
    upgrade: HttpUpgrade,
    on_upgrade: OnUpgrade,
}

impl Pending {
    /// Checks the head of a request, taking hyper's `OnUpgrade` from its
    /// extensions.
    #[cfg(feature = "axum")]
    pub(crate) fn from_parts(parts: &mut http::request::Parts) -> Result<Self, Rejection> {
        let checked = HttpUpgrade::from_parts(parts, protocol(&parts.extensions));
        Self::new(checked, parts.version, &mut parts.extensions)
    }

    fn from_request<B>(request: &mut Request<B>) -> Result<Self, Rejection> {
        let checked = HttpUpgrade::from_request(request, protocol(request.extensions()));
        let version = request.version();
        Self::new(checked, version, request.extensions_mut())
    }

    fn new(
        checked: Result<HttpUpgrade, UpgradeError>,
        version: Version,
        extensions: &mut Extensions,
    ) -> Result<Self, Rejection> {
        let upgrade = checked.map_err(|error| Rejection {
            kind: Kind::Request(error),
            version,
        })?;
        let on_upgrade = extensions.remove::<OnUpgrade>().ok_or(Rejection {
            kind: Kind::NotUpgradable,
            version,
        })?;
        Ok(Pending {
            upgrade,
            on_upgrade,
        })
    }

    /// The checked request: path, query, headers, offers.
    pub(crate) fn request(&self) -> &UpgradeRequest {
        self.upgrade.request()
    }

    /// The first of `protocols` that the client offered. RFC 6455 section
    /// 4.2.2: the value "MUST be derived from the client's handshake,
    /// specifically by selecting one of the values from the
    /// |Sec-WebSocket-Protocol| field that the server is willing to use".
    pub(crate) fn select<'a>(&self, protocols: &'a [String]) -> Option<&'a str> {
        let offered = self.request().protocols();
        protocols
            .iter()
            .find(|protocol| offered.contains(protocol))
            .map(String::as_str)
    }

    /// Writes the accepting answer with `options`.
    pub(crate) fn accept<R: Default>(
        self,
        options: &Upgrade,
    ) -> Result<(Response<R>, UpgradeFuture), Rejection> {
        let protocol = self.select(&options.protocols).map(str::to_owned);
        let mut accept = Accept::new();
        if let Some(protocol) = &protocol {
            accept = accept.protocol(protocol.as_str());
        }
        #[cfg(feature = "deflate")]
        let agreed = options
            .config
            .deflate
            .and_then(|wanted| self.request().negotiate_deflate(&wanted));
        #[cfg(feature = "deflate")]
        let accept = accept.deflate(agreed);
        #[cfg(not(feature = "deflate"))]
        let agreed: Agreed = None;
        let accepted = self.upgrade.accept(accept).map_err(|error| Rejection {
            kind: Kind::Answer(error),
            version: self.upgrade.version(),
        })?;
        let future = UpgradeFuture {
            on_upgrade: self.on_upgrade,
            config: options.config,
            agreed,
            protocol,
        };
        Ok((accepted.response.map(|()| R::default()), future))
    }
}

/// HTTP/2's `:protocol`, which hyper keeps in the extensions.
fn protocol(extensions: &Extensions) -> Option<&str> {
    extensions
        .get::<::hyper::ext::Protocol>()
        .map(|protocol| protocol.as_str())
}

/// The WebSocket to come, once hyper has sent the answer and handed the
/// connection over: resolves to a [`WebSocket`], or to [`Error::Io`] if
/// hyper could not upgrade (the connection closed first, or the server
/// serves HTTP/1.1 without `serve_connection_with_upgrades`).
#[derive(Debug)]
#[must_use = "the WebSocket is handed over only to a future that is awaited"]
pub struct UpgradeFuture {
    on_upgrade: OnUpgrade,
    config: Config,
    agreed: Agreed,
    protocol: Option<String>,
}

impl UpgradeFuture {
    /// The subprotocol the answer chose, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }
}

impl Future for UpgradeFuture {
    type Output = Result<WebSocket, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let upgraded = ready!(Pin::new(&mut self.on_upgrade).poll(cx))
            .map_err(|error| Error::Io(std::io::Error::other(error)))?;
        // hyper keeps any bytes it read past the request inside `Upgraded`,
        // so nothing is left over here.
        let connection = open(Role::Server, self.config, self.agreed, &[]);
        Poll::Ready(Ok(WebSocketStream::from_connection(
            TokioIo::new(upgraded),
            connection,
        )))
    }
}

/// Why a request was not upgraded, and the answer to send for it
/// ([`response`](Self::response)).
#[derive(Debug)]
pub struct Rejection {
    kind: Kind,
    version: Version,
}

#[derive(Debug)]
enum Kind {
    /// Not a valid WebSocket request.
    Request(UpgradeError),
    /// No hyper `OnUpgrade` in the extensions.
    NotUpgradable,
    /// The accepting answer could not be written.
    Answer(BuildError),
}

impl Rejection {
    /// The status of the answer: the [`UpgradeError`]'s (400, 405 or 426)
    /// for a request that broke a rule of RFC 6455 section 4.2.1 (or RFC
    /// 8441 section 5), 500 when the server cannot take the connection
    /// over or write the answer.
    pub fn status(&self) -> StatusCode {
        match &self.kind {
            Kind::Request(error) => {
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Kind::NotUpgradable | Kind::Answer(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the request broke, if the fault is the client's.
    pub fn upgrade_error(&self) -> Option<&UpgradeError> {
        match &self.kind {
            Kind::Request(error) => Some(error),
            Kind::NotUpgradable | Kind::Answer(_) => None,
        }
    }

    /// The answer, in the request's HTTP version: [`UpgradeError::response`]
    /// (with `Allow: GET` for a 405, `Sec-WebSocket-Version: 13` for a 426),
    /// or a 500; a text body says what was wrong.
    pub fn response<B: From<Vec<u8>>>(&self) -> Response<B> {
        match &self.kind {
            Kind::Request(error) => error.response(self.version).map(B::from),
            Kind::NotUpgradable | Kind::Answer(_) => {
                let mut response = Response::new(B::from(format!("{self}\n").into_bytes()));
                *response.status_mut() = self.status();
                *response.version_mut() = self.version;
                let text = HeaderValue::from_static("text/plain; charset=utf-8");
                response.headers_mut().insert(CONTENT_TYPE, text);
                response
            }
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Request(error) => error.fmt(f),
            Kind::NotUpgradable => f.write_str("the HTTP server cannot hand this connection over"),
            Kind::Answer(error) => write!(f, "the answer could not be written: {error}"),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Request(error) => Some(error),
            Kind::NotUpgradable => None,
            Kind::Answer(error) => Some(error),
        }
    }
}
