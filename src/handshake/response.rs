//! Writing answers: the 101 of an accepted upgrade ([`Accept`]), any other
//! answer ([`Reject`], [`plain_response`]).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::accept::accept_key_bytes;
use super::head::{is_field_value, is_token};
use super::{BuildError, UpgradeRequest};

/// The application's terms for accepting an upgrade: at most one subprotocol
/// and any extra headers (`Set-Cookie`, say).
///
/// ```
/// use rfc6455::handshake::Accept;
///
/// let accept = Accept::new().protocol("chat").header("Set-Cookie", "id=1");
/// # let _ = accept;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accept {
    protocol: Option<String>,
    headers: Vec<(String, String)>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateParams>,
}

impl Accept {
    /// Accept with no subprotocol and no extra header.
    pub fn new() -> Self {
        Accept::default()
    }

    /// Chooses the subprotocol; it must be one the client offered, which
    /// [`UpgradeRequest::accept`] checks. A later call replaces an earlier
    /// one: at most one subprotocol is chosen.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Accepts permessage-deflate with the parameters
    /// [`UpgradeRequest::negotiate_deflate`] chose: the answer carries them in
    /// `Sec-WebSocket-Extensions`. `None` answers no extension.
    ///
    /// ```
    /// use rfc6455::deflate::DeflateConfig;
    /// use rfc6455::handshake::{Accept, Incoming, Limits, ServerHandshake, Status};
    ///
    /// let mut server = ServerHandshake::new(Limits::default());
    /// let Status::Complete(Incoming::Upgrade(request)) = server.receive(
    ///     b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    ///       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
    ///       Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    /// )? else {
    ///     panic!("an upgrade");
    /// };
    /// let agreed = request.negotiate_deflate(&DeflateConfig::default().server_no_context_takeover(true));
    /// let answer = request.accept(Accept::new().deflate(agreed))?;
    /// assert!(String::from_utf8(answer)?
    ///     .contains("\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn deflate(mut self, params: Option<crate::deflate::DeflateParams>) -> Self {
        self.deflate = params;
        self
    }

    /// Adds a header to the 101 answer. The handshake's own headers
    /// (`Upgrade`, `Connection`, `Sec-WebSocket-*`, `Content-Length`,
    /// `Transfer-Encoding`) are refused with [`BuildError::ReservedHeader`].
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Any answer but 101: a rejection of an upgrade (401, 403, 404, a 3xx
/// redirect...) or the answer to a plain request.
///
/// The written answer always ends its headers with `Content-Length` (except
/// for 204 and 304, which have no body) and `Connection: close`: the
/// handshake is over and the connection should be closed after sending.
///
/// ```
/// use rfc6455::handshake::Reject;
///
/// let bytes = Reject::new(403).header("X-Why", "origin").body("no").into_bytes().unwrap();
/// assert_eq!(
///     bytes,
///     b"HTTP/1.1 403 Forbidden\r\nX-Why: origin\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reject {
    /// An answer with `status`, which must be in 200..=599.
    pub fn new(status: u16) -> Self {
        Reject {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The status code this rejection answers with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Adds a header (`WWW-Authenticate`, `Location`, `Content-Type`...).
    /// `Content-Length`, `Connection` and `Transfer-Encoding` are written by
    /// the handshake and refused with [`BuildError::ReservedHeader`]. With an
    /// `Upgrade` header, `Connection` becomes `Upgrade, close`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Writes the answer.
    pub fn into_bytes(self) -> Result<Vec<u8>, BuildError> {
        if !(200..=599).contains(&self.status) {
            return Err(BuildError::InvalidStatus(self.status));
        }
        let bodiless = matches!(self.status, 204 | 304);
        if bodiless && !self.body.is_empty() {
            return Err(BuildError::BodyNotAllowed(self.status));
        }
        check_headers(&self.headers, |name| {
            ["Content-Length", "Connection", "Transfer-Encoding"]
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name))
        })?;
        let upgrade = self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("Upgrade"));
        let connection = if upgrade { "Upgrade, close" } else { "close" };
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut out = status_line(self.status);
        push_headers(&mut out, &headers);
        if !bodiless {
            push_headers(
                &mut out,
                &[("Content-Length", &self.body.len().to_string())],
            );
        }
        push_headers(&mut out, &[("Connection", connection)]);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        Ok(out)
    }
}

/// Writes a plain HTTP/1.1 answer with a `Content-Type` and a body, for a
/// request that was not an upgrade ([`Incoming::Plain`](super::Incoming::Plain)).
///
/// A shorthand for [`Reject`]; it also ends with `Connection: close`.
///
/// ```
/// use rfc6455::handshake::plain_response;
///
/// let bytes = plain_response(200, "text/plain", b"hello").unwrap();
/// assert_eq!(
///     bytes,
///     b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
/// );
/// ```
pub fn plain_response(status: u16, content_type: &str, body: &[u8]) -> Result<Vec<u8>, BuildError> {
    Reject::new(status)
        .header("Content-Type", content_type)
        .body(body)
        .into_bytes()
}

impl UpgradeRequest {
    /// Writes the 101 answer that accepts the upgrade (RFC 6455 section
    /// 4.2.2, step 5), with `Sec-WebSocket-Accept` computed from the key.
    ///
    /// `Sec-WebSocket-Extensions` is written only for permessage-deflate,
    /// when `Accept::deflate` was given parameters; no other extension is
    /// accepted. After sending it, the connection is open.
    pub fn accept(&self, accept: Accept) -> Result<Vec<u8>, BuildError> {
        if let Some(protocol) = &accept.protocol {
            // Section 4.2.2: "The value chosen MUST be derived from the
            // client's handshake, specifically by selecting one of the values
            // from the |Sec-WebSocket-Protocol| field".
            if !self.protocols.iter().any(|p| p == protocol) {
                return Err(BuildError::ProtocolNotOffered(protocol.clone()));
            }
        }
        // RFC 6455 section 9.1: the server answers with extensions "from
        // the list of extensions supplied by the client".
        #[cfg(feature = "deflate")]
        if accept.deflate.is_some()
            && !self.extensions.iter().any(|e| {
                e.name()
                    .eq_ignore_ascii_case(crate::deflate::EXTENSION_NAME)
            })
        {
            return Err(BuildError::ExtensionNotOffered(
                crate::deflate::EXTENSION_NAME,
            ));
        }
        check_headers(&accept.headers, |name| {
            let lower = name.to_ascii_lowercase();
            lower.starts_with("sec-websocket-")
                || [
                    "upgrade",
                    "connection",
                    "content-length",
                    "transfer-encoding",
                ]
                .contains(&lower.as_str())
        })?;
        // Written straight into one buffer, no piece in a String of its own.
        let mut out = status_line(101);
        out.extend_from_slice(
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
        );
        out.extend_from_slice(&accept_key_bytes(self.key.as_bytes()));
        out.extend_from_slice(b"\r\n");
        if let Some(protocol) = &accept.protocol {
            push_headers(&mut out, &[("Sec-WebSocket-Protocol", protocol)]);
        }
        #[cfg(feature = "deflate")]
        if let Some(params) = &accept.deflate {
            push_headers(
                &mut out,
                &[("Sec-WebSocket-Extensions", &params.to_string())],
            );
        }
        for (name, value) in &accept.headers {
            push_headers(&mut out, &[(name, value)]);
        }
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }

    /// Writes a rejection: any status but 101, headers and a body. The
    /// connection should be closed after sending it.
    pub fn reject(&self, reject: Reject) -> Result<Vec<u8>, BuildError> {
        reject.into_bytes()
    }
}

/// Validates caller-given headers: token names, values without CR or LF (no
/// header injection), no reserved name.
pub(crate) fn check_headers(
    headers: &[(String, String)],
    reserved: impl Fn(&str) -> bool,
) -> Result<(), BuildError> {
    for (name, value) in headers {
        if !is_token(name.as_bytes()) {
            return Err(BuildError::InvalidHeaderName(name.clone()));
        }
        if reserved(name) {
            return Err(BuildError::ReservedHeader(name.clone()));
        }
        if !is_field_value(value) {
            return Err(BuildError::InvalidHeaderValue(name.clone()));
        }
    }
    Ok(())
}

/// Writes a whole answer: status line, headers, `Content-Length`,
/// `Connection`, blank line, body. Inputs are trusted (ours).
pub(crate) fn write_response(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    connection: &str,
) -> Vec<u8> {
    let mut out = status_line(status);
    push_headers(&mut out, headers);
    push_headers(
        &mut out,
        &[
            ("Content-Length", &body.len().to_string()),
            ("Connection", connection),
        ],
    );
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A buffer for an answer, holding its status line. Callers keep `status`
/// to three digits (`Reject` checks 200..=599; the others are constants).
fn status_line(status: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 ");
    if (100..=999).contains(&status) {
        out.extend_from_slice(&[
            b'0' + (status / 100) as u8,
            b'0' + (status / 10 % 10) as u8,
            b'0' + (status % 10) as u8,
        ]);
    } else {
        out.extend_from_slice(status.to_string().as_bytes());
    }
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

pub(crate) fn push_headers(out: &mut Vec<u8>, headers: &[(&str, &str)]) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The usual reason phrase; empty (which HTTP allows) for codes not listed.
fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        414 => "URI Too Long",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_checks_its_inputs() {
        assert_eq!(
            Reject::new(101).into_bytes(),
            Err(BuildError::InvalidStatus(101))
        );
        assert_eq!(
            Reject::new(204).body("x").into_bytes(),
            Err(BuildError::BodyNotAllowed(204))
        );
        assert_eq!(
            Reject::new(400)
                .header("X", "a\r\nSet-Cookie: evil")
                .into_bytes(),
            Err(BuildError::InvalidHeaderValue("X".into()))
        );
        assert_eq!(
            Reject::new(400).header("Bad Name", "a").into_bytes(),
            Err(BuildError::InvalidHeaderName("Bad Name".into()))
        );
        assert_eq!(
            Reject::new(400).header("content-length", "9").into_bytes(),
            Err(BuildError::ReservedHeader("content-length".into()))
        );
    }

    #[test]
    fn no_content_has_no_length() {
        assert_eq!(
            Reject::new(204).into_bytes().unwrap(),
            b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn unknown_status_has_empty_reason() {
        let bytes = Reject::new(499).into_bytes().unwrap();
        assert!(bytes.starts_with(b"HTTP/1.1 499 \r\n"));
    }

    #[test]
    fn reject_with_upgrade_keeps_connection_valid() {
        let bytes = Reject::new(426)
            .header("Upgrade", "websocket")
            .into_bytes()
            .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("\r\nConnection: Upgrade, close\r\n"));
    }
}
