//! What a client asks for: the `ws://` URL (RFC 6455 section 3) and the
//! request's options.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{BuildError, Limits};

/// What the client asks for: a `ws://` or `wss://` URL, subprotocols, an
/// origin, extra headers.
///
/// **`wss://` is a URL form only**: the request bytes are the same, but this
/// crate does no TLS. For a [`is_secure`](Self::is_secure) URL the caller
/// must open a TLS session to [`host`](Self::host) and
/// [`port`](Self::port) (with SNI, as section 4.1 requires) and send the
/// handshake inside it. Without a port, `ws` means 80 and `wss` 443.
///
/// Builder mistakes (a subprotocol that is not a token, a header value with
/// CR or LF) are reported by the `ClientHandshake` constructors, such as
/// [`ClientHandshake::with_key_source`](super::ClientHandshake::with_key_source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    pub(crate) secure: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) host_header: String,
    pub(crate) resource: String,
    pub(crate) protocols: Vec<String>,
    pub(crate) origin: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) limits: Limits,
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Option<crate::deflate::DeflateConfig>,
}

impl ClientRequest {
    /// Parses a WebSocket URL, `ws://host[:port][/path][?query]` (section 3).
    ///
    /// Refused: other schemes, user information (`user@`), fragments (`#`,
    /// which section 3 says "MUST NOT be used"), an empty host, port 0, and
    /// spaces, control or non-ASCII characters in the path (percent-encode
    /// them).
    pub fn new(url: &str) -> Result<Self, BuildError> {
        let invalid = BuildError::InvalidUrl;
        let (secure, rest) =
            strip_scheme(url).ok_or(invalid("the scheme must be ws:// or wss://"))?;
        if rest.contains('#') {
            return Err(invalid(
                "fragment identifiers MUST NOT be used (RFC 6455 section 3)",
            ));
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(end);
        if authority.contains('@') {
            return Err(invalid("user information is not part of a WebSocket URL"));
        }
        let (host, port, ipv6) = split_authority(authority).ok_or(invalid("bad host or port"))?;
        let default_port = if secure { 443 } else { 80 };
        let port = match port {
            None | Some("") => default_port,
            Some(digits) => parse_port(digits).ok_or(invalid("bad port"))?,
        };
        if !resource.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(invalid(
                "the path holds spaces, control or non-ASCII characters",
            ));
        }
        // Section 3: the resource name is "/" if the path is empty, then the
        // path, then "?" and the query.
        let resource = if resource.starts_with('/') {
            resource.to_owned()
        } else {
            format!("/{resource}")
        };
        let bracketed = if ipv6 {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        // Section 4.1, item 4: the Host value "contains /host/ plus optionally
        // ":" followed by /port/ (when not using the default port)."
        let host_header = if port == default_port {
            bracketed
        } else {
            format!("{bracketed}:{port}")
        };
        Ok(ClientRequest {
            secure,
            host: host.to_owned(),
            port,
            host_header,
            resource,
            protocols: Vec::new(),
            origin: None,
            headers: Vec::new(),
            limits: Limits::default(),
            #[cfg(feature = "deflate")]
            deflate: None,
        })
    }

    /// Offers a subprotocol; call once per subprotocol, in order of preference.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// Sets the `Origin` header (section 4.1, item 8; browsers must send it).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Adds a header (`Authorization`, `Cookie`...). The handshake's own
    /// headers (`Host`, `Upgrade`, `Connection`, `Origin`, and
    /// `Sec-WebSocket-*` except `Sec-WebSocket-Extensions`) are refused.
    ///
    /// An extension offered through `Sec-WebSocket-Extensions` is one the
    /// server may then choose, and the caller's to implement; offer
    /// permessage-deflate with `deflate` (feature `deflate`) instead.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Offers permessage-deflate (RFC 7692) as `config` says, by default
    /// `permessage-deflate; client_max_window_bits`. The server's answer is
    /// checked, and the agreed parameters come out as
    /// [`Response::deflate`](super::Response::deflate).
    ///
    /// ```
    /// use rfc6455::deflate::DeflateConfig;
    /// use rfc6455::handshake::{ClientHandshake, ClientRequest};
    ///
    /// let request = ClientRequest::new("ws://h/")?.deflate(DeflateConfig::default());
    /// let client = ClientHandshake::new(request)?;
    /// let text = String::from_utf8_lossy(client.request_bytes());
    /// assert!(text.contains("\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn deflate(mut self, config: crate::deflate::DeflateConfig) -> Self {
        self.deflate = Some(config);
        self
    }

    /// Sets the limits on the server's response head; default [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The host to connect to, without the brackets of an IPv6 literal.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to: the URL's, or 80 (`ws`) or 443 (`wss`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the URL is `wss://`: the caller must then wrap TLS.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The resource name sent on the request line: path and query.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The `Host` header value: the host, and the port if not the default.
    pub fn host_header(&self) -> &str {
        &self.host_header
    }
}

fn strip_scheme(url: &str) -> Option<(bool, &str)> {
    let lower = url.get(..6).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("ws://") {
        Some((false, &url[5..]))
    } else if lower.starts_with("wss://") {
        Some((true, &url[6..]))
    } else {
        None
    }
}

/// Splits `host[:port]` or `[v6][:port]`.
fn split_authority(authority: &str) -> Option<(&str, Option<&str>, bool)> {
    if let Some(inner) = authority.strip_prefix('[') {
        let (host, after) = inner.split_once(']')?;
        let ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b));
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        return ok.then_some((host, port, true));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let reg_name = |b: u8| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b);
    (!host.is_empty() && host.bytes().all(reg_name)).then_some((host, port, false))
}

fn parse_port(digits: &str) -> Option<u16> {
    if digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&port| port != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let r = ClientRequest::new("ws://example.com").unwrap();
        assert_eq!(
            (r.host(), r.port(), r.resource(), r.host_header()),
            ("example.com", 80, "/", "example.com")
        );
        let r = ClientRequest::new("WSS://example.com:8443?x=1").unwrap();
        assert!(r.is_secure());
        assert_eq!(
            (r.port(), r.resource(), r.host_header()),
            (8443, "/?x=1", "example.com:8443")
        );
        let r = ClientRequest::new("wss://example.com:443/a").unwrap();
        assert_eq!(r.host_header(), "example.com");
        let r = ClientRequest::new("ws://[::1]:9001/chat").unwrap();
        assert_eq!((r.host(), r.host_header()), ("::1", "[::1]:9001"));
        let r = ClientRequest::new("ws://h:/").unwrap();
        assert_eq!(r.port(), 80);
    }

    #[test]
    fn bad_urls() {
        for url in [
            "http://example.com/",
            "ws://",
            "ws:///path",
            "ws://h/#frag",
            "ws://user@h/",
            "ws://h:0/",
            "ws://h:65536/",
            "ws://h:x/",
            "ws://h/a b",
            "ws://h/é",
            "ws://[::1/",
            "ws://[]/",
            "ws://a:1:2/",
            "ws",
        ] {
            assert!(
                matches!(ClientRequest::new(url), Err(BuildError::InvalidUrl(_))),
                "{url}"
            );
        }
    }
}
