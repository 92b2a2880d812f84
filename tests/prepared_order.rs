//! Prepared messages take their place in the send queue as ordinary sends
//! do: in order with messages, pings and this end's close, with the same
//! errors and the same `buffered_amount`, and a pong still overtakes a long
//! prepared message at a frame boundary (RFC 6455 section 5.4).
#![cfg(feature = "std")]
mod common;

use common::{client_frame, drain};
use rfc6455::frame::OpCode;
use rfc6455::message::DataKind;
use rfc6455::{
    CloseCode, CloseFrame, Config, Connection, Event, Message, PreparedMessage, Role, SendError,
};

fn big(len: usize) -> Message {
    Message::binary((0..len).map(|i| (i * 7) as u8).collect::<Vec<u8>>())
}

#[test]
fn prepared_and_ordinary_sends_pings_and_the_close_keep_their_order() {
    let config = Config::default();
    let large = PreparedMessage::for_config(big(200 << 10), &config);
    let small = PreparedMessage::for_config(Message::text("small"), &config);
    let mut server = Connection::new(Role::Server, config);
    server.send_text("first").unwrap();
    server.send_prepared(&large).unwrap();
    server.send(Message::binary(vec![1, 2, 3])).unwrap();
    server.send_prepared(&small).unwrap();
    server.send(big(20_000)).unwrap();
    server.send_prepared(&large).unwrap();

    let mut client = Connection::new(Role::Client, config);
    // Written piece by piece: a ping arrives between two pieces, then this
    // end closes (a close sent first would silence the pong).
    let mut wire = Vec::new();
    let mut pieces = 0;
    while let Some(piece) = server.poll_transmit() {
        wire.extend_from_slice(&piece);
        pieces += 1;
        if pieces == 3 {
            server.receive(&client_frame(true, OpCode::Ping, b"ping"));
            assert_eq!(drain(&mut server).0, [Event::Ping("ping".into())]);
            server.close(CloseCode::Normal, "bye").unwrap();
            assert_eq!(server.send_prepared(&small), Err(SendError::Closed));
        }
    }
    client.receive(&wire);
    let (events, error) = drain(&mut client);
    assert_eq!(error, None);
    let messages: Vec<&Event> = events
        .iter()
        .filter(|e| !matches!(e, Event::Pong(_)))
        .collect();
    assert_eq!(
        messages,
        [
            &Event::Message(Message::text("first")),
            &Event::Message(big(200 << 10)),
            &Event::Message(Message::binary(vec![1, 2, 3])),
            &Event::Message(Message::text("small")),
            &Event::Message(big(20_000)),
            &Event::Message(big(200 << 10)),
            &Event::Close(Some(CloseFrame::new(CloseCode::Normal, "bye").unwrap())),
        ]
    );
    // The pong overtook the data still queued: it came before the second
    // large message was through.
    let pong = events.iter().position(|e| matches!(e, Event::Pong(_)));
    let kinds: Vec<String> = events
        .iter()
        .map(|e| format!("{e:?}").chars().take(20).collect())
        .collect();
    assert!(pong.is_some_and(|at| at <= 2), "{kinds:?}");
}

#[test]
fn a_pong_goes_out_at_the_next_frame_boundary_of_a_prepared_message() {
    // Four frames of 64 KiB and one of 8 KiB, queued by handle.
    let config = Config::default();
    let prepared = PreparedMessage::for_config(big(264 << 10), &config);
    let frame = 10 + (64 << 10);
    for written in [0, 1, 1000, frame - 1, frame, frame + 3] {
        let mut server = Connection::new(Role::Server, config);
        server.send_prepared(&prepared).unwrap();
        // The writer took `written` bytes when the ping arrived.
        let mut wire = Vec::new();
        while wire.len() < written {
            let run = server.transmit().first();
            let n = run.len().min(written - wire.len());
            wire.extend_from_slice(&run[..n]);
            server.advance_transmit(n);
        }
        server.receive(&client_frame(true, OpCode::Ping, b"!"));
        drain(&mut server);
        wire.extend_from_slice(&server.take_transmit());

        // The pong starts at the first frame boundary at or after `written`.
        let boundary = written.div_ceil(frame) * frame;
        assert_eq!(&wire[boundary..boundary + 3], [0x8a, 1, b'!'], "{written}");
        let mut client = Connection::new(Role::Client, config);
        client.receive(&wire);
        assert_eq!(
            drain(&mut client),
            (
                vec![Event::Pong("!".into()), Event::Message(big(264 << 10))],
                None
            ),
            "{written}"
        );
    }
}

#[test]
fn it_fails_as_send_does_and_counts_as_send_does() {
    let config = Config::default().send_frame_size(1000);
    for len in [0, 10, 5000, 16 << 10, 100_000] {
        let prepared = PreparedMessage::for_config(big(len), &config);
        let mut shared = Connection::new(Role::Server, config);
        let mut ordinary = Connection::new(Role::Server, config);
        shared.send_prepared(&prepared).unwrap();
        ordinary.send(big(len)).unwrap();
        assert_eq!(
            shared.buffered_amount(),
            ordinary.buffered_amount(),
            "{len}"
        );
        // Half written, then the rest: the count goes down as the bytes go.
        let half = shared.buffered_amount() / 2;
        let mut taken = 0;
        while taken < half {
            let n = shared.transmit().len().min(half - taken);
            shared.advance_transmit(n);
            taken += n;
        }
        assert_eq!(shared.buffered_amount(), ordinary.buffered_amount() - half);
    }

    let prepared = PreparedMessage::for_config(Message::text("x"), &config);
    let mut server = Connection::new(Role::Server, config);
    server
        .send_fragment(DataKind::Text, b"part", false)
        .unwrap();
    assert_eq!(
        server.send_prepared(&prepared),
        Err(SendError::MessageInProgress)
    );
    server.send_fragment(DataKind::Text, b"", true).unwrap();
    server.send_prepared(&prepared).unwrap();

    // After the peer's close, as after our own.
    let mut server = Connection::new(Role::Server, config);
    server.receive(&client_frame(true, OpCode::Close, &[0x03, 0xe8]));
    drain(&mut server);
    assert_eq!(server.send_prepared(&prepared), Err(SendError::Closed));
}

#[test]
fn the_peers_close_drops_the_prepared_frames_not_started() {
    let config = Config::default();
    let prepared = PreparedMessage::for_config(big(200 << 10), &config);
    let mut server = Connection::new(Role::Server, config);
    server.send_prepared(&prepared).unwrap();
    server.send_prepared(&prepared).unwrap();
    // 100 bytes of the first frame are out when the peer's close arrives.
    let mut wire = server.transmit().first()[..100].to_vec();
    server.advance_transmit(100);
    server.receive(&client_frame(true, OpCode::Close, &[0x03, 0xe8]));
    drain(&mut server);
    wire.extend_from_slice(&server.take_transmit());
    // The first frame is finished, then the close; nothing more.
    assert_eq!(wire.len(), 10 + (64 << 10) + 4);
    assert_eq!(&wire[wire.len() - 4..], [0x88, 2, 0x03, 0xe8]);
    assert!(server.is_done());
}
