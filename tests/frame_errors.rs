//! Hand-built header bytes that break a rule of section 5.2 or 5.5, each
//! giving its exact error and close code.

use rfc6455::close::CloseCode;
use rfc6455::frame::{FrameError, FrameHeader, Rsv};

#[test]
fn every_header_rule_has_its_error_and_close_code() {
    let table: &[(&str, &[u8], Rsv, FrameError)] = &[
        (
            "reserved opcode 0x3",
            &[0x83, 0x00],
            Rsv::NONE,
            FrameError::ReservedOpCode(0x3),
        ),
        (
            "reserved opcode 0x7",
            &[0x87],
            Rsv::NONE,
            FrameError::ReservedOpCode(0x7),
        ),
        (
            "reserved opcode 0xB",
            &[0x8B, 0x00],
            Rsv::NONE,
            FrameError::ReservedOpCode(0xB),
        ),
        (
            "reserved opcode 0xF",
            &[0x8F, 0x80],
            Rsv::NONE,
            FrameError::ReservedOpCode(0xF),
        ),
        (
            "RSV1 without extension",
            &[0xC1, 0x00],
            Rsv::NONE,
            FrameError::ReservedBitsSet(Rsv::RSV1),
        ),
        (
            "RSV2 without extension",
            &[0xA2, 0x00],
            Rsv::NONE,
            FrameError::ReservedBitsSet(Rsv::RSV2),
        ),
        (
            "RSV3 without extension",
            &[0x91, 0x00],
            Rsv::NONE,
            FrameError::ReservedBitsSet(Rsv::RSV3),
        ),
        (
            "RSV2 when only RSV1 is claimed",
            &[0xE1, 0x00],
            Rsv::RSV1,
            FrameError::ReservedBitsSet(Rsv::from_bits(0b110)),
        ),
        (
            "fragmented ping",
            &[0x09, 0x00],
            Rsv::NONE,
            FrameError::FragmentedControlFrame,
        ),
        (
            "fragmented close",
            &[0x08],
            Rsv::NONE,
            FrameError::FragmentedControlFrame,
        ),
        (
            "ping of 126 bytes",
            &[0x89, 0x7E, 0x00, 0x7E],
            Rsv::NONE,
            FrameError::ControlFrameTooLong,
        ),
        (
            "close with 64-bit length",
            &[0x88, 0xFF],
            Rsv::NONE,
            FrameError::ControlFrameTooLong,
        ),
        (
            "pong with 16-bit length",
            &[0x8A, 0x7E],
            Rsv::NONE,
            FrameError::ControlFrameTooLong,
        ),
        (
            "64-bit length, top bit set",
            &[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
            Rsv::NONE,
            FrameError::LengthTopBitSet,
        ),
        (
            "64-bit length 2^63 + 5, masked",
            &[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4],
            Rsv::NONE,
            FrameError::LengthTopBitSet,
        ),
        (
            "16-bit length 125",
            &[0x82, 0x7E, 0x00, 0x7D],
            Rsv::NONE,
            FrameError::NonMinimalLength,
        ),
        (
            "16-bit length 0",
            &[0x82, 0x7E, 0x00, 0x00],
            Rsv::NONE,
            FrameError::NonMinimalLength,
        ),
        (
            "64-bit length 65535",
            &[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
            Rsv::NONE,
            FrameError::NonMinimalLength,
        ),
        (
            "64-bit length 1",
            &[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 1],
            Rsv::NONE,
            FrameError::NonMinimalLength,
        ),
    ];
    for (name, bytes, allowed, expected) in table {
        assert_eq!(
            FrameHeader::decode(bytes, *allowed),
            Err(*expected),
            "{name}"
        );
        assert_eq!(expected.close_code(), CloseCode::ProtocolError, "{name}");
        assert_eq!(u16::from(expected.close_code()), 1002, "{name}");
    }
}

#[test]
fn the_smallest_lengths_of_each_form_are_accepted() {
    for bytes in [
        &[0x82, 0x7D][..],
        &[0x82, 0x7E, 0x00, 0x7E],
        &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0],
        &[0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        &[0x89, 0x7D],
    ] {
        assert!(FrameHeader::decode(bytes, Rsv::NONE).is_ok(), "{bytes:?}");
    }
}
