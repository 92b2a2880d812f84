//! The server role: read the client's request (RFC 6455 section 4.2.1).

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::extensions::parse_bytes;
use super::head::{
    HeadReader, Headers, has_token, is_token, list_items, map_httparse, trim, with_header_slots,
};
use super::{Extension, HandshakeError, HttpRequest, Limits, Status, UpgradeRequest};

/// What a complete request turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A valid WebSocket upgrade request: accept or reject it.
    Upgrade(UpgradeRequest),
    /// A request that does not ask for `Upgrade: websocket` (a plain
    /// `GET /`, a `POST`...): answer it as ordinary HTTP, with
    /// [`plain_response`](super::plain_response) for instance.
    Plain(HttpRequest),
}

/// The server side of the opening handshake: bytes in, a request out.
///
/// Feed each chunk that arrives to [`receive`](Self::receive) until it gives
/// [`Status::Complete`]; see the [module docs](super) for the whole sequence.
/// It buffers at most [`Limits::max_header_bytes`] bytes of the header block
/// ([`buffered_len`](Self::buffered_len)); bytes after the block are kept as
/// the [`leftover`](Self::leftover), for the connection.
#[derive(Debug)]
pub struct ServerHandshake {
    limits: Limits,
    reader: HeadReader,
    /// The complete header block, once there is one: the request is parsed
    /// from it again only if bytes are fed after `Complete`, so that the
    /// handshake never holds a second copy of the request it gave.
    head: Option<Vec<u8>>,
    failed: Option<HandshakeError>,
    leftover: Vec<u8>,
}

impl ServerHandshake {
    /// A handshake waiting for the client's request.
    pub fn new(limits: Limits) -> Self {
        ServerHandshake {
            limits,
            reader: HeadReader::new(limits),
            head: None,
            failed: None,
            leftover: Vec::new(),
        }
    }

    /// Feeds bytes that arrived, in order, in pieces of any size.
    ///
    /// Gives [`Status::Partial`] until the blank line that ends the header
    /// block, then the parsed request. An error is the client's broken rule;
    /// send its [`response`](HandshakeError::response) and close. Errors are
    /// sticky. After `Complete`, further bytes are appended to the leftover
    /// and the same request is given again.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Status<Incoming>, HandshakeError> {
        if let Some(head) = &self.head {
            self.leftover.extend_from_slice(bytes);
            return parse_request(head, &self.limits).map(Status::Complete);
        }
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        // The head is parsed once, by the probe that found its end.
        let Some((http, head, rest)) = self.reader.push(bytes, probe)? else {
            return Ok(Status::Partial);
        };
        let incoming = check_request(http).inspect_err(|error| {
            self.failed = Some(error.clone());
        })?;
        self.leftover = rest;
        self.head = Some(head);
        Ok(Status::Complete(incoming))
    }

    /// Bytes of the unfinished header block held so far; never more than
    /// [`Limits::max_header_bytes`], and 0 once the block is complete or has
    /// failed. The leftover is not counted.
    pub fn buffered_len(&self) -> usize {
        self.reader.buffered_len()
    }

    /// Whether a request was completed.
    pub fn is_complete(&self) -> bool {
        self.head.is_some()
    }

    /// The bytes that came after the header block: the first frames of the
    /// client, or the start of a plain request's body. Empty before `Complete`.
    pub fn leftover(&self) -> &[u8] {
        &self.leftover
    }

    /// Takes the leftover, to feed the connection.
    pub fn into_leftover(self) -> Vec<u8> {
        self.leftover
    }
}

/// Parses a prefix of the header block: `None` while it is unfinished, else
/// its length and the request in it.
fn probe(buf: &[u8], limits: &Limits) -> Result<Option<(usize, HttpRequest)>, HandshakeError> {
    with_header_slots(limits, |slots| {
        let mut request = httparse::Request::new(&mut []);
        let head_len = match request.parse_with_uninit_headers(buf, slots) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(map_httparse(e, limits)),
        };
        let (Some(method), Some(target), Some(minor_version)) =
            (request.method, request.path, request.version)
        else {
            return Err(HandshakeError::Malformed("incomplete request line"));
        };
        let http = HttpRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            minor_version,
            headers: Headers::from_httparse(request.headers),
            head_len,
        };
        Ok(Some((head_len, http)))
    })
}

/// Parses a whole header block and applies the WebSocket rules.
fn parse_request(head: &[u8], limits: &Limits) -> Result<Incoming, HandshakeError> {
    match probe(head, limits)? {
        Some((_, http)) => check_request(http),
        None => Err(HandshakeError::Malformed("incomplete")),
    }
}

/// Applies the rules of section 4.2.1 to a parsed HTTP/1.x request: the
/// bytes path above and the `http` conversions share it.
pub(crate) fn check_request(http: HttpRequest) -> Result<Incoming, HandshakeError> {
    let seen = Seen::of(&http.headers);

    // Section 4.2.1, item 3: "An |Upgrade| header field containing the value
    // "websocket", treated as an ASCII case-insensitive value." A request
    // without it is no WebSocket handshake at all, but plain HTTP.
    if !seen.upgrade_websocket {
        return Ok(Incoming::Plain(http));
    }
    // Section 4.1: "The method of the request MUST be GET".
    if http.method != "GET" {
        return Err(HandshakeError::MethodNotGet);
    }
    // Section 4.1: "and the HTTP version MUST be at least 1.1."
    if http.minor_version < 1 {
        return Err(HandshakeError::HttpVersionTooOld);
    }
    // Section 4.1: "The request MUST contain a |Host| header field". Two are
    // ambiguous: RFC 9110 section 7.2 answers them with 400 too.
    match seen.hosts {
        0 => return Err(HandshakeError::MissingHost),
        1 => {}
        _ => return Err(HandshakeError::DuplicateHeader("Host")),
    }
    // Section 4.1: "The request MUST contain a |Connection| header field whose
    // value MUST include the "Upgrade" token."
    if !seen.connection_upgrade {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    // The version is checked before the key, so that a client of another version (which may
    // send no key) learns which version to use from the 426.
    version_is_13(seen.versions, seen.version)?;
    // Section 4.2.1, item 5: "A |Sec-WebSocket-Key| header field with a
    // base64-encoded ... value that, when decoded, is 16 bytes in length."
    let key = match (seen.keys, seen.key) {
        (1, Some(key)) => trim(key),
        (0, _) => return Err(HandshakeError::MissingKey),
        _ => return Err(HandshakeError::DuplicateHeader("Sec-WebSocket-Key")),
    };
    // 24 characters decode to at most 18 bytes: on the stack.
    if key.len() != 24 || !matches!(STANDARD.decode_slice(key, &mut [0; 18]), Ok(16)) {
        return Err(HandshakeError::BadKey);
    }
    // Valid base64, so ASCII.
    let key = core::str::from_utf8(key)
        .map_err(|_| HandshakeError::BadKey)?
        .to_owned();
    let (protocols, extensions) = if seen.offers {
        offers(&http.headers)?
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Incoming::Upgrade(UpgradeRequest {
        http,
        key,
        protocols,
        extensions,
    }))
}

/// What section 4.2.1 looks at in the header fields, gathered in one pass
/// (a lookup per rule would walk them all each time).
#[derive(Default)]
struct Seen<'a> {
    upgrade_websocket: bool,
    hosts: usize,
    connection_upgrade: bool,
    versions: usize,
    version: Option<&'a [u8]>,
    keys: usize,
    key: Option<&'a [u8]>,
    /// Any `Sec-WebSocket-Protocol` or `Sec-WebSocket-Extensions`.
    offers: bool,
}

impl<'a> Seen<'a> {
    fn of(headers: &'a Headers) -> Self {
        let mut seen = Seen::default();
        for (name, value) in headers.fields() {
            let is = |wanted: &str| name.eq_ignore_ascii_case(wanted.as_bytes());
            if is("Upgrade") {
                seen.upgrade_websocket |= has_token(value, "websocket");
            } else if is("Host") {
                seen.hosts += 1;
            } else if is("Connection") {
                seen.connection_upgrade |= has_token(value, "Upgrade");
            } else if is("Sec-WebSocket-Version") {
                seen.versions += 1;
                seen.version.get_or_insert(value);
            } else if is("Sec-WebSocket-Key") {
                seen.keys += 1;
                seen.key.get_or_insert(value);
            } else if is("Sec-WebSocket-Protocol") || is("Sec-WebSocket-Extensions") {
                seen.offers = true;
            }
        }
        seen
    }
}

/// Section 4.1: "The request MUST include a header field with the name
/// |Sec-WebSocket-Version|. The value of this header field MUST be 13." RFC
/// 8441 section 5 keeps the rule for HTTP/2.
#[cfg(feature = "http")]
pub(crate) fn check_version(h: &Headers) -> Result<(), HandshakeError> {
    version_is_13(
        h.count("Sec-WebSocket-Version"),
        h.first("Sec-WebSocket-Version"),
    )
}

/// [`check_version`] on the fields' count and first value.
fn version_is_13(count: usize, first: Option<&[u8]>) -> Result<(), HandshakeError> {
    match count {
        0 => Err(HandshakeError::MissingVersion),
        1 if first.map(trim) == Some(b"13") => Ok(()),
        _ => Err(HandshakeError::UnsupportedVersion),
    }
}

/// The offered subprotocols and extensions, checked; RFC 8441 section 5
/// keeps both headers for HTTP/2.
pub(crate) fn offers(h: &Headers) -> Result<(Vec<String>, Vec<Extension>), HandshakeError> {
    // Section 4.1, item 10: the elements "MUST be non-empty strings with
    // characters in the range U+0021 to U+007E not including separator
    // characters ... and MUST all be unique strings."
    let mut protocols: Vec<String> = Vec::new();
    for item in list_items(h.all("Sec-WebSocket-Protocol")) {
        if !is_token(item) || protocols.iter().any(|p| p.as_bytes() == item) {
            return Err(HandshakeError::BadProtocol);
        }
        protocols.push(String::from_utf8_lossy(item).into_owned());
    }
    // Section 4.2.1: violations "of the ABNF grammar specified for the
    // components of the handshake" are answered with an error code.
    let mut extensions = Vec::new();
    for value in h.all("Sec-WebSocket-Extensions") {
        extensions.extend(parse_bytes(value)?);
    }
    Ok((protocols, extensions))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &[u8] = b"GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn upgrade(bytes: &[u8]) -> UpgradeRequest {
        match ServerHandshake::new(Limits::default()).receive(bytes) {
            Ok(Status::Complete(Incoming::Upgrade(request))) => request,
            other => panic!("not an upgrade: {other:?}"),
        }
    }

    fn error(bytes: &[u8]) -> HandshakeError {
        ServerHandshake::new(Limits::default())
            .receive(bytes)
            .unwrap_err()
    }

    fn replace(from: &str, to: &str) -> Vec<u8> {
        String::from_utf8(VALID.to_vec())
            .unwrap()
            .replace(from, to)
            .into_bytes()
    }

    #[test]
    fn the_rfc_example_parses() {
        let request = upgrade(VALID);
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(request.protocols(), ["chat", "superchat"]);
        assert_eq!(request.origin(), Some("http://example.com"));
        assert_eq!(request.http().head_len(), VALID.len());
    }

    #[test]
    fn tokens_in_lists_and_any_case() {
        let bytes = replace("Connection: Upgrade", "connection: keep-alive, UPGRADE");
        let bytes = String::from_utf8(bytes)
            .unwrap()
            .replace("Upgrade: websocket", "upgrade: h2c, WebSocket");
        upgrade(bytes.as_bytes());
    }

    #[test]
    fn each_rule() {
        assert_eq!(error(&replace("GET", "POST")), HandshakeError::MethodNotGet);
        assert_eq!(
            error(&replace("HTTP/1.1", "HTTP/1.0")),
            HandshakeError::HttpVersionTooOld
        );
        assert_eq!(
            error(&replace("Host: server.example.com\r\n", "")),
            HandshakeError::MissingHost
        );
        assert_eq!(
            error(&replace("Host: s", "Host: a\r\nHost: s")),
            HandshakeError::DuplicateHeader("Host")
        );
        assert_eq!(
            error(&replace("Connection: Upgrade", "Connection: keep-alive")),
            HandshakeError::MissingConnectionUpgrade
        );
        assert_eq!(
            error(&replace("Sec-WebSocket-Version: 13\r\n", "")),
            HandshakeError::MissingVersion
        );
        assert_eq!(
            error(&replace("Version: 13", "Version: 8")),
            HandshakeError::UnsupportedVersion
        );
        assert_eq!(
            error(&replace(
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                ""
            )),
            HandshakeError::MissingKey
        );
        assert_eq!(
            error(&replace(
                "dGhlIHNhbXBsZSBub25jZQ==",
                "dGhlIHNhbXBsZSBub25jZQ"
            )),
            HandshakeError::BadKey
        );
        assert_eq!(
            error(&replace("chat, superchat", "chat, chat")),
            HandshakeError::BadProtocol
        );
        assert_eq!(
            error(&replace(
                "Origin",
                "Sec-WebSocket-Extensions: a;;\r\nOrigin"
            )),
            HandshakeError::BadExtension
        );
    }

    #[test]
    fn plain_request_is_not_an_error() {
        let mut server = ServerHandshake::new(Limits::default());
        let status =
            server.receive(b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc");
        let Ok(Status::Complete(Incoming::Plain(request))) = status else {
            panic!("{status:?}");
        };
        assert_eq!(request.method(), "POST");
        assert_eq!(server.leftover(), b"abc");
    }

    #[test]
    fn too_many_headers() {
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        let status = ServerHandshake::new(limits).receive(VALID);
        assert_eq!(status, Err(HandshakeError::TooManyHeaders { limit: 2 }));
    }

    #[test]
    fn bytes_after_complete_go_to_the_leftover() {
        let mut server = ServerHandshake::new(Limits::default());
        let mut input = VALID.to_vec();
        input.extend_from_slice(b"ab");
        let first = server.receive(&input).unwrap();
        assert!(first.is_complete());
        // The same request again, parsed from the kept head.
        assert_eq!(server.receive(b"cd").unwrap(), first);
        assert_eq!(server.into_leftover(), b"abcd");
    }

    #[test]
    fn header_slots_on_the_stack_and_on_the_heap() {
        let with_fields = |count: usize| {
            let extra: String = (0..count).map(|i| format!("X-{i}: v\r\n")).collect();
            replace("Origin:", &format!("{extra}Origin:"))
        };
        // VALID has 7 fields.
        let at_default = with_fields(Limits::DEFAULT_MAX_HEADERS - 7);
        assert_eq!(upgrade(&at_default).headers().count(), 64);
        assert_eq!(
            error(&with_fields(Limits::DEFAULT_MAX_HEADERS - 6)),
            HandshakeError::TooManyHeaders { limit: 64 }
        );
        let limits = Limits {
            max_headers: 100,
            ..Limits::default()
        };
        let many = with_fields(100 - 7);
        let status = ServerHandshake::new(limits).receive(&many);
        let Ok(Status::Complete(Incoming::Upgrade(request))) = status else {
            panic!("{status:?}");
        };
        assert_eq!(request.headers().count(), 100);
        assert_eq!(request.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        let too_many = with_fields(100 - 6);
        assert_eq!(
            ServerHandshake::new(limits).receive(&too_many),
            Err(HandshakeError::TooManyHeaders { limit: 100 })
        );
    }
}
