//! Frame headers: the opcode, the FIN and RSV bits, the mask key and the
//! payload length (RFC 6455 section 5.2).
//!
//! This layer knows the rules that need no connection state: which opcodes
//! exist, that control frames are short and unfragmented, that lengths use
//! their minimal form. Rules that need state (is a message open? which role
//! masks?) belong to the connection.
//!
//! Decoding never allocates and never reads past the bytes it was given; an
//! incomplete header is [`HeaderStatus::Partial`], a value, not an error.

use crate::close::CloseCode;

/// The longest header: 2 bytes, an 8-byte length and a 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame (section 5.5).
pub const MAX_CONTROL_PAYLOAD: u64 = 125;

/// What a frame carries (section 5.2, "Opcode"). Reserved values (3-7, 11-15)
/// are an error when decoding, not a variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// `0x0`: the next fragment of a message.
    Continuation = 0x0,
    /// `0x1`: the first frame of a UTF-8 text message.
    Text = 0x1,
    /// `0x2`: the first frame of a binary message.
    Binary = 0x2,
    /// `0x8`: the close handshake (section 5.5.1).
    Close = 0x8,
    /// `0x9`: a ping (section 5.5.2).
    Ping = 0x9,
    /// `0xA`: a pong (section 5.5.3).
    Pong = 0xA,
}

impl OpCode {
    /// Whether this is a control frame (close, ping, pong): opcodes with the
    /// high bit set (section 5.5).
    #[inline]
    pub fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }

    /// The 4-bit value on the wire.
    #[inline]
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for OpCode {
    type Error = FrameError;

    /// ```
    /// use rfc6455::frame::{FrameError, OpCode};
    /// assert_eq!(OpCode::try_from(0x9), Ok(OpCode::Ping));
    /// assert_eq!(OpCode::try_from(0x3), Err(FrameError::ReservedOpCode(0x3)));
    /// ```
    #[inline]
    fn try_from(value: u8) -> Result<Self, FrameError> {
        Ok(match value {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => return Err(FrameError::ReservedOpCode(other)),
        })
    }
}

/// The three reserved bits, RSV1 to RSV3, as they sit in the first byte of a
/// header shifted down: RSV1 is `0b100`.
///
/// They "MUST be 0 unless an extension is negotiated that defines meanings for
/// non-zero values" (section 5.2). The decoder takes the bits an extension has
/// claimed as a parameter, so permessage-deflate can claim RSV1 without
/// changing this layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rsv(u8);

impl Rsv {
    /// No bit set: what every frame carries without extensions.
    pub const NONE: Rsv = Rsv(0);
    /// RSV1, claimed by permessage-deflate (RFC 7692).
    pub const RSV1: Rsv = Rsv(0b100);
    /// RSV2.
    pub const RSV2: Rsv = Rsv(0b010);
    /// RSV3.
    pub const RSV3: Rsv = Rsv(0b001);
    /// All three bits.
    pub const ALL: Rsv = Rsv(0b111);

    /// The bits from their 3-bit value; higher bits are dropped.
    pub const fn from_bits(bits: u8) -> Rsv {
        Rsv(bits & 0b111)
    }

    /// The 3-bit value.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Rsv) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for Rsv {
    type Output = Rsv;
    fn bitor(self, rhs: Rsv) -> Rsv {
        Rsv(self.0 | rhs.0)
    }
}

/// A decoded or to-be-encoded frame header (section 5.2).
///
/// ```
/// use rfc6455::frame::{FrameHeader, HeaderStatus, OpCode, Rsv, MAX_HEADER_LEN};
///
/// // Section 5.7: a single-frame masked text message, "Hello".
/// let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let HeaderStatus::Complete { header, len } = FrameHeader::decode(&wire, Rsv::NONE)? else {
///     unreachable!("the header is complete");
/// };
/// assert_eq!(len, 6);
/// assert_eq!(header.opcode, OpCode::Text);
/// assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
/// assert_eq!(header.payload_len, 5);
///
/// let mut out = [0; MAX_HEADER_LEN];
/// let n = header.encode(&mut out);
/// assert_eq!(&out[..n], &wire[..6]);
/// # Ok::<(), rfc6455::frame::FrameError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Whether this is the final fragment of a message.
    pub fin: bool,
    /// The reserved bits.
    pub rsv: Rsv,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key, present on every frame a client sends (section 5.3).
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes; at most `2^63 - 1`.
    pub payload_len: u64,
}

/// The result of decoding a header from the bytes received so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum HeaderStatus {
    /// A whole header, and how many bytes of the input it used.
    Complete {
        /// The header.
        header: FrameHeader,
        /// Bytes used; the payload starts there.
        len: usize,
    },
    /// The input ends inside the header: at least `needed` bytes in all are
    /// required before it can be decoded.
    Partial {
        /// The smallest total input length that could hold the header.
        needed: usize,
    },
}

impl FrameHeader {
    /// A header with FIN set, no RSV bits and no mask.
    pub fn new(opcode: OpCode, payload_len: u64) -> Self {
        FrameHeader {
            fin: true,
            rsv: Rsv::NONE,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Decodes a header from the start of `buf`.
    ///
    /// `allowed_rsv` names the RSV bits that negotiated extensions have
    /// claimed; any other bit set is [`FrameError::ReservedBitsSet`]. Errors
    /// are reported as soon as the bytes that show them are present, even if
    /// the header is not complete yet.
    #[inline]
    pub fn decode(buf: &[u8], allowed_rsv: Rsv) -> Result<HeaderStatus, FrameError> {
        let (first, second) = match *buf {
            [first, second, ..] => (first, second),
            [first] => {
                Self::check_first(first, allowed_rsv)?;
                return Ok(HeaderStatus::Partial { needed: 2 });
            }
            [] => return Ok(HeaderStatus::Partial { needed: 2 }),
        };
        let (fin, rsv, opcode) = Self::check_first(first, allowed_rsv)?;
        let masked = second & 0x80 != 0;
        let len7 = second & 0x7F;
        if opcode.is_control() && u64::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(FrameError::ControlFrameTooLong);
        }
        let extended = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let key_at = 2 + extended;
        let needed = key_at + if masked { 4 } else { 0 };
        if buf.len() < needed {
            // Report a bad length as soon as its bytes are in.
            if buf.len() >= key_at {
                Self::extended_length(len7, &buf[2..key_at])?;
            }
            return Ok(HeaderStatus::Partial { needed });
        }
        let payload_len = Self::extended_length(len7, &buf[2..key_at])?;
        let mask = match buf.get(key_at..key_at + 4) {
            Some(&[a, b, c, d]) if masked => Some([a, b, c, d]),
            _ => None,
        };
        Ok(HeaderStatus::Complete {
            header: FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            len: needed,
        })
    }

    /// The rules the first byte alone shows: FIN, the RSV bits and the
    /// opcode.
    #[inline]
    fn check_first(first: u8, allowed_rsv: Rsv) -> Result<(bool, Rsv, OpCode), FrameError> {
        let fin = first & 0x80 != 0;
        let rsv = Rsv::from_bits(first >> 4);
        // Section 5.2: "If an unknown opcode is received, the receiving
        // endpoint MUST _Fail the WebSocket Connection_."
        let opcode = OpCode::try_from(first & 0x0F)?;
        // Section 5.2: RSV1-3 "MUST be 0 unless an extension is negotiated
        // that defines meanings for non-zero values."
        if !allowed_rsv.contains(rsv) {
            return Err(FrameError::ReservedBitsSet(rsv));
        }
        // Section 5.5: "All control frames MUST have a payload length of 125
        // bytes or less and MUST NOT be fragmented."
        if opcode.is_control() && !fin {
            return Err(FrameError::FragmentedControlFrame);
        }
        Ok((fin, rsv, opcode))
    }

    /// The payload length from the 7-bit field and the extended bytes.
    #[inline]
    fn extended_length(len7: u8, extended: &[u8]) -> Result<u64, FrameError> {
        match *extended {
            [] => Ok(u64::from(len7)),
            [a, b] => {
                let len = u64::from(u16::from_be_bytes([a, b]));
                // Section 5.2: "the minimal number of bytes MUST be used to
                // encode the length".
                if len < 126 {
                    return Err(FrameError::NonMinimalLength);
                }
                Ok(len)
            }
            [a, b, c, d, e, f, g, h] => {
                let len = u64::from_be_bytes([a, b, c, d, e, f, g, h]);
                // Section 5.2: "the most significant bit MUST be 0".
                if len >> 63 != 0 {
                    return Err(FrameError::LengthTopBitSet);
                }
                if len <= u64::from(u16::MAX) {
                    return Err(FrameError::NonMinimalLength);
                }
                Ok(len)
            }
            _ => unreachable!("extended lengths are 0, 2 or 8 bytes"),
        }
    }

    /// How many bytes [`encode`](Self::encode) writes: 2 to 14.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        let extended = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + extended + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Writes the header into `out` with the minimal length form (7, 16 or
    /// 64 bits) and returns how many bytes it wrote.
    ///
    /// A `payload_len` with the top bit set cannot be represented; it is
    /// written with that bit cleared, so keep lengths below `2^63`.
    #[inline]
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | (self.rsv.bits() << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut at = match self.payload_len {
            len @ 0..=125 => {
                out[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&(len & (u64::MAX >> 1)).to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[at..at + 4].copy_from_slice(&key);
            at += 4;
        }
        at
    }
}

/// A frame header that breaks a rule of section 5.2 or 5.5. Every variant
/// fails the connection with [`CloseCode::ProtocolError`] (1002).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The opcode is one of the reserved values 0x3-0x7 or 0xB-0xF.
    #[error("reserved opcode {0:#x}")]
    ReservedOpCode(u8),
    /// An RSV bit is set that no negotiated extension has claimed.
    #[error("reserved bits {:#05b} set without an extension that claims them", .0.bits())]
    ReservedBitsSet(Rsv),
    /// A control frame has FIN clear; control frames must not be fragmented.
    #[error("fragmented control frame")]
    FragmentedControlFrame,
    /// A control frame's payload is longer than 125 bytes.
    #[error("control frame payload longer than 125 bytes")]
    ControlFrameTooLong,
    /// A 64-bit payload length has its most significant bit set.
    #[error("64-bit payload length with the most significant bit set")]
    LengthTopBitSet,
    /// A length written in a longer form than needed.
    #[error("payload length not in its minimal form")]
    NonMinimalLength,
}

impl FrameError {
    /// The close code this error puts on the wire: always 1002.
    pub fn close_code(&self) -> CloseCode {
        CloseCode::ProtocolError
    }
}

/// A frame on the wire with no RSV bit, its payload masked with `mask` when
/// given: for the connection's tests (which need `std`).
#[cfg(all(test, feature = "std"))]
pub(crate) fn wire_frame(
    fin: bool,
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> alloc::vec::Vec<u8> {
    let header = FrameHeader {
        fin,
        rsv: Rsv::NONE,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut out = head[..n].to_vec();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        crate::mask::apply_mask(&mut out[n..], key);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode(bytes: &[u8]) -> Result<HeaderStatus, FrameError> {
        FrameHeader::decode(bytes, Rsv::NONE)
    }

    fn encode(header: &FrameHeader) -> Vec<u8> {
        let mut out = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut out);
        out[..n].to_vec()
    }

    #[test]
    fn empty_and_one_byte_inputs_are_partial() {
        assert_eq!(decode(&[]), Ok(HeaderStatus::Partial { needed: 2 }));
        assert_eq!(decode(&[0x82]), Ok(HeaderStatus::Partial { needed: 2 }));
        assert_eq!(
            decode(&[0x82, 0xFE]),
            Ok(HeaderStatus::Partial { needed: 8 })
        );
    }

    #[test]
    fn allowed_rsv_bits_pass() {
        let status = FrameHeader::decode(&[0xC1, 0x00], Rsv::RSV1).unwrap();
        let HeaderStatus::Complete { header, .. } = status else {
            panic!("complete expected")
        };
        assert_eq!(header.rsv, Rsv::RSV1);
        assert_eq!(
            FrameHeader::decode(&[0xE1, 0x00], Rsv::RSV1),
            Err(FrameError::ReservedBitsSet(Rsv::RSV1 | Rsv::RSV2))
        );
    }

    #[test]
    fn errors_show_before_the_header_is_complete() {
        // A 64-bit length with the top bit set, mask key not yet arrived.
        let bytes = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(decode(&bytes), Err(FrameError::LengthTopBitSet));
    }

    #[test]
    fn encoded_len_matches_encode() {
        for len in [0, 125, 126, 0xFFFF, 0x1_0000, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let header = FrameHeader {
                    mask,
                    ..FrameHeader::new(OpCode::Binary, len)
                };
                assert_eq!(header.encoded_len(), encode(&header).len());
            }
        }
    }

    fn any_opcode() -> impl Strategy<Value = OpCode> {
        prop_oneof![
            Just(OpCode::Continuation),
            Just(OpCode::Text),
            Just(OpCode::Binary),
            Just(OpCode::Close),
            Just(OpCode::Ping),
            Just(OpCode::Pong),
        ]
    }

    /// Every header that is valid on the wire.
    fn any_valid_header() -> impl Strategy<Value = FrameHeader> {
        (
            any::<bool>(),
            0u8..8,
            any_opcode(),
            any::<Option<[u8; 4]>>(),
            prop_oneof![0u64..=125, 126u64..=0xFFFF, 0x1_0000u64..=(u64::MAX >> 1)],
        )
            .prop_map(|(fin, rsv, opcode, mask, len)| {
                let control = opcode.is_control();
                FrameHeader {
                    fin: fin || control,
                    rsv: Rsv::from_bits(rsv),
                    opcode,
                    mask,
                    payload_len: if control { len % 126 } else { len },
                }
            })
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips(header in any_valid_header()) {
            let bytes = encode(&header);
            prop_assert_eq!(
                FrameHeader::decode(&bytes, Rsv::ALL),
                Ok(HeaderStatus::Complete { header, len: bytes.len() })
            );
        }

        #[test]
        fn every_strict_prefix_is_partial(header in any_valid_header()) {
            let bytes = encode(&header);
            for end in 0..bytes.len() {
                let status = FrameHeader::decode(&bytes[..end], Rsv::ALL);
                prop_assert!(
                    matches!(status, Ok(HeaderStatus::Partial { needed }) if needed > end && needed <= bytes.len()),
                    "prefix {} of {:?} gave {:?}", end, bytes, status
                );
            }
        }

        #[test]
        fn decode_never_reads_past_input_or_panics(bytes in proptest::collection::vec(any::<u8>(), 0..20)) {
            if let Ok(HeaderStatus::Complete { len, header }) = FrameHeader::decode(&bytes, Rsv::ALL) {
                prop_assert!(len <= bytes.len());
                prop_assert_eq!(encode(&header), bytes[..len].to_vec());
            }
        }
    }
}
