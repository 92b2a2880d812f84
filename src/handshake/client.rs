//! The client role: write the request (RFC 6455 section 4.1) and check the
//! server's answer.

use alloc::borrow::ToOwned;
use alloc::string::String;
#[cfg(feature = "getrandom")]
use alloc::string::ToString;
use alloc::vec::Vec;
use alloc::{format, vec};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::extensions::parse_bytes;
use super::head::{HeadReader, Headers, is_token, map_httparse, trim};
use super::response::{check_headers, push_headers};
use super::{
    BuildError, ClientRequest, Extension, HandshakeError, Limits, Status, accept_key,
    parse_extensions,
};
use crate::keys::KeySource;

/// The server's 101 answer, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    reason: String,
    headers: Headers,
    protocol: Option<String>,
    extensions: Vec<Extension>,
    head_len: usize,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateParams>,
}

impl Response {
    /// The status code: 101 in a completed handshake.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase, as sent.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The subprotocol the server chose, one of those offered; `None` if it
    /// chose none.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The extensions the server chose, each one the client offered.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The permessage-deflate parameters agreed, checked against the offer
    /// of [`ClientRequest::deflate`]; `None` when it was not offered or the
    /// server declined it. Pass them to
    /// [`Connection::with_deflate`](crate::Connection::with_deflate).
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn deflate(&self) -> Option<crate::deflate::DeflateParams> {
        self.deflate
    }

    /// The first value of header `name` (ASCII case-insensitive), trimmed;
    /// `None` when absent or not UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        core::str::from_utf8(self.headers.first(name)?).ok()
    }

    /// Every header as `(name, value)`, in the order received (a
    /// `Set-Cookie` may come several times).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter()
    }

    /// The length of the header block, blank line included.
    pub fn head_len(&self) -> usize {
        self.head_len
    }
}

/// The client side of the opening handshake: a request out, bytes in, a
/// checked response out.
///
/// Send [`request_bytes`](Self::request_bytes), then feed what arrives to
/// [`receive`](Self::receive) until [`Status::Complete`]; see the
/// [module docs](super) for the whole sequence.
#[derive(Debug)]
pub struct ClientHandshake {
    request: ClientRequest,
    key: String,
    expected_accept: String,
    offered_extensions: Vec<String>,
    bytes: Vec<u8>,
    reader: HeadReader,
    response: Option<Response>,
    done: bool,
    failed: Option<HandshakeError>,
    leftover: Vec<u8>,
}

impl ClientHandshake {
    /// Builds the request with a fresh random key: "The nonce MUST be
    /// selected randomly for each connection" (section 4.1, item 7). The
    /// 16 bytes come from the system's generator (`getrandom`). Needs the
    /// feature `getrandom` (in `std`); without it, use
    /// [`with_key_source`](Self::with_key_source).
    #[cfg(feature = "getrandom")]
    #[cfg_attr(docsrs, doc(cfg(feature = "getrandom")))]
    pub fn new(request: ClientRequest) -> Result<Self, BuildError> {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key).map_err(|e| BuildError::Entropy(e.to_string()))?;
        Self::with_key(request, key)
    }

    /// Builds the request with a fresh key of 16 bytes drawn from `keys`,
    /// four calls to [`KeySource::next_key`]: the same source that masks the
    /// connection's frames, such as a hardware random number generator.
    ///
    /// ```
    /// use rfc6455::handshake::{ClientHandshake, ClientRequest};
    ///
    /// # fn hardware_rng() -> u32 { 0x9e37_79b9 }
    /// // `hardware_rng` stands for the target's true random number generator.
    /// let mut keys = || hardware_rng().to_ne_bytes();
    /// let request = ClientRequest::new("ws://192.168.1.10/telemetry")?;
    /// let client = ClientHandshake::with_key_source(request, &mut keys)?;
    /// assert!(client.request_bytes().starts_with(b"GET /telemetry HTTP/1.1\r\n"));
    /// # Ok::<(), rfc6455::handshake::BuildError>(())
    /// ```
    pub fn with_key_source(
        request: ClientRequest,
        keys: &mut (impl KeySource + ?Sized),
    ) -> Result<Self, BuildError> {
        let mut key = [0u8; 16];
        crate::keys::fill(keys, &mut key);
        Self::with_key(request, key)
    }

    /// Builds the request with the given key bytes. For deterministic tests
    /// only: a real client must use `new` (feature `getrandom`) or
    /// [`with_key_source`](Self::with_key_source).
    pub fn with_key(request: ClientRequest, key: [u8; 16]) -> Result<Self, BuildError> {
        for (i, protocol) in request.protocols.iter().enumerate() {
            // Section 4.1, item 10: the elements "MUST be non-empty strings
            // with characters in the range U+0021 to U+007E not including
            // separator characters ... and MUST all be unique strings."
            if !is_token(protocol.as_bytes()) || request.protocols[..i].contains(protocol) {
                return Err(BuildError::InvalidProtocol(protocol.clone()));
            }
        }
        check_headers(&request.headers, |name| {
            let lower = name.to_ascii_lowercase();
            (lower.starts_with("sec-websocket-") && lower != "sec-websocket-extensions")
                || [
                    "host",
                    "upgrade",
                    "connection",
                    "origin",
                    "content-length",
                    "transfer-encoding",
                ]
                .contains(&lower.as_str())
        })?;
        let origin = request
            .origin
            .clone()
            .map(|o| vec![("Origin".to_owned(), o)]);
        check_headers(origin.as_deref().unwrap_or_default(), |_| false)?;
        let mut offered_extensions = Vec::new();
        #[cfg(feature = "deflate")]
        let deflate_offer = request.deflate.as_ref().map(crate::deflate::offer);
        #[cfg(feature = "deflate")]
        if deflate_offer.is_some() {
            offered_extensions.push(crate::deflate::EXTENSION_NAME.to_owned());
        }
        for (name, value) in &request.headers {
            if name.eq_ignore_ascii_case("Sec-WebSocket-Extensions") {
                let offers = parse_extensions(value)
                    .map_err(|_| BuildError::InvalidHeaderValue(name.clone()))?;
                offered_extensions.extend(offers.into_iter().map(|e| e.name().to_owned()));
            }
        }

        let key = STANDARD.encode(key);
        let expected_accept = accept_key(key.as_bytes());
        let mut bytes = format!("GET {} HTTP/1.1\r\n", request.resource).into_bytes();
        push_headers(
            &mut bytes,
            &[
                ("Host", &request.host_header),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", &key),
                ("Sec-WebSocket-Version", "13"),
            ],
        );
        if !request.protocols.is_empty() {
            push_headers(
                &mut bytes,
                &[("Sec-WebSocket-Protocol", &request.protocols.join(", "))],
            );
        }
        if let Some(origin) = &request.origin {
            push_headers(&mut bytes, &[("Origin", origin)]);
        }
        #[cfg(feature = "deflate")]
        if let Some(offer) = &deflate_offer {
            push_headers(&mut bytes, &[("Sec-WebSocket-Extensions", offer)]);
        }
        for (name, value) in &request.headers {
            push_headers(&mut bytes, &[(name, value)]);
        }
        bytes.extend_from_slice(b"\r\n");
        Ok(ClientHandshake {
            reader: HeadReader::new(request.limits),
            request,
            key,
            expected_accept,
            offered_extensions,
            bytes,
            response: None,
            done: false,
            failed: None,
            leftover: Vec::new(),
        })
    }

    /// The request to send, whole.
    pub fn request_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The request this handshake was built from.
    pub fn request(&self) -> &ClientRequest {
        &self.request
    }

    /// The `Sec-WebSocket-Key` sent (base64 text).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The `Sec-WebSocket-Accept` the server must answer with.
    pub fn expected_accept(&self) -> &str {
        &self.expected_accept
    }

    /// Feeds the server's answer, in order, in pieces of any size.
    ///
    /// Gives [`Status::Partial`] until the blank line, then the checked
    /// [`Response`]. Any error means the client must close the connection;
    /// errors are sticky. After `Complete`, further bytes are appended to the
    /// leftover and the same response is given again.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Status<Response>, HandshakeError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if let (true, Some(response)) = (self.done, &self.response) {
            self.leftover.extend_from_slice(bytes);
            return Ok(Status::Complete(response.clone()));
        }
        let Some(((), head, rest)) = self.reader.push(bytes, probe)? else {
            return Ok(Status::Partial);
        };
        self.leftover = rest;
        match self.check(&head) {
            Ok(response) => {
                self.done = true;
                self.response = Some(response.clone());
                Ok(Status::Complete(response))
            }
            Err(error) => {
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    fn check(&mut self, head: &[u8]) -> Result<Response, HandshakeError> {
        let limits = self.request.limits;
        let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
        let mut parsed = httparse::Response::new(&mut headers);
        let head_len = match parsed.parse(head) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Err(HandshakeError::Malformed("incomplete")),
            Err(e) => return Err(map_httparse(e, &limits)),
        };
        let status = parsed.code.unwrap_or(0);
        let mut response = Response {
            status,
            reason: parsed.reason.unwrap_or("").to_owned(),
            headers: Headers::from_httparse(parsed.headers),
            protocol: None,
            extensions: Vec::new(),
            head_len,
            #[cfg(feature = "deflate")]
            deflate: None,
        };
        if status != 101 {
            // Section 4.1: "If the status code received from the server is
            // not 101, the client handles the response per HTTP procedures."
            self.response = Some(response);
            return Err(HandshakeError::UnexpectedStatus(status));
        }
        let h = &response.headers;
        // Section 4.1, step 2: "If the response lacks an |Upgrade| header
        // field or the |Upgrade| header field contains a value that is not an
        // ASCII case-insensitive match for the value "websocket", the client
        // MUST _Fail the WebSocket Connection_."
        if !h.has_token("Upgrade", "websocket") {
            return Err(HandshakeError::MissingUpgrade);
        }
        // Step 3: "If the response lacks a |Connection| header field or the
        // |Connection| header field doesn't contain a token that is an ASCII
        // case-insensitive match for the value "Upgrade", the client MUST
        // _Fail the WebSocket Connection_."
        if !h.has_token("Connection", "Upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        // Step 4: if |Sec-WebSocket-Accept| is missing or "contains a value
        // other than the base64-encoded SHA-1 of the concatenation ... but
        // ignoring any leading and trailing whitespace, the client MUST
        // _Fail the WebSocket Connection_."
        match h.count("Sec-WebSocket-Accept") {
            0 => return Err(HandshakeError::MissingAccept),
            1 => {}
            _ => return Err(HandshakeError::DuplicateHeader("Sec-WebSocket-Accept")),
        }
        if h.first("Sec-WebSocket-Accept").map(trim) != Some(self.expected_accept.as_bytes()) {
            return Err(HandshakeError::AcceptMismatch);
        }
        // Step 5: an extension "that was not present in the client's
        // handshake ... the client MUST _Fail the WebSocket Connection_."
        for value in h.all("Sec-WebSocket-Extensions") {
            for extension in parse_bytes(value)? {
                let offered = self.offered_extensions.iter();
                if !offered
                    .clone()
                    .any(|o| o.eq_ignore_ascii_case(extension.name()))
                {
                    return Err(HandshakeError::UnofferedExtension(
                        extension.name().to_owned(),
                    ));
                }
                response.extensions.push(extension);
            }
        }
        // RFC 7692 section 5: a client that finds the answer invalid fails
        // the WebSocket connection.
        #[cfg(feature = "deflate")]
        if let Some(config) = &self.request.deflate {
            use crate::deflate::{EXTENSION_NAME, NegotiationError, check_answer};
            let mut answers = response
                .extensions
                .iter()
                .filter(|e| e.name().eq_ignore_ascii_case(EXTENSION_NAME));
            if let Some(answer) = answers.next() {
                if answers.next().is_some() {
                    return Err(HandshakeError::Deflate(NegotiationError::RepeatedExtension));
                }
                let params = check_answer(answer.params(), config);
                response.deflate = Some(params.map_err(HandshakeError::Deflate)?);
            }
        }
        // Step 6: "a subprotocol that was not present in the client's
        // handshake ... the client MUST _Fail the WebSocket Connection_." The
        // server's value is one token (section 4.3, Sec-WebSocket-Protocol-Server).
        let h = &response.headers;
        let protocol = match h.count("Sec-WebSocket-Protocol") {
            0 => None,
            1 => h.first("Sec-WebSocket-Protocol").map(trim),
            _ => return Err(HandshakeError::DuplicateHeader("Sec-WebSocket-Protocol")),
        };
        if let Some(protocol) = protocol {
            if !is_token(protocol) {
                return Err(HandshakeError::BadProtocol);
            }
            let protocol = String::from_utf8_lossy(protocol).into_owned();
            if !self.request.protocols.contains(&protocol) {
                return Err(HandshakeError::UnofferedProtocol(protocol));
            }
            response.protocol = Some(protocol);
        }
        Ok(response)
    }

    /// The parsed answer: the checked 101 after `Complete`, or the other
    /// answer after [`HandshakeError::UnexpectedStatus`] (to read a
    /// `Location` or `WWW-Authenticate`; its body starts in the leftover).
    pub fn response(&self) -> Option<&Response> {
        self.response.as_ref()
    }

    /// Bytes of the unfinished response head held so far; never more than
    /// [`Limits::max_header_bytes`].
    pub fn buffered_len(&self) -> usize {
        self.reader.buffered_len()
    }

    /// The bytes that came after the response head: the server's first
    /// frames. Empty before the head is complete.
    pub fn leftover(&self) -> &[u8] {
        &self.leftover
    }

    /// Takes the leftover, to feed the connection.
    pub fn into_leftover(self) -> Vec<u8> {
        self.leftover
    }
}

fn probe(buf: &[u8], limits: &Limits) -> Result<Option<(usize, ())>, HandshakeError> {
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    match httparse::Response::new(&mut headers).parse(buf) {
        Ok(httparse::Status::Complete(n)) => Ok(Some((n, ()))),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(map_httparse(e, limits)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_builder_input() {
        let r = || ClientRequest::new("ws://h/").unwrap();
        let key = [0; 16];
        assert_eq!(
            ClientHandshake::with_key(r().protocol("a b"), key).unwrap_err(),
            BuildError::InvalidProtocol("a b".into())
        );
        assert_eq!(
            ClientHandshake::with_key(r().protocol("a").protocol("a"), key).unwrap_err(),
            BuildError::InvalidProtocol("a".into())
        );
        assert_eq!(
            ClientHandshake::with_key(r().header("Host", "x"), key).unwrap_err(),
            BuildError::ReservedHeader("Host".into())
        );
        assert_eq!(
            ClientHandshake::with_key(r().origin("a\nb"), key).unwrap_err(),
            BuildError::InvalidHeaderValue("Origin".into())
        );
        assert_eq!(
            ClientHandshake::with_key(r().header("Sec-WebSocket-Extensions", "a;"), key)
                .unwrap_err(),
            BuildError::InvalidHeaderValue("Sec-WebSocket-Extensions".into())
        );
    }

    #[test]
    fn request_bytes_exact() {
        let request = ClientRequest::new("ws://server.example.com/chat")
            .unwrap()
            .protocol("chat")
            .protocol("superchat")
            .origin("http://example.com")
            .header("Authorization", "Bearer t");
        let client = ClientHandshake::with_key(request, *b"the sample nonce").unwrap();
        assert_eq!(
            client.request_bytes(),
            &b"GET /chat HTTP/1.1\r\n\
               Host: server.example.com\r\n\
               Upgrade: websocket\r\n\
               Connection: Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
               Sec-WebSocket-Version: 13\r\n\
               Sec-WebSocket-Protocol: chat, superchat\r\n\
               Origin: http://example.com\r\n\
               Authorization: Bearer t\r\n\r\n"[..]
        );
        assert_eq!(client.expected_accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[cfg(feature = "getrandom")]
    #[test]
    fn random_keys_differ() {
        let r = || ClientRequest::new("ws://h/").unwrap();
        let a = ClientHandshake::new(r()).unwrap();
        let b = ClientHandshake::new(r()).unwrap();
        assert_ne!(a.key(), b.key());
        assert_eq!(STANDARD.decode(a.key()).unwrap().len(), 16);
    }

    #[test]
    fn the_nonce_is_four_keys_from_the_source() {
        let mut next = 0u8;
        let mut keys = || {
            next += 1;
            [next, next, next, next]
        };
        let request = ClientRequest::new("ws://h/").unwrap();
        let client = ClientHandshake::with_key_source(request, &mut keys).unwrap();
        assert_eq!(
            STANDARD.decode(client.key()).unwrap(),
            [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]
        );
        // A second handshake draws the next four.
        let request = ClientRequest::new("ws://h/").unwrap();
        let again = ClientHandshake::with_key_source(request, &mut keys).unwrap();
        assert_ne!(client.key(), again.key());
    }
}
