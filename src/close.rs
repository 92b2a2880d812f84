//! Close status codes and close frame payloads (RFC 6455 sections 5.5.1, 7.4).
//!
//! A close frame's payload is empty, or a 2-byte status code followed by a
//! UTF-8 reason, 125 bytes at most in all.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The most bytes a close reason can take: 125 less the 2-byte code.
pub const MAX_REASON_LEN: usize = 123;

/// A close status code (section 7.4).
///
/// Codes 0-999 and 1016-2999 are not valid codes and cannot be built from a
/// `u16`; 1004, 1005, 1006 and 1015 are valid names for what happened but are
/// never sent on the wire (see [`CloseCode::is_sendable`]).
///
/// ```
/// use rfc6455::close::CloseCode;
///
/// assert_eq!(CloseCode::try_from(1007), Ok(CloseCode::InvalidPayload));
/// assert_eq!(CloseCode::try_from(4001), Ok(CloseCode::Private(4001)));
/// assert!(CloseCode::try_from(1016).is_err());
/// assert!(!CloseCode::AbnormalClosure.is_sendable());
/// assert_eq!(u16::from(CloseCode::MessageTooBig), 1009);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    Normal,
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    GoingAway,
    /// 1002: the peer broke the protocol.
    ProtocolError,
    /// 1003: the endpoint received a type of data it cannot accept.
    UnsupportedData,
    /// 1004: reserved; never sent.
    Reserved,
    /// 1005: no status code was present; never sent.
    NoStatusReceived,
    /// 1006: the connection closed without a close frame; never sent.
    AbnormalClosure,
    /// 1007: a message's data did not match its type (e.g. text that is not
    /// UTF-8).
    InvalidPayload,
    /// 1008: a message violated the endpoint's policy.
    PolicyViolation,
    /// 1009: a message too big to process.
    MessageTooBig,
    /// 1010: the client expected the server to negotiate an extension.
    MandatoryExtension,
    /// 1011: the server met an unexpected condition.
    InternalError,
    /// 1012: the service is restarting (IANA registry).
    ServiceRestart,
    /// 1013: try again later (IANA registry).
    TryAgainLater,
    /// 1014: a gateway received an invalid response (IANA registry).
    BadGateway,
    /// 1015: the TLS handshake failed; never sent.
    TlsHandshake,
    /// 3000-3999: registered with IANA by libraries, frameworks and
    /// applications.
    Registered(u16),
    /// 4000-4999: private use, agreed between the two applications.
    Private(u16),
}

impl CloseCode {
    /// Whether an endpoint may put this code in a close frame, and so whether
    /// it may appear in one it receives. 1004, 1005, 1006 and 1015 "MUST NOT
    /// be set as a status code in a Close control frame" (section 7.4.1).
    pub fn is_sendable(self) -> bool {
        !matches!(
            self,
            CloseCode::Reserved
                | CloseCode::NoStatusReceived
                | CloseCode::AbnormalClosure
                | CloseCode::TlsHandshake
        ) && match self {
            CloseCode::Registered(code) => (3000..=3999).contains(&code),
            CloseCode::Private(code) => (4000..=4999).contains(&code),
            _ => true,
        }
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        match code {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::ProtocolError => 1002,
            CloseCode::UnsupportedData => 1003,
            CloseCode::Reserved => 1004,
            CloseCode::NoStatusReceived => 1005,
            CloseCode::AbnormalClosure => 1006,
            CloseCode::InvalidPayload => 1007,
            CloseCode::PolicyViolation => 1008,
            CloseCode::MessageTooBig => 1009,
            CloseCode::MandatoryExtension => 1010,
            CloseCode::InternalError => 1011,
            CloseCode::ServiceRestart => 1012,
            CloseCode::TryAgainLater => 1013,
            CloseCode::BadGateway => 1014,
            CloseCode::TlsHandshake => 1015,
            CloseCode::Registered(code) | CloseCode::Private(code) => code,
        }
    }
}

impl TryFrom<u16> for CloseCode {
    type Error = CloseError;

    fn try_from(code: u16) -> Result<Self, CloseError> {
        Ok(match code {
            1000 => CloseCode::Normal,
            1001 => CloseCode::GoingAway,
            1002 => CloseCode::ProtocolError,
            1003 => CloseCode::UnsupportedData,
            1004 => CloseCode::Reserved,
            1005 => CloseCode::NoStatusReceived,
            1006 => CloseCode::AbnormalClosure,
            1007 => CloseCode::InvalidPayload,
            1008 => CloseCode::PolicyViolation,
            1009 => CloseCode::MessageTooBig,
            1010 => CloseCode::MandatoryExtension,
            1011 => CloseCode::InternalError,
            1012 => CloseCode::ServiceRestart,
            1013 => CloseCode::TryAgainLater,
            1014 => CloseCode::BadGateway,
            1015 => CloseCode::TlsHandshake,
            3000..=3999 => CloseCode::Registered(code),
            4000..=4999 => CloseCode::Private(code),
            _ => return Err(CloseError::InvalidCode(code)),
        })
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", u16::from(*self))
    }
}

/// The payload of a close frame that carries a status code: the code and a
/// UTF-8 reason of at most [`MAX_REASON_LEN`] bytes.
///
/// ```
/// use rfc6455::close::{CloseCode, CloseFrame};
///
/// let frame = CloseFrame::new(CloseCode::Normal, "bye")?;
/// let mut payload = Vec::new();
/// frame.encode(&mut payload);
/// assert_eq!(payload, b"\x03\xe8bye");
/// assert_eq!(CloseFrame::parse(&payload)?, Some(frame));
/// assert_eq!(CloseFrame::parse(b"")?, None);
/// # Ok::<(), rfc6455::close::CloseError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    code: CloseCode,
    reason: String,
}

impl CloseFrame {
    /// A close payload with `code` and `reason`; fails if the code may not be
    /// sent or the reason is longer than [`MAX_REASON_LEN`] bytes.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Result<Self, CloseError> {
        let reason = reason.into();
        if !code.is_sendable() {
            return Err(CloseError::InvalidCode(code.into()));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(CloseError::ReasonTooLong(reason.len()));
        }
        Ok(CloseFrame { code, reason })
    }

    /// The status code.
    pub fn code(&self) -> CloseCode {
        self.code
    }

    /// The reason, possibly empty.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Parses a received close payload: `None` for an empty one.
    ///
    /// Section 5.5.1: "If there is a body, the first two bytes of the body
    /// MUST be a 2-byte unsigned integer ... Following the 2-byte integer,
    /// the body MAY contain UTF-8-encoded data".
    pub fn parse(payload: &[u8]) -> Result<Option<CloseFrame>, CloseError> {
        let (code, reason) = match payload {
            [] => return Ok(None),
            [_] => return Err(CloseError::OneBytePayload),
            [hi, lo, reason @ ..] => (u16::from_be_bytes([*hi, *lo]), reason),
        };
        if payload.len() > 125 {
            return Err(CloseError::PayloadTooLong(payload.len()));
        }
        let code = CloseCode::try_from(code)?;
        if !code.is_sendable() {
            return Err(CloseError::InvalidCode(code.into()));
        }
        let reason = core::str::from_utf8(reason).map_err(|_| CloseError::InvalidUtf8Reason)?;
        Ok(Some(CloseFrame {
            code,
            reason: reason.to_owned(),
        }))
    }

    /// Appends the payload: the code in network order, then the reason.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&u16::from(self.code).to_be_bytes());
        out.extend_from_slice(self.reason.as_bytes());
    }

    /// The payload length: 2 plus the reason.
    pub fn encoded_len(&self) -> usize {
        2 + self.reason.len()
    }
}

/// A close payload that breaks a rule of section 5.5.1 or 7.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseError {
    /// A payload of one byte: too short for a code, too long for none.
    #[error("close payload of one byte")]
    OneBytePayload,
    /// A code in 0-999, 1016-2999 or 5000 and above, or one that is never sent
    /// on the wire (1004, 1005, 1006, 1015).
    #[error("close code {0} may not appear in a close frame")]
    InvalidCode(u16),
    /// The reason is not valid UTF-8.
    #[error("close reason is not valid UTF-8")]
    InvalidUtf8Reason,
    /// The payload is longer than 125 bytes.
    #[error("close payload of {0} bytes, more than 125")]
    PayloadTooLong(usize),
    /// A reason to send longer than 123 bytes.
    #[error("close reason of {0} bytes, more than 123")]
    ReasonTooLong(usize),
}

impl CloseError {
    /// The close code this error puts on the wire when it is the peer's: 1007
    /// for a reason that is not UTF-8, 1002 otherwise.
    pub fn close_code(&self) -> CloseCode {
        match self {
            CloseError::InvalidUtf8Reason => CloseCode::InvalidPayload,
            _ => CloseCode::ProtocolError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_u16_classifies_as_the_rfc_says() {
        for code in 0..=u16::MAX {
            let parsed = CloseCode::try_from(code);
            let valid = matches!(code, 1000..=1015 | 3000..=4999);
            assert_eq!(parsed.is_ok(), valid, "code {code}");
            if let Ok(parsed) = parsed {
                assert_eq!(u16::from(parsed), code);
                let sendable = !matches!(code, 1004 | 1005 | 1006 | 1015);
                assert_eq!(parsed.is_sendable(), sendable, "code {code}");
            }
        }
    }

    #[test]
    fn parse_rejects_what_the_rfc_forbids() {
        assert_eq!(CloseFrame::parse(&[0x03]), Err(CloseError::OneBytePayload));
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xE7]),
            Err(CloseError::InvalidCode(999))
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xED]),
            Err(CloseError::InvalidCode(1005))
        );
        assert_eq!(
            CloseFrame::parse(&[0x0B, 0xB8]).unwrap().unwrap().code(),
            CloseCode::Registered(3000)
        );
        let bad_utf8 = [0x03, 0xE8, 0xCE, 0xBA, 0xE1, 0xBD];
        assert_eq!(
            CloseFrame::parse(&bad_utf8),
            Err(CloseError::InvalidUtf8Reason)
        );
        assert_eq!(
            CloseError::InvalidUtf8Reason.close_code(),
            CloseCode::InvalidPayload
        );
        let long = [[0x03, 0xE8].as_slice(), &[b'a'; 124]].concat();
        assert_eq!(
            CloseFrame::parse(&long),
            Err(CloseError::PayloadTooLong(126))
        );
    }

    #[test]
    fn new_checks_code_and_reason_length() {
        assert!(CloseFrame::new(CloseCode::Normal, "a".repeat(123)).is_ok());
        assert_eq!(
            CloseFrame::new(CloseCode::Normal, "a".repeat(124)),
            Err(CloseError::ReasonTooLong(124))
        );
        assert_eq!(
            CloseFrame::new(CloseCode::AbnormalClosure, ""),
            Err(CloseError::InvalidCode(1006))
        );
        assert_eq!(
            CloseFrame::new(CloseCode::Private(5000), ""),
            Err(CloseError::InvalidCode(5000))
        );
    }
}
