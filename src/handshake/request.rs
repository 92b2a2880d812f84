//! A parsed request: [`HttpRequest`] for any request, [`UpgradeRequest`] for
//! a valid WebSocket upgrade.

use alloc::string::String;
use alloc::vec::Vec;

use super::Extension;
use super::head::Headers;

/// An HTTP/1.x request head, owned: method, target and headers.
///
/// A plain request ([`Incoming::Plain`](super::Incoming::Plain)) comes as
/// this type; an [`UpgradeRequest`] holds one too
/// ([`UpgradeRequest::http`]). The body, if any, is not read: its first bytes
/// are in the handshake's leftover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) minor_version: u8,
    pub(crate) headers: Headers,
    pub(crate) head_len: usize,
}

impl HttpRequest {
    /// The method, as sent (methods are case-sensitive).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target as sent, path and query (`/chat?room=1`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path without the query. For an absolute target
    /// (`http://host/chat?x`, allowed by RFC 6455 section 4.1) the scheme and
    /// authority are dropped: `/chat`.
    pub fn path(&self) -> &str {
        let origin_form = origin_form(&self.target);
        origin_form.split_once('?').map_or(origin_form, |(p, _)| p)
    }

    /// The query string after `?`, not decoded; `None` if there is no `?`.
    pub fn query(&self) -> Option<&str> {
        origin_form(&self.target).split_once('?').map(|(_, q)| q)
    }

    /// The first query parameter called `name`, percent-decoded, with `+` as
    /// a space (the `application/x-www-form-urlencoded` rules). `None` when
    /// absent or when the decoded value is not UTF-8.
    ///
    /// A login token passed as `?token=...` is read this way.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query()?
            .split('&')
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .find(|(key, _)| percent_decode(key).as_deref() == Some(name))
            .and_then(|(_, value)| percent_decode(value))
    }

    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub fn http_minor_version(&self) -> u8 {
        self.minor_version
    }

    /// The first value of header `name` (ASCII case-insensitive), trimmed.
    /// `None` when absent or not UTF-8 (see [`header_bytes`](Self::header_bytes)).
    pub fn header(&self, name: &str) -> Option<&str> {
        core::str::from_utf8(self.headers.first(name)?).ok()
    }

    /// The first value of header `name` as raw bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers.first(name)
    }

    /// Every value of header `name`, in order (a `Cookie` may come several
    /// times).
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers.all(name)
    }

    /// Every header as `(name, value)`, in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter()
    }

    /// The length of the header block, blank line included.
    pub fn head_len(&self) -> usize {
        self.head_len
    }
}

/// Drops `scheme://authority` from an absolute target.
fn origin_form(target: &str) -> &str {
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &target[7..]
    } else if lower.starts_with("https://") {
        &target[8..]
    } else {
        return target;
    };
    // "http://h?q" has no path: path() gives "" and query() "q".
    rest.find(['/', '?']).map_or("/", |i| &rest[i..])
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
                match (hex(i + 1), hex(i + 2)) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A valid WebSocket upgrade request, waiting for the application's decision.
///
/// Every rule of RFC 6455 section 4.2.1 has been checked. Read what you need
/// (path, query, `Origin`, cookies, `Authorization`, offered subprotocols and
/// extensions), then write [`accept`](Self::accept) or
/// [`reject`](Self::reject) and send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    pub(crate) http: HttpRequest,
    pub(crate) key: String,
    pub(crate) protocols: Vec<String>,
    pub(crate) extensions: Vec<Extension>,
}

impl UpgradeRequest {
    /// The underlying HTTP request.
    pub fn http(&self) -> &HttpRequest {
        &self.http
    }

    /// The method; always `GET` here.
    pub fn method(&self) -> &str {
        self.http.method()
    }

    /// See [`HttpRequest::path`].
    pub fn path(&self) -> &str {
        self.http.path()
    }

    /// See [`HttpRequest::query`].
    pub fn query(&self) -> Option<&str> {
        self.http.query()
    }

    /// See [`HttpRequest::query_param`].
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.http.query_param(name)
    }

    /// See [`HttpRequest::header`].
    pub fn header(&self, name: &str) -> Option<&str> {
        self.http.header(name)
    }

    /// See [`HttpRequest::headers`].
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.http.headers()
    }

    /// The `Origin` header, if sent (browsers always send it, section 4.1).
    /// Check it against your allowed origins before accepting (section 10.2).
    pub fn origin(&self) -> Option<&str> {
        self.http.header("Origin")
    }

    /// The `Sec-WebSocket-Key` value, trimmed, as sent (base64 text).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The offered subprotocols, in the client's order of preference.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The offered extensions, in order, from every `Sec-WebSocket-Extensions`
    /// header.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The permessage-deflate parameters to agree: the first offer, in the
    /// client's order, that [`deflate::accept_offer`] accepts, or `None` to
    /// go on uncompressed. A bad offer is declined and the next one tried;
    /// it is never an HTTP error (RFC 7692 section 5). Answer the result
    /// with [`Accept::deflate`](super::Accept::deflate) and pass it to
    /// [`Connection::with_deflate`](crate::Connection::with_deflate).
    ///
    /// [`deflate::accept_offer`]: crate::deflate::accept_offer
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn negotiate_deflate(
        &self,
        config: &crate::deflate::DeflateConfig,
    ) -> Option<crate::deflate::DeflateParams> {
        self.extensions
            .iter()
            .filter(|offer| {
                offer
                    .name()
                    .eq_ignore_ascii_case(crate::deflate::EXTENSION_NAME)
            })
            .find_map(|offer| crate::deflate::accept_offer(offer.params(), config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            target: target.into(),
            minor_version: 1,
            headers: Headers::default(),
            head_len: 0,
        }
    }

    #[test]
    fn path_and_query() {
        let r = request("/chat?room=1&token=a%2Bb+c");
        assert_eq!(r.path(), "/chat");
        assert_eq!(r.query(), Some("room=1&token=a%2Bb+c"));
        assert_eq!(r.query_param("token").as_deref(), Some("a+b c"));
        assert_eq!(r.query_param("room").as_deref(), Some("1"));
        assert_eq!(r.query_param("missing"), None);
        assert_eq!(request("/").query(), None);
    }

    #[test]
    fn absolute_targets() {
        assert_eq!(request("http://h:1/chat?x=1").path(), "/chat");
        assert_eq!(request("HTTPS://h/chat?x=1").query(), Some("x=1"));
        assert_eq!(request("http://h").path(), "/");
        assert_eq!(request("*").path(), "*");
    }

    #[test]
    fn percent_decoding_edges() {
        assert_eq!(percent_decode("%41%zz%4").as_deref(), Some("A%zz%4"));
        assert_eq!(percent_decode("%e2%82%ac").as_deref(), Some("€"));
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(percent_decode("%").as_deref(), Some("%"));
        let r = request("/?flag&a=1");
        assert_eq!(r.query_param("flag").as_deref(), Some(""));
    }
}
