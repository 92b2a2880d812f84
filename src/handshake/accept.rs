//! The `Sec-WebSocket-Accept` value (RFC 6455 section 4.2.2, step 5.4).

use alloc::string::String;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

/// The GUID that RFC 6455 section 1.3 appends to the key.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Computes `Sec-WebSocket-Accept` from a `Sec-WebSocket-Key` value.
///
/// `key` is the header value as sent, base64 text and not decoded: "the
/// base64-encoded SHA-1 of the concatenation of the |Sec-WebSocket-Key| (as a
/// string, not base64-decoded) with the string
/// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"" (section 4.1).
///
/// ```
/// use rfc6455::handshake::accept_key;
///
/// assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    // Base64 is ASCII.
    String::from_utf8_lossy(&accept_key_bytes(key)).into_owned()
}

/// The accept value as bytes on the stack: 20 bytes of SHA-1 are always 28
/// base64 characters. The server writes them straight into its answer.
pub(crate) fn accept_key_bytes(key: &[u8]) -> [u8; 28] {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID);
    let mut out = [0; 28];
    let written = STANDARD.encode_slice(sha1.finalize(), &mut out);
    debug_assert_eq!(written, Ok(28));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_vector() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn second_vector() {
        assert_eq!(
            accept_key(b"IHfMdf8a0aQXbwQO1pkGdA=="),
            "aWAY+V/uyz5ILZEoWuWdxjnlb7E="
        );
    }

    #[test]
    fn empty_key_is_still_a_value() {
        // Never panics; 20 bytes of SHA-1 are always 28 base64 characters.
        assert_eq!(accept_key(b"").len(), 28);
    }
}
