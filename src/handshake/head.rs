//! Shared by both roles: the incremental header-block reader and the small
//! HTTP helpers (header lookup, token lists, header validation).

use alloc::vec::Vec;
use core::mem::MaybeUninit;

use super::{HandshakeError, Limits};

/// Collects a header block from pieces of any size, never buffering more than
/// [`Limits::max_header_bytes`].
///
/// It scans each new byte once for the blank line (a search for LF, the
/// bytes between counted, not looked at one by one) and asks the parser (the
/// `probe`) only at two moments: when the first line ends, so that garbage is
/// reported early, and at each blank line. Feeding one byte at a time thus
/// costs linear time, not quadratic. A first piece that holds the whole
/// block is parsed once and not scanned at all.
#[derive(Debug)]
pub(crate) struct HeadReader {
    limits: Limits,
    buf: Vec<u8>,
    /// Bytes since the last LF.
    since_lf: usize,
    /// The byte before the current one.
    last: u8,
    /// Whether a non-empty line was seen (leading empty lines are skipped).
    seen_line: bool,
    failed: Option<HandshakeError>,
}

/// A finished head: what the parser made of it, its bytes, and the bytes
/// that came after it.
pub(crate) type Split<T> = (T, Vec<u8>, Vec<u8>);

/// A parser's verdict on a prefix of the header block: `None` while it is
/// unfinished, else the length of the block and what the parser made of it,
/// so that a complete block is parsed once.
pub(crate) type Probe<T> = fn(&[u8], &Limits) -> Result<Option<(usize, T)>, HandshakeError>;

/// Slots for the header fields the parser finds: on the stack up to this
/// many (the default limit), uninitialized, so a parse costs no allocation.
const STACK_HEADERS: usize = Limits::DEFAULT_MAX_HEADERS;

/// Runs `parse` with `limits.max_headers` uninitialized header slots.
pub(crate) fn with_header_slots<'b, R>(
    limits: &Limits,
    parse: impl FnOnce(&mut [MaybeUninit<httparse::Header<'b>>]) -> R,
) -> R {
    if limits.max_headers <= STACK_HEADERS {
        let mut slots = [const { MaybeUninit::uninit() }; STACK_HEADERS];
        parse(&mut slots[..limits.max_headers])
    } else {
        let mut slots = Vec::with_capacity(limits.max_headers);
        parse(&mut slots.spare_capacity_mut()[..limits.max_headers])
    }
}

impl HeadReader {
    pub(crate) fn new(limits: Limits) -> Self {
        HeadReader {
            limits,
            buf: Vec::new(),
            since_lf: 0,
            last: 0,
            seen_line: false,
            failed: None,
        }
    }

    pub(crate) fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Appends within the limit, growing the allocation no further than it:
    /// the limit bounds the memory held, not only the length.
    fn append(&mut self, bytes: &[u8]) {
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            let target = needed
                .max(self.buf.capacity().saturating_mul(2))
                .max(256)
                .min(self.limits.max_header_bytes)
                .max(needed);
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(bytes);
    }

    #[cfg(test)]
    pub(crate) fn buffered_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Feeds `bytes`. On completion returns the parsed header block, its
    /// bytes and the bytes after it.
    pub(crate) fn push<T>(
        &mut self,
        bytes: &[u8],
        probe: Probe<T>,
    ) -> Result<Option<Split<T>>, HandshakeError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.push_inner(bytes, probe);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
            self.buf = Vec::new();
        }
        result
    }

    fn push_inner<T>(
        &mut self,
        bytes: &[u8],
        probe: Probe<T>,
    ) -> Result<Option<Split<T>>, HandshakeError> {
        let max = self.limits.max_header_bytes;
        let room = max.saturating_sub(self.buf.len());
        let take = bytes.len().min(room);
        // The usual case: the whole head in the first piece. One parse finds
        // its end (where the scan below would find it: at the first blank
        // line after the request line) and builds the result. Any other
        // verdict leaves it to the scan, which asks again at the same
        // moments as always, so the answer never depends on the pieces.
        if self.buf.is_empty()
            && let Ok(Some((n, parsed))) = probe(&bytes[..take], &self.limits)
        {
            let n = n.min(take);
            return Ok(Some((parsed, bytes[..n].to_vec(), bytes[n..].to_vec())));
        }
        let mut appended = 0;
        // From one LF to the next: the bytes between are only counted.
        let mut from = 0;
        while let Some(at) = bytes[from..take].iter().position(|&b| b == b'\n') {
            let i = from + at;
            let line = self.since_lf.saturating_add(at);
            let before = if at > 0 { bytes[i - 1] } else { self.last };
            let blank = line == 0 || (line == 1 && before == b'\r');
            let ask = if blank {
                self.seen_line
            } else {
                !self.seen_line
            };
            if !blank {
                self.seen_line = true;
            }
            self.since_lf = 0;
            self.last = b'\n';
            from = i + 1;
            if ask {
                self.append(&bytes[appended..=i]);
                appended = i + 1;
                if let Some((n, parsed)) = probe(&self.buf, &self.limits)? {
                    let mut head = core::mem::take(&mut self.buf);
                    let mut rest = head.split_off(n.min(head.len()));
                    rest.extend_from_slice(&bytes[appended..]);
                    return Ok(Some((parsed, head, rest)));
                }
            }
        }
        if take > from {
            self.since_lf = self.since_lf.saturating_add(take - from);
            self.last = bytes[take - 1];
        }
        self.append(&bytes[appended..take]);
        if !bytes.is_empty() && self.buf.len() >= max {
            // Full and unfinished. Report a syntax error if the parser sees
            // one (say, a TLS hello on a plain port), else the size.
            return match probe(&self.buf, &self.limits) {
                Err(error @ HandshakeError::Malformed(_)) => Err(error),
                _ => Err(HandshakeError::HeaderTooLarge { limit: max }),
            };
        }
        Ok(None)
    }
}

/// Maps `httparse`'s error to ours.
pub(crate) fn map_httparse(error: httparse::Error, limits: &Limits) -> HandshakeError {
    match error {
        httparse::Error::TooManyHeaders => HandshakeError::TooManyHeaders {
            limit: limits.max_headers,
        },
        httparse::Error::HeaderName => HandshakeError::Malformed("invalid header name"),
        httparse::Error::HeaderValue => HandshakeError::Malformed("invalid header value"),
        httparse::Error::NewLine => HandshakeError::Malformed("invalid new line"),
        httparse::Error::Status => HandshakeError::Malformed("invalid response status"),
        httparse::Error::Token => HandshakeError::Malformed("invalid token"),
        httparse::Error::Version => HandshakeError::Malformed("invalid HTTP version"),
    }
}

/// Owned header fields, in the order received: every name and value in one
/// buffer, so that a request's fields cost two allocations, not two each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Headers {
    /// Each field's name then its value, one field after another.
    bytes: Vec<u8>,
    /// Where each field's name and value end in `bytes`; a field starts
    /// where the one before it ends.
    ends: Vec<(usize, usize)>,
}

impl Headers {
    pub(crate) fn with_capacity(fields: usize, bytes: usize) -> Self {
        Headers {
            bytes: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(fields),
        }
    }

    /// Appends a field; `value` as it is to be kept (trimmed by the caller).
    pub(crate) fn push(&mut self, name: &str, value: &[u8]) {
        self.bytes.extend_from_slice(name.as_bytes());
        let name_end = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.ends.push((name_end, self.bytes.len()));
    }

    pub(crate) fn from_httparse(headers: &[httparse::Header<'_>]) -> Self {
        let bytes = headers.iter().map(|h| h.name.len() + h.value.len()).sum();
        let mut out = Headers::with_capacity(headers.len(), bytes);
        for h in headers {
            out.push(h.name, trim(h.value));
        }
        out
    }

    /// Every field, names as bytes.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut start = 0;
        self.ends.iter().map(move |&(name_end, value_end)| {
            let field = (
                &self.bytes[start..name_end],
                &self.bytes[name_end..value_end],
            );
            start = value_end;
            field
        })
    }

    /// All values of `name`, case-insensitive.
    pub(crate) fn all<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.fields()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    pub(crate) fn first(&self, name: &str) -> Option<&[u8]> {
        self.all(name).next()
    }

    pub(crate) fn count(&self, name: &str) -> usize {
        self.all(name).count()
    }

    /// Whether any value of `name`, as a comma-separated list, holds `token`
    /// (ASCII case-insensitive).
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.all(name).any(|v| has_token(v, token))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        // Every name was pushed as a `&str`: the conversion never fails.
        self.fields()
            .map(|(n, v)| (core::str::from_utf8(n).unwrap_or_default(), v))
    }
}

/// Whether a comma-separated list value holds `token` (ASCII
/// case-insensitive).
pub(crate) fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|item| trim(item).eq_ignore_ascii_case(token.as_bytes()))
}

/// Strips optional whitespace (SP, HTAB) at both ends.
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |p| p + 1);
    &bytes[start..end]
}

/// An HTTP `tchar` (RFC 9110 section 5.6.2).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An HTTP token: one or more `tchar`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A header value the caller may write: no CR, LF, NUL or other control
/// character but HTAB.
pub(crate) fn is_field_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Splits comma-separated list values into non-empty, trimmed items; empty
/// items are skipped as RFC 9110 section 5.6.1 asks of recipients.
pub(crate) fn list_items<'a>(
    values: impl Iterator<Item = &'a [u8]> + 'a,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    values
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim)
        .filter(|item| !item.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_request(buf: &[u8], limits: &Limits) -> Result<Option<(usize, ())>, HandshakeError> {
        with_header_slots(limits, |slots| {
            match httparse::Request::new(&mut []).parse_with_uninit_headers(buf, slots) {
                Ok(httparse::Status::Complete(n)) => Ok(Some((n, ()))),
                Ok(httparse::Status::Partial) => Ok(None),
                Err(e) => Err(map_httparse(e, limits)),
            }
        })
    }

    #[test]
    fn finds_the_blank_line_in_pieces() {
        let mut reader = HeadReader::new(Limits::default());
        let input = b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest";
        let mut out = None;
        for byte in input.chunks(1) {
            if let Some(done) = reader.push(byte, probe_request).unwrap() {
                out = Some(done);
                break;
            }
        }
        let ((), head, rest) = out.unwrap();
        assert_eq!(head, b"GET / HTTP/1.1\r\nA: b\r\n\r\n");
        assert!(rest.is_empty(), "bytes after completion are not fed here");
    }

    #[test]
    fn bare_lf_lines_and_leading_blank_lines() {
        let mut reader = HeadReader::new(Limits::default());
        let ((), head, rest) = reader
            .push(b"\r\n\nGET / HTTP/1.1\nA: b\n\nxy", probe_request)
            .unwrap()
            .unwrap();
        assert_eq!(head.len(), 3 + 15 + 5 + 1);
        assert_eq!(rest, b"xy");
    }

    #[test]
    fn never_buffers_past_the_limit() {
        let limits = Limits {
            max_header_bytes: 32,
            max_headers: 4,
        };
        let mut reader = HeadReader::new(limits);
        assert_eq!(reader.push(b"GET / HTTP/1.1\r\n", probe_request), Ok(None));
        for _ in 0..15 {
            assert_eq!(reader.push(b"a", probe_request), Ok(None));
            assert!(reader.buffered_capacity() <= 32);
        }
        let err = reader.push(&[b'a'; 100], probe_request).unwrap_err();
        assert_eq!(err, HandshakeError::HeaderTooLarge { limit: 32 });
        assert_eq!(reader.buffered_len(), 0);
        // Sticky.
        assert_eq!(reader.push(b"\r\n", probe_request).unwrap_err(), err);
    }

    #[test]
    fn garbage_is_malformed_early() {
        let mut reader = HeadReader::new(Limits::default());
        let err = reader
            .push(b"\x16\x03\x01 \x00\n", probe_request)
            .unwrap_err();
        assert!(matches!(err, HandshakeError::Malformed(_)));
    }

    #[test]
    fn trims_and_tokens() {
        assert_eq!(trim(b" \t a b \t"), b"a b");
        assert_eq!(trim(b"   "), b"");
        let mut headers = Headers::default();
        headers.push("Host", b"h");
        headers.push("Connection", b"keep-alive, UPGRADE");
        assert_eq!(
            headers.iter().collect::<Vec<_>>(),
            [
                ("Host", &b"h"[..]),
                ("Connection", &b"keep-alive, UPGRADE"[..])
            ]
        );
        assert_eq!(headers.first("host"), Some(&b"h"[..]));
        assert!(headers.has_token("connection", "upgrade"));
        assert!(!headers.has_token("connection", "close"));
        assert!(is_token(b"chat.v2") && !is_token(b"a b") && !is_token(b""));
        assert!(is_field_value("a\tb") && !is_field_value("a\r\nb"));
    }
}
