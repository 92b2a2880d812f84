//! permessage-deflate on the wire: the examples of RFC 7692 section 7.2.3
//! in both directions, the RSV1 rules of section 6, corrupt data, limits on
//! inflated bytes, and UTF-8 checked on inflated text.
#![cfg(feature = "deflate")]

mod common;

use common::{KEY, client_frame, drain, raw_frame, server_frame};
use rfc6455::deflate::{DeflateConfig, DeflateParams};
use rfc6455::frame::{FrameError, OpCode, Rsv};
use rfc6455::message::MessageError;
use rfc6455::{CloseCode, Config, Connection, Event, Message, ProtocolError, Role, State};

fn config() -> Config {
    Config::default().deflate(DeflateConfig::default().min_size(0))
}

fn connection(role: Role, params: DeflateParams) -> Connection {
    Connection::with_deflate(role, config(), Some(params))
}

fn messages(events: Vec<Event>) -> Vec<Message> {
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// Section 7.2.3.1: "Hello" in one compressed block.
const HELLO: &[u8] = &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
/// Section 7.2.3.2: the same, again, with the sliding window shared.
const HELLO_AGAIN: &[u8] = &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];
/// Section 7.2.3.3: a stored block.
const STORED: &[u8] = &[
    0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
];
/// Section 7.2.3.4: a block with BFINAL set.
const BFINAL: &[u8] = &[0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
/// Section 7.2.3.5: two blocks in one message.
const TWO_BLOCKS: &[u8] = &[
    0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
];
/// Section 7.2.3.1, fragmented: the compressed bytes in two frames.
const HELLO_FRAGMENTED: &[u8] = &[
    0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
];

#[test]
fn the_rfc_examples_inflate() {
    let mut client = connection(Role::Client, DeflateParams::default());
    for wire in [
        HELLO,
        HELLO_AGAIN,
        STORED,
        BFINAL,
        TWO_BLOCKS,
        HELLO_FRAGMENTED,
        HELLO,
    ] {
        // Any chunking: here one byte at a time.
        for byte in wire {
            client.receive(&[*byte]);
        }
        let (events, error) = drain(&mut client);
        assert_eq!(error, None, "{wire:02x?}");
        assert_eq!(messages(events), [Message::text("Hello")], "{wire:02x?}");
    }
}

#[test]
fn the_rfc_examples_compress() {
    // A server sends unmasked frames: the bytes are the RFC's.
    let mut server = connection(Role::Server, DeflateParams::default());
    server.send_text("Hello").unwrap();
    assert_eq!(&server.take_transmit()[..], HELLO);
    server.send_text("Hello").unwrap();
    assert_eq!(&server.take_transmit()[..], HELLO_AGAIN);

    // Without context takeover, the second is the first again.
    let params = DeflateParams::new(true, false, 15, 15);
    let mut server = connection(Role::Server, params);
    server.send_text("Hello").unwrap();
    assert_eq!(&server.take_transmit()[..], HELLO);
    server.send_text("Hello").unwrap();
    assert_eq!(&server.take_transmit()[..], HELLO);
}

#[test]
fn without_takeover_the_receiver_resets() {
    // The server said it resets its context: the client's inflater does too,
    // so the shared-window form of the second message is not understood.
    let params = DeflateParams::new(true, false, 15, 15);
    let mut client = connection(Role::Client, params);
    client.receive(HELLO);
    client.receive(HELLO);
    let (events, error) = drain(&mut client);
    assert_eq!(error, None);
    assert_eq!(messages(events).len(), 2);
    client.receive(HELLO_AGAIN);
    let (_, error) = drain(&mut client);
    assert_eq!(
        error,
        Some(ProtocolError::Message(MessageError::InvalidCompressedData))
    );
}

#[test]
fn empty_messages_compress_to_a_valid_payload() {
    let mut client = connection(Role::Client, DeflateParams::default());
    let mut server = connection(Role::Server, DeflateParams::default());
    for text in ["", "", "abc", "", "abcabc", ""] {
        client.send_text(text).unwrap();
        let wire = client.take_transmit();
        assert_eq!(wire[0], 0xc1, "RSV1 on {text:?}");
        server.receive(&wire);
        let (events, error) = drain(&mut server);
        assert_eq!(error, None);
        assert_eq!(messages(events), [Message::text(text)]);
    }
}

#[test]
fn rsv1_only_on_the_first_frame_of_a_data_message() {
    let mut client = connection(Role::Client, DeflateParams::default());
    let mut server = connection(Role::Server, DeflateParams::default());
    client
        .send_fragment(rfc6455::message::DataKind::Binary, b"first part ", false)
        .unwrap();
    let first = client.take_transmit();
    assert_eq!(first[0], 0x42, "first fragment: RSV1, binary, not FIN");
    client.ping(b"between").unwrap();
    client
        .send_fragment(rfc6455::message::DataKind::Binary, b"second part", true)
        .unwrap();
    let rest = client.take_transmit();
    // The ping overtakes the unsent fragment; the last fragment is a
    // continuation without RSV1.
    assert_eq!(rest[0], 0x89, "the ping, between the fragments");
    let ping_len = 2 + 4 + b"between".len();
    assert_eq!(
        rest[ping_len], 0x80,
        "last fragment: FIN, continuation, no RSV1"
    );
    server.receive(&first);
    server.receive(&rest);
    let (events, error) = drain(&mut server);
    assert_eq!(error, None);
    assert!(matches!(events[0], Event::Ping(_)));
    assert_eq!(
        messages(events),
        [Message::binary(&b"first part second part"[..])]
    );
    // A pong answered to the ping never carries RSV1.
    let pong = server.take_transmit();
    assert_eq!(pong[0], 0x8a);
}

#[test]
fn uncompressed_messages_still_pass() {
    let mut client = connection(Role::Client, DeflateParams::default());
    let mut server = connection(Role::Server, DeflateParams::default());
    client.send_uncompressed(Message::text("secret")).unwrap();
    let wire = client.take_transmit();
    assert_eq!(wire[0], 0x81, "no RSV1");
    server.receive(&wire);
    let (events, _) = drain(&mut server);
    assert_eq!(messages(events), [Message::text("secret")]);

    // Below the threshold, uncompressed too.
    let config = Config::default().deflate(DeflateConfig::default().min_size(10));
    let mut small = Connection::with_deflate(Role::Server, config, Some(DeflateParams::default()));
    small.send_text("short").unwrap();
    assert_eq!(small.take_transmit()[0], 0x81);
    small.send_text("long enough").unwrap();
    assert_eq!(small.take_transmit()[0], 0xc1);
}

/// Feeds `wire` to a client or server with deflate agreed and returns the
/// error and the close code queued.
fn failure(role: Role, config: Config, wire: &[u8]) -> (Option<ProtocolError>, u16) {
    let mut connection = Connection::with_deflate(role, config, Some(DeflateParams::default()));
    connection.receive(wire);
    let (_, error) = drain(&mut connection);
    assert_eq!(connection.state(), State::Closed);
    let out = connection.take_transmit();
    // The close frame is the last thing queued: unmasked from a server,
    // masked from a client; its code sits in the first two payload bytes.
    let code = match role {
        Role::Server => u16::from_be_bytes([out[out.len() - 2], out[out.len() - 1]]),
        Role::Client => {
            let n = out.len();
            let key = [out[n - 6], out[n - 5], out[n - 4], out[n - 3]];
            u16::from_be_bytes([out[n - 2] ^ key[0], out[n - 1] ^ key[1]])
        }
    };
    (error, code)
}

#[test]
fn misplaced_rsv1_corrupt_data_and_bad_text() {
    let rsv1 = |first: u8, payload: &[u8]| raw_frame(first, Some(KEY), payload);
    let cases: Vec<(&str, Vec<u8>, ProtocolError, u16)> = vec![
        (
            "RSV1 on a continuation",
            [
                rsv1(0x41, &[0xf2, 0x48, 0xcd]),
                rsv1(0xc0, &[0xc9, 0xc9, 0x07, 0x00]),
            ]
            .concat(),
            ProtocolError::Message(MessageError::CompressedContinuation),
            1002,
        ),
        (
            "RSV1 on a ping",
            rsv1(0xc9, b"x"),
            ProtocolError::Frame(FrameError::ReservedBitsSet(Rsv::RSV1)),
            1002,
        ),
        (
            "RSV1 on a close",
            rsv1(0xc8, &[0x03, 0xe8]),
            ProtocolError::Frame(FrameError::ReservedBitsSet(Rsv::RSV1)),
            1002,
        ),
        (
            "RSV2 on a data frame",
            rsv1(0xa1, b"x"),
            ProtocolError::Frame(FrameError::ReservedBitsSet(Rsv::RSV2)),
            1002,
        ),
        (
            "a reserved block type",
            rsv1(0xc1, &[0xff, 0xff, 0xff]),
            ProtocolError::Message(MessageError::InvalidCompressedData),
            1007,
        ),
        (
            "a stored block whose lengths disagree",
            rsv1(0xc1, &[0x00, 0x05, 0x00, 0x00, 0x00, b'H']),
            ProtocolError::Message(MessageError::InvalidCompressedData),
            1007,
        ),
        (
            "inflated text that is not UTF-8",
            // A stored block holding 0xff.
            rsv1(0xc1, &[0x00, 0x01, 0x00, 0xfe, 0xff, 0xff]),
            ProtocolError::Message(MessageError::InvalidUtf8),
            1007,
        ),
    ];
    for (name, wire, error, code) in cases {
        let (got, sent) = failure(Role::Server, config(), &wire);
        assert_eq!(got, Some(error), "{name}");
        assert_eq!(sent, code, "{name}: close code on the wire");
        assert_eq!(u16::from(error.close_code()), code, "{name}");
    }
}

#[test]
fn invalid_text_fails_before_the_frame_ends() {
    // A stored block announcing 100 bytes that start with 0xff: the error
    // comes as soon as the inflated 0xff does, before the frame is whole.
    let mut payload = vec![0x00, 100, 0x00, !100, 0xff, 0xff];
    payload.extend_from_slice(&[b'a'; 99]);
    let wire = client_frame(true, OpCode::Text, &payload);
    let mut wire = wire;
    wire[0] |= 0x40;
    let mut server =
        Connection::with_deflate(Role::Server, config(), Some(DeflateParams::default()));
    server.receive(&wire[..wire.len() - 90]);
    let (_, error) = drain(&mut server);
    assert_eq!(
        error,
        Some(ProtocolError::Message(MessageError::InvalidUtf8))
    );
}

#[test]
fn without_agreement_rsv1_is_a_protocol_error() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&raw_frame(0xc1, Some(KEY), &HELLO[2..]));
    let (_, error) = drain(&mut server);
    assert_eq!(
        error,
        Some(ProtocolError::Frame(FrameError::ReservedBitsSet(Rsv::RSV1)))
    );
    assert_eq!(error.unwrap().close_code(), CloseCode::ProtocolError);
    // And with_deflate(None) is the same as new.
    let mut server = Connection::with_deflate(Role::Server, config(), None);
    assert_eq!(server.deflate(), None);
    server.receive(&raw_frame(0xc1, Some(KEY), &HELLO[2..]));
    assert!(drain(&mut server).1.is_some());
}

#[test]
fn the_limit_counts_inflated_bytes() {
    // 64 KiB of zeros compresses to a few hundred bytes.
    let mut sender = connection(Role::Client, DeflateParams::default());
    sender.send_binary(&[0u8; 65536]).unwrap();
    let wire = sender.take_transmit();
    assert!(wire.len() < 1024);

    let limits = config().max_message_size(65536);
    let mut server = Connection::with_deflate(Role::Server, limits, Some(DeflateParams::default()));
    server.receive(&wire);
    let (events, error) = drain(&mut server);
    assert_eq!(error, None);
    assert_eq!(messages(events)[0].len(), 65536);

    let limits = config().max_message_size(65535);
    let (error, code) = failure(Role::Server, limits, &wire);
    assert!(
        matches!(
            error,
            Some(ProtocolError::Message(MessageError::MessageTooBig {
                max: 65535,
                ..
            }))
        ),
        "{error:?}"
    );
    assert_eq!(code, 1009);
}

#[test]
fn the_agreed_parameters_are_visible() {
    let params = DeflateParams::new(true, false, 10, 12);
    let server = connection(Role::Server, params);
    assert_eq!(server.deflate(), Some(&params));
    assert_eq!(server.deflate().unwrap().client_max_window_bits(), 12);
    let plain = Connection::new(Role::Server, Config::default());
    assert_eq!(plain.deflate(), None);
    // A server frame in the other direction, for symmetry of the helpers.
    assert_eq!(server_frame(true, OpCode::Text, b"")[0], 0x81);
}
