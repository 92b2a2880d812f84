//! The examples of RFC 6455 section 5.7, byte for byte, decoded and encoded.

use rfc6455::frame::{FrameHeader, HeaderStatus, MAX_HEADER_LEN, OpCode, Rsv};
use rfc6455::mask::apply_mask;

/// A whole frame: its header, then its payload as sent (masked if the header
/// has a key).
struct Example {
    name: &'static str,
    wire: Vec<u8>,
    fin: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: Vec<u8>,
}

fn examples() -> Vec<Example> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    vec![
        Example {
            name: "single-frame unmasked text",
            wire: vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            fin: true,
            opcode: OpCode::Text,
            mask: None,
            payload: b"Hello".to_vec(),
        },
        Example {
            name: "single-frame masked text",
            wire: vec![
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
            fin: true,
            opcode: OpCode::Text,
            mask: Some(key),
            payload: b"Hello".to_vec(),
        },
        Example {
            name: "fragmented text, first frame",
            wire: vec![0x01, 0x03, 0x48, 0x65, 0x6c],
            fin: false,
            opcode: OpCode::Text,
            mask: None,
            payload: b"Hel".to_vec(),
        },
        Example {
            name: "fragmented text, last frame",
            wire: vec![0x80, 0x02, 0x6c, 0x6f],
            fin: true,
            opcode: OpCode::Continuation,
            mask: None,
            payload: b"lo".to_vec(),
        },
        Example {
            name: "unmasked ping",
            wire: vec![0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            fin: true,
            opcode: OpCode::Ping,
            mask: None,
            payload: b"Hello".to_vec(),
        },
        Example {
            name: "masked pong",
            wire: vec![
                0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
            fin: true,
            opcode: OpCode::Pong,
            mask: Some(key),
            payload: b"Hello".to_vec(),
        },
    ]
}

#[test]
fn decode_gives_the_rfc_fields_and_payload() {
    for example in examples() {
        let status = FrameHeader::decode(&example.wire, Rsv::NONE).unwrap();
        let HeaderStatus::Complete { header, len } = status else {
            panic!("{}: header incomplete", example.name);
        };
        assert_eq!(header.fin, example.fin, "{}", example.name);
        assert_eq!(header.opcode, example.opcode, "{}", example.name);
        assert_eq!(header.mask, example.mask, "{}", example.name);
        assert_eq!(
            header.payload_len,
            example.payload.len() as u64,
            "{}",
            example.name
        );
        let mut payload = example.wire[len..].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key);
        }
        assert_eq!(payload, example.payload, "{}", example.name);
    }
}

#[test]
fn encode_gives_the_rfc_bytes() {
    for example in examples() {
        let header = FrameHeader {
            fin: example.fin,
            rsv: Rsv::NONE,
            opcode: example.opcode,
            mask: example.mask,
            payload_len: example.payload.len() as u64,
        };
        let mut out = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut out);
        let mut wire = out[..n].to_vec();
        let mut payload = example.payload.clone();
        if let Some(key) = example.mask {
            apply_mask(&mut payload, key);
        }
        wire.extend_from_slice(&payload);
        assert_eq!(wire, example.wire, "{}", example.name);
    }
}

#[test]
fn the_256_and_65536_byte_binary_headers() {
    // "256 bytes binary message in a single unmasked frame": 0x82 0x7E 0x0100.
    // "64KiB binary message in a single unmasked frame": 0x82 0x7F 0x0000000000010000.
    let cases: [(u64, &[u8]); 2] = [
        (256, &[0x82, 0x7E, 0x01, 0x00]),
        (65536, &[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]),
    ];
    for (len, wire) in cases {
        let header = FrameHeader::new(OpCode::Binary, len);
        let mut out = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut out);
        assert_eq!(&out[..n], wire, "encode {len}");
        assert_eq!(
            FrameHeader::decode(wire, Rsv::NONE),
            Ok(HeaderStatus::Complete {
                header,
                len: wire.len()
            }),
            "decode {len}"
        );
    }
}
