//! Helpers shared by the fuzz targets in `fuzz_targets/`.

use rfc6455::handshake::Limits;

pub mod connection;
pub mod deflate;

/// The first four bytes of a handshake target's input: the limits and the
/// size of the pieces the rest is fed in. Seeds are a prefix and real HTTP.
#[derive(Clone, Copy, Debug)]
pub struct Prefix {
    /// `Limits::max_header_bytes`, little-endian.
    pub max_header_bytes: u16,
    /// `Limits::max_headers`.
    pub max_headers: u8,
    /// The size of the pieces; 0 feeds the whole input at once.
    pub piece: u8,
}

impl Prefix {
    /// Splits the input into its prefix and the bytes on the wire.
    pub fn split(data: &[u8]) -> Option<(Prefix, &[u8])> {
        let (&[lo, hi, max_headers, piece], wire) = data.split_first_chunk()?;
        let prefix = Prefix {
            max_header_bytes: u16::from_le_bytes([lo, hi]),
            max_headers,
            piece,
        };
        Some((prefix, wire))
    }

    /// The limits the prefix names.
    pub fn limits(&self) -> Limits {
        Limits {
            max_header_bytes: usize::from(self.max_header_bytes),
            max_headers: usize::from(self.max_headers),
        }
    }

    /// The piece size, `usize::MAX` (whole) for 0.
    pub fn piece(&self) -> usize {
        match self.piece {
            0 => usize::MAX,
            n => usize::from(n),
        }
    }
}

/// Header names (lowercase) and values, in order.
pub type Headers = Vec<(String, Vec<u8>)>;

/// Parses an HTTP response this crate wrote: its status, its headers with
/// lowercase names, and its body, checked against `Content-Length` when there
/// is one. Panics if the bytes are not a whole, valid response.
pub fn parse_response(bytes: &[u8]) -> (u16, Headers, &[u8]) {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let status = response.parse(bytes).expect("a valid HTTP response");
    let httparse::Status::Complete(head_len) = status else {
        panic!(
            "an incomplete HTTP response: {:?}",
            String::from_utf8_lossy(bytes)
        );
    };
    let headers: Headers = response
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
        .collect();
    let body = &bytes[head_len..];
    for (name, value) in &headers {
        if name == "content-length" {
            assert_eq!(value, body.len().to_string().as_bytes(), "Content-Length");
        }
    }
    (response.code.expect("a status code"), headers, body)
}
