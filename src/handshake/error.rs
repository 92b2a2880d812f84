//! The two error types: the peer's broken rules and the caller's mistakes.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::response::write_response;

/// A peer broke a rule of the opening handshake.
///
/// Variants are named after the broken rule. On the server side each knows
/// the HTTP answer it implies: [`status`](Self::status) gives the code and
/// [`response`](Self::response) writes the whole answer, ready to send before
/// closing. On the client side (variants found in a server's response) there
/// is nothing to answer: the client must "_Fail the WebSocket Connection_"
/// (RFC 6455 section 4.1), that is, close it.
///
/// Errors are sticky: once [`ServerHandshake::receive`] or
/// [`ClientHandshake::receive`] returns one, later calls return it again.
///
/// [`ServerHandshake::receive`]: super::ServerHandshake::receive
/// [`ClientHandshake::receive`]: super::ClientHandshake::receive
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The bytes are not HTTP/1.x (`httparse`'s reason). 400.
    #[error("malformed HTTP: {0}")]
    Malformed(&'static str),
    /// The header block is longer than [`Limits::max_header_bytes`]. 431.
    ///
    /// [`Limits::max_header_bytes`]: super::Limits::max_header_bytes
    #[error("header block larger than {limit} bytes")]
    HeaderTooLarge {
        /// The limit that was passed.
        limit: usize,
    },
    /// The header block holds more than [`Limits::max_headers`] fields. 431.
    ///
    /// [`Limits::max_headers`]: super::Limits::max_headers
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// The limit that was passed.
        limit: usize,
    },
    /// An upgrade request whose method is not GET. 405 with `Allow: GET`.
    #[error("the method of a WebSocket upgrade must be GET")]
    MethodNotGet,
    /// An upgrade request in HTTP/1.0. 400.
    #[error("a WebSocket upgrade needs HTTP/1.1 or later")]
    HttpVersionTooOld,
    /// An upgrade request without a `Host` header. 400.
    #[error("missing Host header")]
    MissingHost,
    /// A header that must appear once appears more than once. 400 (502 when
    /// found in a response).
    #[error("duplicate {0} header")]
    DuplicateHeader(&'static str),
    /// A response without `Upgrade: websocket`. Client side, 502.
    ///
    /// A request without it is no error but [`Incoming::Plain`](super::Incoming::Plain).
    #[error("missing Upgrade: websocket")]
    MissingUpgrade,
    /// The `Connection` header lacks the token `Upgrade`. 400 (502 when found
    /// in a response).
    #[error("the Connection header lacks the Upgrade token")]
    MissingConnectionUpgrade,
    /// An upgrade request without `Sec-WebSocket-Version`. 426 with
    /// `Sec-WebSocket-Version: 13`.
    #[error("missing Sec-WebSocket-Version")]
    MissingVersion,
    /// An upgrade request for a version other than 13. 426 with
    /// `Sec-WebSocket-Version: 13`.
    #[error("unsupported Sec-WebSocket-Version, only 13 is")]
    UnsupportedVersion,
    /// An upgrade request without `Sec-WebSocket-Key`. 400.
    #[error("missing Sec-WebSocket-Key")]
    MissingKey,
    /// A `Sec-WebSocket-Key` that is not base64 of exactly 16 bytes. 400.
    #[error("Sec-WebSocket-Key is not base64 of 16 bytes")]
    BadKey,
    /// A `Sec-WebSocket-Protocol` that is not a list of unique tokens
    /// (request) or not one token (response). 400 (502 in a response).
    #[error("malformed Sec-WebSocket-Protocol")]
    BadProtocol,
    /// A `Sec-WebSocket-Extensions` that does not follow the grammar of
    /// RFC 6455 section 9.1. 400 (502 in a response).
    #[error("malformed Sec-WebSocket-Extensions")]
    BadExtension,
    /// The server answered with a status other than 101. Client side, 502.
    ///
    /// [`ClientHandshake::response`](super::ClientHandshake::response) still
    /// gives the parsed answer (a `Location`, a `WWW-Authenticate`).
    #[error("the server answered {0}, not 101")]
    UnexpectedStatus(u16),
    /// A 101 answer without `Sec-WebSocket-Accept`. Client side, 502.
    #[error("missing Sec-WebSocket-Accept")]
    MissingAccept,
    /// A `Sec-WebSocket-Accept` other than the one the key implies. Client
    /// side, 502.
    #[error("Sec-WebSocket-Accept does not match the key")]
    AcceptMismatch,
    /// The server chose a subprotocol the client did not offer. Client side,
    /// 502.
    #[error("the server chose subprotocol {0:?}, which was not offered")]
    UnofferedProtocol(String),
    /// The server named an extension the client did not offer. Client side,
    /// 502.
    #[error("the server chose extension {0:?}, which was not offered")]
    UnofferedExtension(String),
    /// The server's permessage-deflate answer is invalid or does not match
    /// the offer (RFC 7692 section 5). Client side, 502.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    #[error("permessage-deflate: {0}")]
    Deflate(crate::deflate::NegotiationError),
}

impl HandshakeError {
    /// The HTTP status a server answers this error with.
    ///
    /// 400 for a malformed request, 405 for a method other than GET, 426 for
    /// another WebSocket version, 431 for a header block over the limits.
    /// Errors only a client finds (in a server's response) give 502 Bad
    /// Gateway, the answer of a proxy relaying the handshake; a plain client
    /// sends nothing and closes.
    pub fn status(&self) -> u16 {
        use HandshakeError::*;
        match self {
            HeaderTooLarge { .. } | TooManyHeaders { .. } => 431,
            MethodNotGet => 405,
            MissingVersion | UnsupportedVersion => 426,
            MissingUpgrade
            | UnexpectedStatus(_)
            | MissingAccept
            | AcceptMismatch
            | UnofferedProtocol(_)
            | UnofferedExtension(_) => 502,
            #[cfg(feature = "deflate")]
            Deflate(_) => 502,
            Malformed(_)
            | HttpVersionTooOld
            | MissingHost
            | DuplicateHeader(_)
            | MissingConnectionUpgrade
            | MissingKey
            | BadKey
            | BadProtocol
            | BadExtension => 400,
        }
    }

    /// Writes the HTTP answer to this error, ready to send before closing.
    ///
    /// Always `Content-Type: text/plain; charset=utf-8`, `Content-Length`,
    /// and a `Connection` header with `close`; the body is this error's
    /// message and a newline. 405 adds `Allow: GET` (RFC 9110 section
    /// 15.5.6: the origin server "MUST generate an Allow header field").
    /// 426 adds `Sec-WebSocket-Version: 13` (RFC 6455 section 4.4: the server
    /// "MUST respond with a |Sec-WebSocket-Version| header field") and, as
    /// RFC 9110 section 15.5.22 asks of a 426, `Upgrade: websocket`, so its
    /// `Connection` header is `Upgrade, close`.
    ///
    /// ```
    /// use rfc6455::handshake::HandshakeError;
    ///
    /// let answer = String::from_utf8(HandshakeError::MethodNotGet.response()).unwrap();
    /// assert!(answer.starts_with("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"));
    /// ```
    pub fn response(&self) -> Vec<u8> {
        let extra: &[(&str, &str)] = match self.status() {
            405 => &[("Allow", "GET")],
            426 => &[("Sec-WebSocket-Version", "13"), ("Upgrade", "websocket")],
            _ => &[],
        };
        let connection = if self.status() == 426 {
            "Upgrade, close"
        } else {
            "close"
        };
        let mut headers: Vec<(&str, &str)> = extra.to_vec();
        headers.push(("Content-Type", "text/plain; charset=utf-8"));
        let body = format!("{self}\n");
        write_response(self.status(), &headers, body.as_bytes(), connection)
    }
}

/// The caller asked for something the handshake cannot write.
///
/// These are the application's mistakes, found while building a request or a
/// response, not the peer's; nothing is sent for them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The URL is not a valid `ws://` or `wss://` URL (RFC 6455 section 3).
    #[error("invalid WebSocket URL: {0}")]
    InvalidUrl(&'static str),
    /// A header name that is not an HTTP token.
    #[error("invalid header name {0:?}")]
    InvalidHeaderName(String),
    /// A header value with CR, LF or another control character.
    #[error("invalid value for header {0:?}")]
    InvalidHeaderValue(String),
    /// A header the handshake writes itself (`Upgrade`, `Connection`,
    /// `Sec-WebSocket-*`, `Content-Length`...); use the builder method, if
    /// there is one.
    #[error("header {0:?} is written by the handshake")]
    ReservedHeader(String),
    /// A subprotocol that is not a token, or offered twice.
    #[error("invalid subprotocol {0:?}")]
    InvalidProtocol(String),
    /// [`Accept::protocol`](super::Accept::protocol) named a subprotocol the
    /// client did not offer (RFC 6455 section 4.2.2: it "MUST be derived from
    /// the client's handshake").
    #[error("subprotocol {0:?} was not offered by the client")]
    ProtocolNotOffered(String),
    /// `Accept::deflate` (feature `deflate`) answered an extension
    /// the client did not offer (RFC 6455 section 9.1).
    #[error("extension {0:?} was not offered by the client")]
    ExtensionNotOffered(&'static str),
    /// A response status outside 200..=599.
    #[error("status {0} cannot be written here")]
    InvalidStatus(u16),
    /// A body given with a status that has none (204, 304).
    #[error("status {0} has no body")]
    BodyNotAllowed(u16),
    /// The system's random number generator failed.
    #[error("no randomness for the key: {0}")]
    Entropy(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(HandshakeError::Malformed("x").status(), 400);
        assert_eq!(HandshakeError::HeaderTooLarge { limit: 1 }.status(), 431);
        assert_eq!(HandshakeError::TooManyHeaders { limit: 1 }.status(), 431);
        assert_eq!(HandshakeError::MethodNotGet.status(), 405);
        assert_eq!(HandshakeError::UnsupportedVersion.status(), 426);
        assert_eq!(HandshakeError::MissingVersion.status(), 426);
        assert_eq!(HandshakeError::UnexpectedStatus(404).status(), 502);
    }

    #[test]
    fn upgrade_required_response() {
        let text = String::from_utf8(HandshakeError::UnsupportedVersion.response()).unwrap();
        let body = "unsupported Sec-WebSocket-Version, only 13 is\n";
        assert_eq!(
            text,
            format!(
                "HTTP/1.1 426 Upgrade Required\r\n\
                 Sec-WebSocket-Version: 13\r\n\
                 Upgrade: websocket\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\
                 Content-Length: {}\r\n\
                 Connection: Upgrade, close\r\n\
                 \r\n{body}",
                body.len()
            )
        );
    }

    #[test]
    fn bad_request_response() {
        let text = String::from_utf8(HandshakeError::BadKey.response()).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(text.contains("\r\nConnection: close\r\n\r\n"));
    }
}
