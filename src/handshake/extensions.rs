//! `Sec-WebSocket-Extensions` offers (RFC 6455 sections 4.3 and 9.1).
//!
//! ```text
//! extension-list = 1#extension
//! extension = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::HandshakeError;
use super::head::{is_tchar, is_token};

/// One extension offer or answer: a name and its parameters, in order.
///
/// permessage-deflate (RFC 7692) is negotiated from these values by the
/// `deflate` module; other extensions are the application's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    name: String,
    params: Vec<(String, Option<String>)>,
}

impl Extension {
    /// The extension token, such as `permessage-deflate`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parameters in order, each with its value if it had one (quoted
    /// values are unquoted).
    pub fn params(&self) -> &[(String, Option<String>)] {
        &self.params
    }

    /// The first parameter called `name` (ASCII case-insensitive): `None` if
    /// absent, `Some(None)` if present without a value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
}

/// Writes the extension back in header syntax, `name; key=value; flag`.
impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (key, value) in &self.params {
            match value {
                Some(value) => write!(f, "; {key}={value}")?,
                None => write!(f, "; {key}")?,
            }
        }
        Ok(())
    }
}

/// Parses one `Sec-WebSocket-Extensions` header value.
///
/// Several headers are parsed one by one and their lists concatenated, as
/// [`UpgradeRequest::extensions`](super::UpgradeRequest::extensions) does.
/// Empty list items (`a, , b`) are skipped, as HTTP asks of recipients.
///
/// ```
/// use rfc6455::handshake::parse_extensions;
///
/// let offers = parse_extensions(
///     r#"permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits="10""#,
/// ).unwrap();
/// assert_eq!(offers.len(), 2);
/// assert_eq!(offers[0].param("client_max_window_bits"), Some(None));
/// assert_eq!(offers[1].param("server_max_window_bits"), Some(Some("10")));
/// ```
pub fn parse_extensions(value: &str) -> Result<Vec<Extension>, HandshakeError> {
    parse_bytes(value.as_bytes())
}

pub(crate) fn parse_bytes(value: &[u8]) -> Result<Vec<Extension>, HandshakeError> {
    let mut parser = Parser { s: value, pos: 0 };
    let mut out = Vec::new();
    loop {
        parser.skip_ows();
        match parser.peek() {
            None => return Ok(out),
            Some(b',') => {
                parser.pos += 1;
                continue;
            }
            Some(_) => {}
        }
        let name = parser.token()?;
        let mut params = Vec::new();
        parser.skip_ows();
        while parser.peek() == Some(b';') {
            parser.pos += 1;
            parser.skip_ows();
            let key = parser.token()?;
            parser.skip_ows();
            let mut value = None;
            if parser.peek() == Some(b'=') {
                parser.pos += 1;
                parser.skip_ows();
                value = Some(if parser.peek() == Some(b'"') {
                    parser.quoted()?
                } else {
                    parser.token()?
                });
                parser.skip_ows();
            }
            params.push((key, value));
        }
        out.push(Extension { name, params });
        match parser.peek() {
            None => return Ok(out),
            Some(b',') => parser.pos += 1,
            Some(_) => return Err(HandshakeError::BadExtension),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Result<String, HandshakeError> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        let token = &self.s[start..self.pos];
        if token.is_empty() {
            return Err(HandshakeError::BadExtension);
        }
        Ok(String::from_utf8_lossy(token).into_owned())
    }

    fn quoted(&mut self) -> Result<String, HandshakeError> {
        self.pos += 1; // the opening quote
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None => return Err(HandshakeError::BadExtension),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let escaped = self.s.get(self.pos + 1).copied();
                    value.push(escaped.ok_or(HandshakeError::BadExtension)?);
                    self.pos += 2;
                }
                Some(b) => {
                    value.push(b);
                    self.pos += 1;
                }
            }
        }
        // Section 4.3: "When using the quoted-string syntax variant, the
        // value after quoted-string unescaping MUST conform to the 'token'
        // ABNF."
        if !is_token(&value) {
            return Err(HandshakeError::BadExtension);
        }
        Ok(String::from_utf8_lossy(&value).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(name: &str, params: &[(&str, Option<&str>)]) -> Extension {
        Extension {
            name: name.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
        }
    }

    #[test]
    fn names_params_and_quotes() {
        let parsed = parse_extensions(
            "permessage-deflate ; client_max_window_bits ;server_max_window_bits = \"1\\0\", x-foo",
        )
        .unwrap();
        assert_eq!(
            parsed,
            vec![
                ext(
                    "permessage-deflate",
                    &[
                        ("client_max_window_bits", None),
                        ("server_max_window_bits", Some("10"))
                    ]
                ),
                ext("x-foo", &[]),
            ]
        );
        assert_eq!(
            parsed[0].to_string(),
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10"
        );
    }

    #[test]
    fn empty_items_are_skipped() {
        assert_eq!(parse_extensions(" , a,,b ,").unwrap().len(), 2);
        assert_eq!(parse_extensions("").unwrap(), vec![]);
    }

    #[test]
    fn quoted_commas_do_not_split() {
        // A quoted value must still be a token, so a comma inside fails
        // rather than splitting the list.
        assert_eq!(
            parse_extensions("a; b=\"x,y\""),
            Err(HandshakeError::BadExtension)
        );
    }

    #[test]
    fn rejects_bad_grammar() {
        for bad in [
            "a b",
            "a;",
            "a; =1",
            "a; b=",
            "a; b=\"unterminated",
            "a; b=\"\"",
            "a; b=\"x\\",
            "a/b",
            ";a",
            "a; b=c d",
        ] {
            assert_eq!(
                parse_extensions(bad),
                Err(HandshakeError::BadExtension),
                "{bad}"
            );
        }
    }
}
