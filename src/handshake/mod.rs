//! The opening handshake, both roles ([RFC 6455 section 4]).
//!
//! Like the rest of the crate this module never touches a socket: it takes the
//! bytes that arrived and gives back the bytes to send. It stands apart from
//! the framing layers and imports none of them; when a handshake completes, the
//! caller hands the [leftover](ServerHandshake::leftover) bytes (frames the
//! peer sent right behind its handshake) to the connection.
//!
//! HTTP/1.1 syntax is parsed by [`httparse`]; the WebSocket rules on top of it
//! are this module's, each check quoting the RFC's MUST beside it.
//!
//! # Server: how to drive it
//!
//! 1. [`ServerHandshake::new`] with [`Limits`].
//! 2. Feed every chunk that arrives to [`ServerHandshake::receive`], in order,
//!    in pieces of any size. [`Status::Partial`] means "need more bytes".
//! 3. On [`Status::Complete`] you get an [`Incoming`]:
//!    - [`Incoming::Upgrade`]: a valid WebSocket request. Look at its path,
//!      query, headers (Origin, cookies, Authorization), offered subprotocols
//!      and extensions, then write either [`UpgradeRequest::accept`] (the 101
//!      answer) or [`UpgradeRequest::reject`] (any status, headers and body).
//!    - [`Incoming::Plain`]: an ordinary HTTP request (no `Upgrade: websocket`),
//!      for an application that serves plain HTTP on the same port; answer it
//!      with [`plain_response`] or [`Reject`].
//! 4. On `Err(e)`, the request broke a rule: send [`HandshakeError::response`]
//!    (400, 405, 426 or 431, see [`HandshakeError::status`]) and close.
//! 5. After an accepted upgrade, pass [`ServerHandshake::into_leftover`] to the
//!    connection as its first input.
//!
//! ```
//! use rfc6455::handshake::{Accept, Incoming, Limits, ServerHandshake, Status};
//!
//! let mut server = ServerHandshake::new(Limits::default());
//! let arrived = b"GET /chat?token=s3cr%21t HTTP/1.1\r\n\
//!     Host: example.com\r\n\
//!     Upgrade: websocket\r\n\
//!     Connection: keep-alive, Upgrade\r\n\
//!     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\
//!     Sec-WebSocket-Protocol: chat, superchat\r\n\
//!     \r\n\x81\x80";
//! // Bytes may come in any pieces; here, two.
//! assert!(server.receive(&arrived[..20]).unwrap().is_partial());
//! let Status::Complete(Incoming::Upgrade(request)) = server.receive(&arrived[20..]).unwrap() else {
//!     panic!("expected a WebSocket upgrade");
//! };
//! assert_eq!(request.path(), "/chat");
//! assert_eq!(request.query_param("token").as_deref(), Some("s3cr!t"));
//! assert_eq!(request.protocols(), ["chat", "superchat"]);
//!
//! let response = request.accept(Accept::new().protocol("chat")).unwrap();
//! assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! let text = String::from_utf8(response).unwrap();
//! assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
//! // The start of the client's first frame is kept for the connection.
//! assert_eq!(server.leftover(), b"\x81\x80");
//! ```
//!
//! # Client: how to drive it
//!
//! 1. Describe the request with [`ClientRequest::new`] (a `ws://` or `wss://`
//!    URL) and its builder methods.
//! 2. `ClientHandshake::new` (feature `getrandom`) draws a fresh random key (without `std`,
//!    [`ClientHandshake::with_key_source`] draws it from yours); send
//!    [`ClientHandshake::request_bytes`] over the connection you opened to
//!    [`ClientRequest::host`] and [`ClientRequest::port`].
//! 3. Feed what the server answers to [`ClientHandshake::receive`] until
//!    [`Status::Complete`] gives the [`Response`]. A non-101 answer is
//!    [`HandshakeError::UnexpectedStatus`]; every other `Err` means the
//!    server broke a rule and the client must close the connection
//!    (RFC 6455 section 4.1, "_Fail the WebSocket Connection_").
//! 4. Pass [`ClientHandshake::into_leftover`] to the connection.
//!
//! ```
//! use rfc6455::handshake::{ClientHandshake, ClientRequest, Status};
//!
//! let request = ClientRequest::new("ws://example.com:8080/chat?room=1")
//!     .unwrap()
//!     .protocol("chat")
//!     .origin("http://example.com");
//! assert_eq!((request.host(), request.port()), ("example.com", 8080));
//! // A fixed key for the example; `ClientHandshake::new` draws a random one.
//! let mut client = ClientHandshake::with_key(request, *b"the sample nonce").unwrap();
//! let sent = String::from_utf8(client.request_bytes().to_vec()).unwrap();
//! assert!(sent.starts_with("GET /chat?room=1 HTTP/1.1\r\nHost: example.com:8080\r\n"));
//!
//! let answer = b"HTTP/1.1 101 Switching Protocols\r\n\
//!     Upgrade: websocket\r\n\
//!     Connection: Upgrade\r\n\
//!     Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
//!     Sec-WebSocket-Protocol: chat\r\n\
//!     \r\n\x81\x02hi";
//! let Status::Complete(response) = client.receive(answer).unwrap() else {
//!     panic!("the answer was whole");
//! };
//! assert_eq!(response.protocol(), Some("chat"));
//! assert_eq!(client.leftover(), b"\x81\x02hi");
//! ```
//!
//! # Policy, where you could guess wrong
//!
//! - **Limits** ([`Limits`]): the header block (request line or status line,
//!   headers and the blank line) may be at most **8192 bytes** and hold at
//!   most **64 headers** by default. A longer block is answered with 431, and
//!   the handshake never buffers more than `max_header_bytes`
//!   ([`ServerHandshake::buffered_len`]). Bytes after the blank line are not
//!   counted: they belong to the connection.
//! - **Plain or upgrade**: a request is an upgrade when its `Upgrade` header
//!   lists the token `websocket`; everything else, whatever its method, is
//!   [`Incoming::Plain`]. Once a request asks for `websocket`, every rule of
//!   section 4.2.1 applies and a broken one is an error.
//! - **Method other than GET** on an upgrade request: **405** with
//!   `Allow: GET`, not 400. The request is well formed and names a resource
//!   that exists; only its method is wrong, which is what 405 says (RFC 9110
//!   section 15.5.6), and `Allow` tells the client what to use instead.
//!   RFC 6455 section 4.2.1 only asks for "an appropriate error code".
//! - **Other versions**: a missing or other `Sec-WebSocket-Version` is
//!   answered with 426 and `Sec-WebSocket-Version: 13` (section 4.4).
//! - **Extensions**: offers are parsed ([`UpgradeRequest::extensions`]). The
//!   only extension the handshake answers is permessage-deflate (RFC 7692,
//!   feature `deflate`), and **only when the application asks**: the server
//!   calls `UpgradeRequest::negotiate_deflate` and passes the result to
//!   `Accept::deflate`; the client offers it with `ClientRequest::deflate`
//!   and reads `Response::deflate`. A bad offer is declined, never answered
//!   with an HTTP error; a bad answer fails the client's handshake with
//!   `HandshakeError::Deflate`. Without that, the 101 answer carries no
//!   `Sec-WebSocket-Extensions`.
//! - **`wss://`** is accepted as a URL form only: the handshake bytes are the
//!   same, but this crate does no TLS. The caller must open the TLS session
//!   (with SNI for [`ClientRequest::host`]) and run these bytes inside it.
//! - **Bodies** are not read: for a plain request with a body, the body's
//!   first bytes are in the leftover.
//!
//! [RFC 6455 section 4]: https://www.rfc-editor.org/rfc/rfc6455#section-4

mod accept;
mod client;
mod client_request;
mod error;
mod extensions;
mod head;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
mod request;
mod response;
mod server;

pub use accept::accept_key;
pub use client::{ClientHandshake, Response};
pub use client_request::ClientRequest;
pub use error::{BuildError, HandshakeError};
pub use extensions::{Extension, parse_extensions};
pub use request::{HttpRequest, UpgradeRequest};
pub use response::{Accept, Reject, plain_response};
pub use server::{Incoming, ServerHandshake};

/// The result of feeding bytes: either more are needed, or the head is whole.
///
/// "Need more bytes" is a value, not an error, as in [`httparse::Status`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Status<T> {
    /// The header block is not finished yet: feed more bytes.
    Partial,
    /// The header block is finished and parsed.
    Complete(T),
}

impl<T> Status<T> {
    /// Whether more bytes are needed.
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }

    /// Whether the header block is finished.
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// The complete value, or `None` if more bytes are needed.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(value) => Some(value),
            Status::Partial => None,
        }
    }
}

/// Size limits on a header block, both roles.
///
/// The defaults are 8192 bytes and 64 headers, the same order as common HTTP
/// servers use. A block over either limit is [`HandshakeError::HeaderTooLarge`]
/// or [`HandshakeError::TooManyHeaders`], answered with 431.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes in the header block, from the first byte to the blank line
    /// included. Default 8192. Never more than this is buffered.
    pub max_header_bytes: usize,
    /// Most header fields in the block. Default 64.
    pub max_headers: usize,
}

impl Limits {
    /// The default header block size, 8 KiB.
    pub const DEFAULT_MAX_HEADER_BYTES: usize = 8192;
    /// The default number of header fields, 64.
    pub const DEFAULT_MAX_HEADERS: usize = 64;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: Self::DEFAULT_MAX_HEADER_BYTES,
            max_headers: Self::DEFAULT_MAX_HEADERS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_defaults() {
        let limits = Limits::default();
        assert_eq!(limits.max_header_bytes, 8192);
        assert_eq!(limits.max_headers, 64);
    }

    #[test]
    fn status_helpers() {
        let partial: Status<u8> = Status::Partial;
        assert!(partial.is_partial() && !partial.is_complete());
        assert_eq!(partial.complete(), None);
        assert_eq!(Status::Complete(3).complete(), Some(3));
    }
}
