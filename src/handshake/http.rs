//! The handshake in the [`http`] crate's types (feature `http`), for servers
//! and clients that parse HTTP themselves: hyper, axum, h2.
//!
//! No HTTP library comes with it: the conversions take an `http::Request` (or
//! its [`Parts`]) and give an `http::Response`, and the upgraded stream goes
//! to `io::tokio::WebSocketStream::from_raw` (feature `tokio`). Both ways of
//! opening a WebSocket inside HTTP are understood:
//!
//! | version | request | accepting answer | RFC |
//! |---|---|---|---|
//! | HTTP/1.1 | `GET`, `Upgrade: websocket`, `Sec-WebSocket-Key` | `101`, `Sec-WebSocket-Accept` | 6455 section 4 |
//! | HTTP/2 | `CONNECT` with `:protocol websocket`, no key | `200`, no accept key | 8441 sections 4 and 5 |
//!
//! HTTP/3 (RFC 9220) uses the HTTP/2 form and is treated like it.
//!
//! # Server
//!
//! 1. [`HttpUpgrade::from_request`] (or [`from_parts`](HttpUpgrade::from_parts))
//!    checks the request. An [`UpgradeError`] knows its answer
//!    ([`UpgradeError::response`]): 400, 405, 426 with
//!    `Sec-WebSocket-Version: 13`...
//! 2. Look at the request ([`HttpUpgrade::request`]: path, query, `Origin`,
//!    offered subprotocols), then answer with [`HttpUpgrade::accept`] (101 or
//!    200) or [`HttpUpgrade::reject`].
//! 3. Send the answer; the HTTP server hands over the stream (hyper:
//!    `hyper::upgrade::on`), which becomes a WebSocket with
//!    `WebSocketStream::from_raw(stream, Role::Server, &[], config)`.
//!
//! **The `:protocol` pseudo-header is not in `Parts`**: the `http` crate has
//! no field for it, and each HTTP/2 library keeps it in the request's
//! extensions under its own type. Pass its value: with hyper,
//! `req.extensions().get::<hyper::ext::Protocol>().map(|p| p.as_str())`;
//! with h2, `h2::ext::Protocol` the same way. For HTTP/1.1 pass `None`.
//! HTTP/2 servers announce extended CONNECT first (RFC 8441 section 3,
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL`; hyper: `enable_connect_protocol()`).
//!
//! ```
//! use rfc6455::handshake::Accept;
//! use rfc6455::handshake::http::HttpUpgrade;
//!
//! // What hyper or axum would hand over for `GET /chat` over HTTP/1.1.
//! let request = http::Request::get("/chat?room=1")
//!     .header("Host", "example.com")
//!     .header("Upgrade", "websocket")
//!     .header("Connection", "Upgrade")
//!     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
//!     .header("Sec-WebSocket-Version", "13")
//!     .header("Sec-WebSocket-Protocol", "chat, superchat")
//!     .body(())?;
//! let upgrade = HttpUpgrade::from_request(&request, None)?;
//! assert_eq!(upgrade.request().path(), "/chat");
//!
//! let accepted = upgrade.accept(Accept::new().protocol("chat"))?;
//! assert_eq!(accepted.response.status(), 101);
//! assert_eq!(accepted.response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! assert_eq!(accepted.protocol.as_deref(), Some("chat"));
//!
//! // The same request over HTTP/2 (RFC 8441): CONNECT, `:protocol websocket`.
//! let request = http::Request::connect("https://example.com/chat?room=1")
//!     .version(http::Version::HTTP_2)
//!     .header("Sec-WebSocket-Version", "13")
//!     .body(())?;
//! let upgrade = HttpUpgrade::from_request(&request, Some("websocket"))?;
//! assert!(upgrade.is_extended_connect());
//! let accepted = upgrade.accept(Accept::new())?;
//! assert_eq!(accepted.response.status(), 200);
//! assert!(accepted.response.headers().get("sec-websocket-accept").is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **permessage-deflate** (feature `deflate`) goes through as over bytes:
//! `upgrade.request().negotiate_deflate(&config)` chooses the parameters,
//! `Accept::deflate(params)` writes them into the answer, and
//! `Connection::with_deflate(Role::Server, config, params)` with
//! `WebSocketStream::from_connection` uses them. On the client, the offer of
//! `ClientRequest::deflate` is in both requests below, and the `Response`
//! of [`ClientHandshake::check_http_response`] gives the agreed parameters.
//!
//! # Client
//!
//! [`ClientHandshake::http_request`] and [`ClientHandshake::http2_request`]
//! write the request for an HTTP client; [`ClientHandshake::check_http_response`]
//! checks the answer with the same rules as the bytes path.
//!
//! [`Parts`]: http::request::Parts

use http::header::{CONNECTION, CONTENT_LENGTH, HOST, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY};
use http::header::{HeaderName, HeaderValue, SEC_WEBSOCKET_PROTOCOL, UPGRADE};
use http::{HeaderMap, Method, Request, StatusCode, Uri, Version, request::Parts};

use super::head::{Headers, trim};
use super::server::{check_request, check_version, offers};
use super::{
    Accept, BuildError, ClientHandshake, HandshakeError, HttpRequest, Incoming, Reject, Response,
    Status, UpgradeRequest,
};

/// A valid WebSocket request that came as an [`http::Request`], HTTP/1.1
/// Upgrade or HTTP/2 extended CONNECT, waiting for the application's answer.
///
/// See the [module docs](self) for the sequence and an example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUpgrade {
    request: UpgradeRequest,
    version: Version,
}

/// The accepting answer: the response to send, and what was agreed.
#[derive(Debug)]
#[non_exhaustive]
pub struct Accepted {
    /// `101 Switching Protocols` (HTTP/1.1) or `200 OK` (HTTP/2), with no
    /// body. After sending it, the stream is the WebSocket's.
    pub response: http::Response<()>,
    /// The subprotocol chosen with [`Accept::protocol`], if any.
    pub protocol: Option<String>,
}

/// Why an `http::Request` cannot be upgraded, and the answer it implies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// Not a WebSocket request at all: no `Upgrade: websocket` (HTTP/1.1),
    /// or not `CONNECT` with `:protocol websocket` (HTTP/2). Answered with
    /// 426 Upgrade Required and `Sec-WebSocket-Version: 13`.
    #[error("not a WebSocket request")]
    NotWebSocket,
    /// A WebSocket request that broke a rule of RFC 6455 section 4.2.1 (or
    /// RFC 8441 section 5); its [`status`](HandshakeError::status) says the
    /// answer: 400, 405 or 426.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
}

impl UpgradeError {
    /// The HTTP status of the answer: 426 for [`NotWebSocket`](Self::NotWebSocket),
    /// else [`HandshakeError::status`].
    pub fn status(&self) -> u16 {
        match self {
            UpgradeError::NotWebSocket => 426,
            UpgradeError::Handshake(error) => error.status(),
        }
    }

    /// The whole answer, for the request's `version`: status, headers
    /// (`Allow: GET` with 405, `Sec-WebSocket-Version: 13` with 426) and a
    /// text body saying what was wrong.
    ///
    /// Over HTTP/1.1 a 426 also names the protocol in `Upgrade: websocket`
    /// (RFC 9110 section 15.5.22); over HTTP/2 `Upgrade` and `Connection`
    /// are left out, being connection-specific fields (RFC 9113 section
    /// 8.2.2). `Content-Length` and `Connection: close` are left to the HTTP
    /// server, which frames the body and keeps the connection as it sees fit.
    ///
    /// ```
    /// use rfc6455::handshake::http::{HttpUpgrade, UpgradeError};
    ///
    /// let request = http::Request::get("/ws").header("Host", "h").body(())?;
    /// let error = HttpUpgrade::from_request(&request, None).unwrap_err();
    /// assert_eq!(error, UpgradeError::NotWebSocket);
    /// let answer = error.response(request.version());
    /// assert_eq!(answer.status(), 426);
    /// assert_eq!(answer.headers()["sec-websocket-version"], "13");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn response(&self, version: Version) -> http::Response<Vec<u8>> {
        let bytes = match self {
            UpgradeError::NotWebSocket => Reject::new(426)
                .header("Upgrade", "websocket")
                .header("Sec-WebSocket-Version", "13")
                .header("Content-Type", "text/plain; charset=utf-8")
                .body(format!("{self}\n"))
                .into_bytes()
                .unwrap_or_default(),
            UpgradeError::Handshake(error) => error.response(),
        };
        to_http(&bytes, version).unwrap_or_else(|_| {
            let mut fallback = http::Response::new(Vec::new());
            *fallback.status_mut() = StatusCode::BAD_REQUEST;
            fallback
        })
    }
}

impl HttpUpgrade {
    /// Checks a request: see [`from_parts`](Self::from_parts).
    pub fn from_request<B>(
        request: &Request<B>,
        protocol: Option<&str>,
    ) -> Result<Self, UpgradeError> {
        Self::from_head(
            request.method(),
            request.uri(),
            request.version(),
            request.headers(),
            protocol,
        )
    }

    /// Checks a request head: an HTTP/1.1 Upgrade against RFC 6455 section
    /// 4.2.1, an HTTP/2 (or HTTP/3) extended CONNECT against RFC 8441
    /// section 5.
    ///
    /// `protocol` is the value of the HTTP/2 `:protocol` pseudo-header, which
    /// `Parts` cannot hold (see the [module docs](self)); it is ignored for
    /// HTTP/1.x.
    ///
    /// Over HTTP/2 the request has no `Host` header: the
    /// [`request`](Self::request) gets one from the URI's authority, as
    /// RFC 9113 section 8.3.1 asks of a translation to HTTP/1.1, and so does
    /// an HTTP/1.1 request in absolute form without one.
    pub fn from_parts(parts: &Parts, protocol: Option<&str>) -> Result<Self, UpgradeError> {
        Self::from_head(
            &parts.method,
            &parts.uri,
            parts.version,
            &parts.headers,
            protocol,
        )
    }

    fn from_head(
        method: &Method,
        uri: &Uri,
        version: Version,
        map: &HeaderMap,
        protocol: Option<&str>,
    ) -> Result<Self, UpgradeError> {
        let mut headers = Headers::default();
        if !map.contains_key(HOST)
            && let Some(authority) = uri.authority()
        {
            headers.push("host", authority.as_str().as_bytes());
        }
        for (name, value) in map {
            headers.push(name.as_str(), trim(value.as_bytes()));
        }
        let http = HttpRequest {
            method: method.as_str().to_owned(),
            target: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            minor_version: u8::from(version != Version::HTTP_10 && version != Version::HTTP_09),
            headers,
            head_len: 0,
        };
        if !is_extended_connect(version) {
            return match check_request(http)? {
                Incoming::Upgrade(request) => Ok(HttpUpgrade { request, version }),
                Incoming::Plain(_) => Err(UpgradeError::NotWebSocket),
            };
        }
        // RFC 8441 section 4: the ":protocol pseudo-header field MUST be
        // included in the CONNECT request, and it MUST have a value of
        // "websocket"". Anything else is some other request.
        let websocket = protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket"));
        if method != Method::CONNECT || !websocket {
            return Err(UpgradeError::NotWebSocket);
        }
        // Section 5 keeps Sec-WebSocket-Version, -Protocol and -Extensions
        // as in RFC 6455; the key and accept are "superseded by the
        // :protocol pseudo-header field", so there is none to check.
        check_version(&http.headers)?;
        let (protocols, extensions) = offers(&http.headers)?;
        Ok(HttpUpgrade {
            request: UpgradeRequest {
                http,
                key: String::new(),
                protocols,
                extensions,
            },
            version,
        })
    }

    /// The checked request: path, query, headers, `Origin`, offered
    /// subprotocols and extensions.
    ///
    /// For an HTTP/2 request its method is `CONNECT`, its
    /// [`key`](UpgradeRequest::key) is empty (there is none) and its
    /// `http_minor_version` reads 1; [`version`](Self::version) tells the
    /// truth. Answer with [`accept`](Self::accept), not
    /// [`UpgradeRequest::accept`], which writes HTTP/1.1 bytes.
    pub fn request(&self) -> &UpgradeRequest {
        &self.request
    }

    /// The request's HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Whether this is an HTTP/2 (or HTTP/3) extended CONNECT (RFC 8441),
    /// answered with 200 rather than 101.
    pub fn is_extended_connect(&self) -> bool {
        is_extended_connect(self.version)
    }

    /// Writes the accepting answer, with the same checks and headers as
    /// [`UpgradeRequest::accept`]: the subprotocol must be one the client
    /// offered, and the handshake's own headers are refused in
    /// [`Accept::header`].
    ///
    /// HTTP/1.1: `101 Switching Protocols` with `Upgrade`, `Connection` and
    /// `Sec-WebSocket-Accept` (RFC 6455 section 4.2.2). HTTP/2: `200 OK`
    /// without them (RFC 8441 section 5: no key, no accept, and no
    /// connection-specific fields).
    pub fn accept(&self, accept: Accept) -> Result<Accepted, BuildError> {
        let bytes = self.request.accept(accept)?;
        let mut response = to_http(&bytes, Version::HTTP_11)?.map(|_| ());
        let protocol = response
            .headers()
            .get(SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if self.is_extended_connect() {
            *response.status_mut() = StatusCode::OK;
            let headers = response.headers_mut();
            for name in [UPGRADE, CONNECTION, SEC_WEBSOCKET_ACCEPT] {
                headers.remove(name);
            }
        }
        *response.version_mut() = self.version;
        Ok(Accepted { response, protocol })
    }

    /// Writes a refusal: any status but 1xx, headers and a body (see
    /// [`Reject`]). `Content-Length` and `Connection` are left to the HTTP
    /// server.
    pub fn reject(&self, reject: Reject) -> Result<http::Response<Vec<u8>>, BuildError> {
        to_http(&reject.into_bytes()?, self.version)
    }
}

fn is_extended_connect(version: Version) -> bool {
    version == Version::HTTP_2 || version == Version::HTTP_3
}

/// Turns an answer this crate wrote as HTTP/1.1 bytes into an
/// `http::Response` for `version`, leaving framing and connection management
/// to the HTTP server.
fn to_http(bytes: &[u8], version: Version) -> Result<http::Response<Vec<u8>>, BuildError> {
    let mut fields = vec![httparse::EMPTY_HEADER; bytes.split(|&b| b == b'\n').count()];
    let mut parsed = httparse::Response::new(&mut fields);
    let invalid = || BuildError::InvalidHeaderValue("(answer)".to_owned());
    let Ok(httparse::Status::Complete(head_len)) = parsed.parse(bytes) else {
        return Err(invalid());
    };
    let status = parsed
        .code
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(invalid)?;
    let mut headers = header_map(parsed.headers)?;
    if status != StatusCode::SWITCHING_PROTOCOLS {
        headers.remove(CONTENT_LENGTH);
        headers.remove(CONNECTION);
        if headers.contains_key(UPGRADE) {
            if is_extended_connect(version) {
                headers.remove(UPGRADE);
            } else {
                // RFC 9110 section 7.8: a sender of Upgrade "MUST also send
                // an "Upgrade" connection option in the Connection header".
                headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
            }
        }
    }
    let mut response = http::Response::new(bytes[head_len..].to_vec());
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    *response.version_mut() = version;
    Ok(response)
}

impl ClientHandshake {
    /// The request as an HTTP/1.1 `http::Request`, for an HTTP client that
    /// hands over the upgraded stream (hyper's `client::conn::http1` with
    /// `with_upgrades`): `GET`, the resource as the URI, and every header of
    /// [`request_bytes`](Self::request_bytes), the key included.
    pub fn http_request(&self) -> Result<Request<()>, BuildError> {
        let headers = parse_request(self.request_bytes())?;
        let mut request = Request::new(());
        *request.uri_mut() = self
            .request()
            .resource()
            .parse()
            .map_err(|_| BuildError::InvalidUrl("the resource is not a valid URI"))?;
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = headers;
        Ok(request)
    }

    /// The request as an HTTP/2 extended CONNECT (RFC 8441 sections 4 and
    /// 5): `CONNECT` to `https://host/resource` (`http://` for `ws://`),
    /// without `Host`, `Upgrade`, `Connection` or `Sec-WebSocket-Key`.
    ///
    /// **Add the `:protocol` pseudo-header yourself**, which `http` cannot
    /// express: `h2::ext::Protocol::from_static("websocket")` (or hyper's)
    /// in the request's extensions. The server must have enabled extended
    /// CONNECT in its SETTINGS (RFC 8441 section 3).
    pub fn http2_request(&self) -> Result<Request<()>, BuildError> {
        let mut headers = parse_request(self.request_bytes())?;
        for name in [HOST, UPGRADE, CONNECTION, SEC_WEBSOCKET_KEY] {
            headers.remove(name);
        }
        let scheme = if self.request().is_secure() {
            "https"
        } else {
            "http"
        };
        let uri = format!(
            "{scheme}://{}{}",
            self.request().host_header(),
            self.request().resource()
        );
        let mut request = Request::new(());
        *request.method_mut() = Method::CONNECT;
        *request.uri_mut() = uri
            .parse()
            .map_err(|_| BuildError::InvalidUrl("not a valid URI"))?;
        *request.version_mut() = Version::HTTP_2;
        *request.headers_mut() = headers;
        Ok(request)
    }

    /// Checks the server's answer, given as an `http::Response`, with the
    /// rules of [`receive`](Self::receive) (RFC 6455 section 4.1): any error
    /// means the client must close the stream.
    ///
    /// An HTTP/2 (or HTTP/3) answer accepts with any 2xx and carries no
    /// accept key (RFC 8441 section 5); its subprotocol and extensions are
    /// checked as over HTTP/1.1, and the [`Response`] it gives reads as the
    /// HTTP/1.1 equivalent (status 101). Any other status is
    /// [`HandshakeError::UnexpectedStatus`].
    pub fn check_http_response<B>(
        &mut self,
        response: &http::Response<B>,
    ) -> Result<Response, HandshakeError> {
        let h2 = is_extended_connect(response.version());
        let accepted = h2 && response.status().is_success();
        let mut head = if accepted {
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
                self.expected_accept()
            )
            .into_bytes()
        } else {
            format!("HTTP/1.1 {} \r\n", response.status().as_u16()).into_bytes()
        };
        for (name, value) in response.headers() {
            if accepted && [UPGRADE, CONNECTION, SEC_WEBSOCKET_ACCEPT].contains(name) {
                continue;
            }
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        match self.receive(&head)? {
            Status::Complete(response) => Ok(response),
            Status::Partial => Err(HandshakeError::Malformed("incomplete")),
        }
    }
}

/// Parses the headers of a request this crate wrote.
fn parse_request(bytes: &[u8]) -> Result<HeaderMap, BuildError> {
    let mut fields = vec![httparse::EMPTY_HEADER; bytes.split(|&b| b == b'\n').count()];
    let mut parsed = httparse::Request::new(&mut fields);
    let invalid = || BuildError::InvalidHeaderValue("(request)".to_owned());
    if !matches!(parsed.parse(bytes), Ok(httparse::Status::Complete(_))) {
        return Err(invalid());
    }
    let headers = header_map(parsed.headers)?;
    Ok(headers)
}

/// The header fields of a head this module wrote, in the `http` crate's map.
fn header_map(fields: &[httparse::Header<'_>]) -> Result<HeaderMap, BuildError> {
    let mut headers = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| BuildError::InvalidHeaderName(field.name.to_owned()))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| BuildError::InvalidHeaderValue(field.name.to_owned()))?;
        headers.append(name, value);
    }
    Ok(headers)
}
