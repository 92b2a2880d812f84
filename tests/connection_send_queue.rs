//! Every way of taking bytes from the send queue (`transmit` one slice or
//! all its slices at a time, with `advance_transmit`; `poll_transmit`;
//! `take_transmit`)
//! gives frames the peer decodes into the same messages, with control
//! frames only at frame boundaries, whatever mixes of small messages, large
//! ones sent from their own buffers, prepared messages of one frame or
//! several, and pongs are queued meanwhile.
#![cfg(feature = "std")]
mod common;

use bytes::Bytes;
use common::{client_frame, drain};
use proptest::prelude::*;
use rfc6455::frame::OpCode;
use rfc6455::{Config, Connection, Event, Message, PreparedMessage, Role};

#[derive(Clone, Debug)]
enum Op {
    /// `send` of a binary message of this length (16 KiB and up goes out
    /// from its own buffer).
    Send(usize),
    /// `send_binary`, always copied.
    SendCopied(usize),
    /// `send_prepared` of a binary message of this length, prepared in
    /// frames of this size (16 KiB of frames and up is queued by handle).
    SendPrepared(usize, usize),
    /// A ping arrives: a pong is queued.
    Ping(u8),
    /// The writer takes up to this many bytes.
    Write(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..300).prop_map(Op::Send),
        (16_000usize..40_000).prop_map(Op::Send),
        (0usize..3000).prop_map(Op::SendCopied),
        (
            prop_oneof![0usize..300, 16_000usize..140_000],
            prop_oneof![Just(1000usize), Just(30_000), Just(64 << 10)],
        )
            .prop_map(|(len, size)| Op::SendPrepared(len, size)),
        any::<u8>().prop_map(Op::Ping),
        (1usize..50_000).prop_map(Op::Write),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Writer {
    Transmit,
    Vectored,
    Pieces,
    TakeAll,
}

/// Takes at most `limit` bytes the way `writer` does; `Pieces` and
/// `TakeAll` take whole pieces, whatever the limit.
fn write(conn: &mut Connection, writer: Writer, limit: usize, wire: &mut Vec<u8>) {
    match writer {
        Writer::Transmit => {
            let run = conn.transmit().first();
            let n = run.len().min(limit);
            wire.extend_from_slice(&run[..n]);
            conn.advance_transmit(n);
        }
        Writer::Vectored => {
            let mut n = 0;
            for part in conn.transmit().slices() {
                let take = part.len().min(limit - n);
                wire.extend_from_slice(&part[..take]);
                n += take;
            }
            conn.advance_transmit(n);
        }
        Writer::Pieces => {
            if let Some(piece) = conn.poll_transmit() {
                wire.extend_from_slice(&piece);
            }
        }
        Writer::TakeAll => wire.extend_from_slice(&conn.take_transmit()),
    }
}

fn payload(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + seed * 7) as u8).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_writer_gives_the_messages_and_pongs_in_order(
        ops in prop::collection::vec(op(), 1..24),
        writer in prop_oneof![
            Just(Writer::Transmit),
            Just(Writer::Vectored),
            Just(Writer::Pieces),
            Just(Writer::TakeAll),
        ],
        frame_size in prop_oneof![Just(1000usize), Just(64 << 10)],
    ) {
        let config = Config::default().send_frame_size(frame_size);
        let mut server = Connection::new(Role::Server, config);
        let mut client = Connection::new(Role::Client, Config::default());
        let mut wire = Vec::new();
        let mut sent = Vec::new();
        let mut pings = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Send(len) => {
                    let data = payload(len, i);
                    server.send(Message::binary(data.clone())).unwrap();
                    sent.push(data);
                }
                Op::SendCopied(len) => {
                    let data = payload(len, i);
                    server.send_binary(&data).unwrap();
                    sent.push(data);
                }
                Op::SendPrepared(len, size) => {
                    let data = payload(len, i);
                    let prepared = PreparedMessage::new(Message::binary(data.clone()), size);
                    server.send_prepared(&prepared).unwrap();
                    sent.push(data);
                }
                Op::Ping(byte) => {
                    server.receive(&client_frame(true, OpCode::Ping, &[byte]));
                    drain(&mut server);
                    pings.push(byte);
                }
                Op::Write(limit) => write(&mut server, writer, limit, &mut wire),
            }
        }
        let queued = server.buffered_amount();
        let before = wire.len();
        while server.buffered_amount() > 0 {
            write(&mut server, writer, 7000, &mut wire);
        }
        prop_assert_eq!(wire.len() - before, queued);

        client.receive(&wire);
        let (events, error) = drain(&mut client);
        prop_assert_eq!(error, None);
        let mut messages = Vec::new();
        let mut pongs = Vec::new();
        for event in events {
            match event {
                Event::Message(message) => messages.push(message.as_bytes().to_vec()),
                Event::Pong(payload) => pongs.push(payload[0]),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        prop_assert_eq!(messages, sent);
        prop_assert_eq!(pongs, pings);
    }
}

#[test]
fn a_large_message_shared_with_the_caller_is_not_changed() {
    let data = Bytes::from(payload(50_000, 3));
    let mut client = Connection::new(Role::Client, Config::default());
    client.send(Message::binary(data.clone())).unwrap();
    let wire = client.take_transmit();
    assert_eq!(data, payload(50_000, 3), "the caller's bytes were masked");
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&wire);
    assert_eq!(
        drain(&mut server).0,
        [Event::Message(Message::binary(data))]
    );
}
