//! Hand-built frames that break a rule of RFC 6455 sections 5 to 8, each
//! failing the connection with its exact error and close code on the wire.
#![cfg(feature = "std")]

mod common;

use common::{KEY, client_frame, drain, raw_frame, server_frame};
use rfc6455::close::CloseError;
use rfc6455::frame::{FrameError, OpCode, Rsv};
use rfc6455::message::MessageError;
use rfc6455::{CloseCode, Config, Connection, Event, ProtocolError, Role, State};

fn concat(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

/// Feeds `wire` to a connection of `role`, expects `error`, and checks the
/// close frame that ends its output.
fn check(name: &str, role: Role, config: Config, wire: &[u8], error: ProtocolError, code: u16) {
    let mut connection = Connection::new(role, config);
    connection.receive(wire);
    let (_, got) = drain(&mut connection);
    assert_eq!(got, Some(error), "{name}: error");
    assert_eq!(u16::from(error.close_code()), code, "{name}: close code");
    assert_eq!(connection.state(), State::Closed, "{name}: state");

    // The last frame queued is a close with that code, read by the peer.
    let peer_role = match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let mut peer = Connection::new(peer_role, Config::default());
    peer.receive(&connection.take_transmit());
    let (events, peer_error) = drain(&mut peer);
    assert_eq!(peer_error, None, "{name}: the close frame itself is valid");
    match events.last() {
        Some(Event::Close(Some(frame))) => assert_eq!(u16::from(frame.code()), code, "{name}"),
        other => panic!("{name}: last event {other:?}, expected a close"),
    }

    // No further frame is accepted, and the error is not reported twice.
    connection.receive(&client_frame(true, OpCode::Text, b"more"));
    assert_eq!(
        drain(&mut connection),
        (vec![], None),
        "{name}: after the error"
    );
    assert_eq!(
        connection.buffered_amount(),
        0,
        "{name}: nothing after the close"
    );
}

/// (name, role of the receiver, its limits, bytes in, error, close code).
type Row = (&'static str, Role, Config, Vec<u8>, ProtocolError, u16);

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    [&code.to_be_bytes()[..], reason].concat()
}

#[test]
fn every_rule_fails_with_its_close_code() {
    use ProtocolError as E;
    let small = Config::default().max_frame_size(100).max_message_size(150);
    let d = Config::default();
    let table: Vec<Row> = vec![
        // Section 5.1: masking by role.
        (
            "unmasked frame to a server",
            Role::Server,
            d,
            server_frame(true, OpCode::Text, b"hi"),
            E::UnmaskedFrame,
            1002,
        ),
        (
            "masked frame to a client",
            Role::Client,
            d,
            client_frame(true, OpCode::Text, b"hi"),
            E::MaskedFrame,
            1002,
        ),
        // Section 5.2: header rules.
        (
            "reserved opcode 0x3",
            Role::Server,
            d,
            raw_frame(0x83, Some(KEY), b""),
            E::Frame(FrameError::ReservedOpCode(3)),
            1002,
        ),
        (
            "reserved opcode 0xB",
            Role::Server,
            d,
            raw_frame(0x8B, Some(KEY), b""),
            E::Frame(FrameError::ReservedOpCode(0xB)),
            1002,
        ),
        (
            "RSV1 without an extension",
            Role::Server,
            d,
            raw_frame(0xC1, Some(KEY), b"x"),
            E::Frame(FrameError::ReservedBitsSet(Rsv::RSV1)),
            1002,
        ),
        (
            "RSV3 without an extension",
            Role::Client,
            d,
            raw_frame(0x92, None, b"x"),
            E::Frame(FrameError::ReservedBitsSet(Rsv::RSV3)),
            1002,
        ),
        (
            "non-minimal 16-bit length",
            Role::Client,
            d,
            vec![0x82, 0x7E, 0x00, 0x05, 1, 2, 3, 4, 5],
            E::Frame(FrameError::NonMinimalLength),
            1002,
        ),
        (
            "64-bit length with the top bit",
            Role::Client,
            d,
            vec![0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1],
            E::Frame(FrameError::LengthTopBitSet),
            1002,
        ),
        // Section 5.5: control frames.
        (
            "fragmented ping",
            Role::Server,
            d,
            raw_frame(0x09, Some(KEY), b""),
            E::Frame(FrameError::FragmentedControlFrame),
            1002,
        ),
        (
            "ping over 125 bytes",
            Role::Server,
            d,
            client_frame(true, OpCode::Ping, &[0; 126]),
            E::Frame(FrameError::ControlFrameTooLong),
            1002,
        ),
        // Section 5.4: fragmentation.
        (
            "continuation with no message",
            Role::Server,
            d,
            client_frame(true, OpCode::Continuation, b"x"),
            E::Message(MessageError::UnexpectedContinuation),
            1002,
        ),
        (
            "text inside a fragmented text",
            Role::Server,
            d,
            concat(&[
                client_frame(false, OpCode::Text, b"a"),
                client_frame(true, OpCode::Text, b"b"),
            ]),
            E::Message(MessageError::UnfinishedMessage),
            1002,
        ),
        (
            "binary inside a fragmented binary",
            Role::Client,
            d,
            concat(&[
                server_frame(false, OpCode::Binary, b"a"),
                server_frame(false, OpCode::Binary, b"b"),
            ]),
            E::Message(MessageError::UnfinishedMessage),
            1002,
        ),
        // Section 8.1: UTF-8.
        (
            "invalid UTF-8 inside one frame",
            Role::Server,
            d,
            client_frame(
                true,
                OpCode::Text,
                b"ok \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            ),
            E::Message(MessageError::InvalidUtf8),
            1007,
        ),
        (
            "invalid UTF-8 split across fragments",
            Role::Server,
            d,
            concat(&[
                client_frame(false, OpCode::Text, b"ab\xf0\x9f"),
                client_frame(true, OpCode::Continuation, b"\x41"),
            ]),
            E::Message(MessageError::InvalidUtf8),
            1007,
        ),
        (
            "text ending inside a sequence",
            Role::Server,
            d,
            concat(&[
                client_frame(false, OpCode::Text, b"ab"),
                client_frame(true, OpCode::Continuation, b"\xe2\x82"),
            ]),
            E::Message(MessageError::InvalidUtf8),
            1007,
        ),
        (
            "invalid UTF-8 in a client's view",
            Role::Client,
            d,
            server_frame(true, OpCode::Text, b"\xff"),
            E::Message(MessageError::InvalidUtf8),
            1007,
        ),
        // Sections 5.5.1, 7.4: close payloads.
        (
            "close with one byte",
            Role::Server,
            d,
            client_frame(true, OpCode::Close, b"\x03"),
            E::Close(CloseError::OneBytePayload),
            1002,
        ),
        (
            "close code 999",
            Role::Server,
            d,
            client_frame(true, OpCode::Close, &close_payload(999, b"")),
            E::Close(CloseError::InvalidCode(999)),
            1002,
        ),
        (
            "close code 1005",
            Role::Server,
            d,
            client_frame(true, OpCode::Close, &close_payload(1005, b"")),
            E::Close(CloseError::InvalidCode(1005)),
            1002,
        ),
        (
            "close code 1006",
            Role::Server,
            d,
            client_frame(true, OpCode::Close, &close_payload(1006, b"")),
            E::Close(CloseError::InvalidCode(1006)),
            1002,
        ),
        (
            "close code 1016",
            Role::Server,
            d,
            client_frame(true, OpCode::Close, &close_payload(1016, b"")),
            E::Close(CloseError::InvalidCode(1016)),
            1002,
        ),
        (
            "close code 2999",
            Role::Client,
            d,
            server_frame(true, OpCode::Close, &close_payload(2999, b"")),
            E::Close(CloseError::InvalidCode(2999)),
            1002,
        ),
        (
            "close code 5000",
            Role::Server,
            d,
            client_frame(true, OpCode::Close, &close_payload(5000, b"")),
            E::Close(CloseError::InvalidCode(5000)),
            1002,
        ),
        (
            "close reason not UTF-8",
            Role::Server,
            d,
            client_frame(
                true,
                OpCode::Close,
                &close_payload(1000, b"\xce\xba\xe1\xbd"),
            ),
            E::Close(CloseError::InvalidUtf8Reason),
            1007,
        ),
        // Section 10.4: limits.
        (
            "frame over the frame limit",
            Role::Server,
            small,
            client_frame(true, OpCode::Binary, &[0; 101]),
            E::FrameTooBig { len: 101, max: 100 },
            1009,
        ),
        (
            "message over the limit across fragments",
            Role::Server,
            small,
            concat(&[
                client_frame(false, OpCode::Binary, &[0; 100]),
                client_frame(true, OpCode::Continuation, &[0; 51]),
            ]),
            E::Message(MessageError::MessageTooBig { len: 151, max: 150 }),
            1009,
        ),
    ];
    for (name, role, config, wire, error, code) in table {
        check(name, role, config, &wire, error, code);
    }
}

#[test]
fn bad_utf8_fails_before_the_rest_of_its_frame_arrives() {
    // A 1 MiB text frame whose 11th byte is invalid: only the first 64 bytes
    // have arrived when the connection fails.
    let mut payload = vec![b'a'; 1 << 20];
    payload[10] = 0xff;
    let wire = client_frame(true, OpCode::Text, &payload);
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&wire[..64]);
    let (_, error) = drain(&mut server);
    assert_eq!(
        error,
        Some(ProtocolError::Message(MessageError::InvalidUtf8))
    );
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn bad_utf8_fails_at_the_first_impossible_byte_of_a_fragment() {
    // "\xed\xa0" starts a surrogate: impossible as soon as the second byte is
    // in, though the frame and the message go on.
    let mut server = Connection::new(Role::Server, Config::default());
    let wire = concat(&[
        client_frame(false, OpCode::Text, "κόσμε".as_bytes()),
        client_frame(false, OpCode::Continuation, &[b'x'; 1000]),
    ]);
    server.receive(&wire);
    assert_eq!(drain(&mut server), (vec![], None));
    let next = client_frame(
        true,
        OpCode::Continuation,
        &[&b"\xed\xa0"[..], &[b'y'; 5000]].concat(),
    );
    server.receive(&next[..8 + 2]);
    assert_eq!(
        drain(&mut server).1,
        Some(ProtocolError::Message(MessageError::InvalidUtf8))
    );
}

#[test]
fn a_valid_frame_fed_byte_by_byte_does_not_fail() {
    let wire = client_frame(true, OpCode::Text, "κόσμε €𝄞".as_bytes());
    let mut server = Connection::new(Role::Server, Config::default());
    let mut events = Vec::new();
    for byte in wire {
        server.receive(&[byte]);
        let (got, error) = drain(&mut server);
        assert_eq!(error, None);
        events.extend(got);
    }
    assert_eq!(
        events,
        vec![Event::Message(rfc6455::Message::text("κόσμε €𝄞"))]
    );
}

#[test]
fn a_close_code_maps_to_one_wire_code_per_error_kind() {
    assert_eq!(
        ProtocolError::UnmaskedFrame.close_code(),
        CloseCode::ProtocolError
    );
    assert_eq!(
        ProtocolError::FrameTooBig { len: 1, max: 0 }.close_code(),
        CloseCode::MessageTooBig
    );
    assert_eq!(
        ProtocolError::Message(MessageError::InvalidUtf8).close_code(),
        CloseCode::InvalidPayload
    );
}

#[test]
fn what_was_sent_before_the_peer_broke_a_rule_goes_out_before_the_close() {
    // A text message, then a frame with an RSV bit no extension claimed, in
    // one read: the echo of the first is queued before the second fails
    // the connection (Autobahn 3.2 strictly: the echo, then 1002).
    let mut server = Connection::new(Role::Server, Config::default());
    let wire = concat(&[
        client_frame(true, OpCode::Text, b"first"),
        raw_frame(0x80 | 0x20 | 0x1, Some(KEY), b"bad"),
    ]);
    server.receive(&wire);
    let Ok(Some(Event::Message(message))) = server.poll_event() else {
        panic!("the first message");
    };
    server.send(message).unwrap();
    assert!(matches!(
        server.poll_event(),
        Err(ProtocolError::Frame(FrameError::ReservedBitsSet(_)))
    ));
    let mut expected = server_frame(true, OpCode::Text, b"first");
    expected.extend(server_frame(true, OpCode::Close, &close_payload(1002, b"")));
    assert_eq!(server.take_transmit(), expected);
}
