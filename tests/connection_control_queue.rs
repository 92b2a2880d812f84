//! Control frames overtake a long message at the next frame boundary; long
//! messages go out in frames of at most `Config::send_frame_size` bytes.
#![cfg(feature = "std")]
mod common;

use bytes::Bytes;
use common::{client_frame, drain, server_frame};
use rfc6455::frame::{FrameHeader, HeaderStatus, OpCode, Rsv};
use rfc6455::{CloseCode, Config, Connection, Event, Message, Role};

const BIG: usize = 16 << 20;

fn big_message() -> Message {
    Message::binary((0..BIG).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

/// The headers of every frame in `wire`, in order.
fn headers(mut wire: &[u8]) -> Vec<FrameHeader> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let HeaderStatus::Complete { header, len } = FrameHeader::decode(wire, Rsv::NONE).unwrap()
        else {
            panic!("truncated frame");
        };
        out.push(header);
        wire = &wire[len + header.payload_len as usize..];
    }
    out
}

#[test]
fn a_long_message_goes_out_in_frames_of_the_configured_size() {
    let config = Config::default().send_frame_size(1000);
    let mut server = Connection::new(Role::Server, config);
    server.send_binary(&[7u8; 3001]).unwrap();
    let frames = headers(&server.take_transmit());
    let shape: Vec<_> = frames
        .iter()
        .map(|h| (h.opcode, h.fin, h.payload_len))
        .collect();
    assert_eq!(
        shape,
        [
            (OpCode::Binary, false, 1000),
            (OpCode::Continuation, false, 1000),
            (OpCode::Continuation, false, 1000),
            (OpCode::Continuation, true, 1),
        ]
    );
}

/// Writes `n` bytes the way a sans-IO caller does, with `transmit` and
/// `advance_transmit`, one slice at a time.
fn write(conn: &mut Connection, n: usize) -> Vec<u8> {
    let mut written = Vec::new();
    while written.len() < n {
        let run = conn.transmit().first();
        assert!(
            !run.is_empty(),
            "only {} of {n} bytes queued",
            written.len()
        );
        let take = run.len().min(n - written.len());
        written.extend_from_slice(&run[..take]);
        conn.advance_transmit(take);
    }
    written
}

#[test]
fn a_pong_overtakes_a_16_mib_message_at_the_next_frame_boundary() {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut client = Connection::new(Role::Client, Config::default());
    let message = big_message();
    server.send(message.clone()).unwrap();

    // The writer has taken the first frame's header, and its payload is the
    // next piece, straight from the message's buffer, when the ping arrives.
    let head = server.poll_transmit().unwrap();
    assert_eq!(head.len(), 10);
    server.receive(&client_frame(true, OpCode::Ping, b"are you there"));
    assert_eq!(
        drain(&mut server).0,
        [Event::Ping(Bytes::from_static(b"are you there"))]
    );
    let body = server.poll_transmit().unwrap();
    assert_eq!(body, message.as_bytes()[..64 << 10]);
    let next = server.poll_transmit().unwrap();
    assert_eq!(next, server_frame(true, OpCode::Pong, b"are you there"));

    // The peer sees the pong before the message ends, and the whole message.
    client.receive(&head);
    client.receive(&body);
    client.receive(&next);
    assert_eq!(
        drain(&mut client).0,
        [Event::Pong(Bytes::from_static(b"are you there"))]
    );
    client.receive(&server.take_transmit());
    assert_eq!(drain(&mut client).0, [Event::Message(message)]);
}

#[test]
fn a_pong_waits_for_the_rest_of_a_partly_written_frame() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.send(big_message()).unwrap();
    let frame_len = 10 + (64 << 10);
    write(&mut server, 1000);
    server.receive(&client_frame(true, OpCode::Ping, b"p"));
    drain(&mut server);
    // The rest of the frame first, then the pong.
    assert_eq!(server.transmit().first().len(), frame_len - 1000);
    assert_eq!(server.transmit().len(), server.buffered_amount());
    write(&mut server, frame_len - 1000);
    assert_eq!(
        server.transmit().first(),
        server_frame(true, OpCode::Pong, b"p").as_slice()
    );
    server.advance_transmit(3);
    assert_eq!(server.queued_control(), 0);
    assert_eq!(server.buffered_amount(), BIG - (64 << 10) + 255 * 10);
}

#[test]
fn a_large_message_is_sent_from_its_own_buffer() {
    let mut server = Connection::new(Role::Server, Config::default());
    let payload = Bytes::from(vec![9u8; 100_000]);
    server.send(Message::binary(payload.clone())).unwrap();
    let pieces: Vec<Bytes> = std::iter::from_fn(|| server.poll_transmit()).collect();
    let lens: Vec<usize> = pieces.iter().map(Bytes::len).collect();
    assert_eq!(lens, [10, 64 << 10, 4, 100_000 - (64 << 10)]);
    // The payload pieces point into the message's buffer: no copy.
    assert_eq!(pieces[1].as_ptr(), payload.as_ptr());
    assert_eq!(pieces[3].as_ptr(), payload[64 << 10..].as_ptr());
}

#[test]
fn a_client_masks_a_large_message_in_place_when_it_owns_the_buffer() {
    let mut client = Connection::new(Role::Client, Config::default());
    let mut server = Connection::new(Role::Server, Config::default());
    let data: Vec<u8> = (0..70_000).map(|i| (i % 253) as u8).collect();
    let owned = Bytes::from(data.clone());
    let at = owned.as_ptr();
    client.send(Message::binary(owned)).unwrap();
    let pieces: Vec<Bytes> = std::iter::from_fn(|| client.poll_transmit()).collect();
    assert_eq!(pieces[1].as_ptr(), at, "masked in place, not copied");
    // A buffer shared with the caller is copied, never masked under its feet.
    let shared = Bytes::from(data.clone());
    client.send(Message::binary(shared.clone())).unwrap();
    assert_eq!(shared, data);
    for piece in pieces {
        server.receive(&piece);
    }
    server.receive(&client.take_transmit());
    let events = drain(&mut server).0;
    assert_eq!(events.len(), 2);
    for event in events {
        assert_eq!(event, Event::Message(Message::binary(data.clone())));
    }
}

#[test]
fn small_frames_queued_together_are_one_piece() {
    let mut server = Connection::new(Role::Server, Config::default().send_frame_size(100));
    for _ in 0..20 {
        server.send_binary(&[1u8; 10]).unwrap();
    }
    let lens: Vec<usize> = std::iter::from_fn(|| server.poll_transmit())
        .map(|piece| piece.len())
        .collect();
    // Whole frames of 12 bytes, as many as fit in the 100-byte budget.
    assert_eq!(lens, [96, 96, 48]);
}

#[test]
fn take_transmit_puts_control_frames_at_the_frame_boundary() {
    let config = Config::default().send_frame_size(10);
    let mut server = Connection::new(Role::Server, config);
    server.send_binary(&[1u8; 25]).unwrap();
    server.advance_transmit(5);
    server.receive(&client_frame(true, OpCode::Ping, b"x"));
    drain(&mut server);
    let mut expected = server_frame(false, OpCode::Binary, &[1; 10])[5..].to_vec();
    expected.extend(server_frame(true, OpCode::Pong, b"x"));
    expected.extend(server_frame(false, OpCode::Continuation, &[1; 10]));
    expected.extend(server_frame(true, OpCode::Continuation, &[1; 5]));
    assert_eq!(server.take_transmit(), expected);
    assert_eq!(server.buffered_amount(), 0);
}

#[test]
fn the_answer_to_the_peers_close_drops_the_data_frames_not_started() {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut client = Connection::new(Role::Client, Config::default());
    server.send(big_message()).unwrap();
    // The first frame's header is out: its payload must follow, then the
    // close, and nothing of the message's other 255 frames.
    let first = server.poll_transmit().unwrap();
    assert_eq!(first.len(), 10);
    server.receive(&client_frame(true, OpCode::Close, &[0x03, 0xe8]));
    drain(&mut server);
    let rest = server.take_transmit();
    assert_eq!(rest.len(), (64 << 10) + 4);
    assert_eq!(
        rest[64 << 10..],
        server_frame(true, OpCode::Close, &[0x03, 0xe8])
    );
    assert!(server.is_done());

    client.receive(&first);
    client.receive(&rest);
    let (events, error) = drain(&mut client);
    assert_eq!(error, None);
    assert!(
        matches!(events.as_slice(), [Event::Close(Some(frame))] if frame.code() == CloseCode::Normal)
    );
}

#[test]
fn a_close_from_the_application_goes_after_the_queued_messages() {
    let config = Config::default().send_frame_size(4);
    let mut server = Connection::new(Role::Server, config);
    let mut client = Connection::new(Role::Client, Config::default());
    server.send(Message::text("first message")).unwrap();
    server.ping(b"ping").unwrap();
    server.close(CloseCode::GoingAway, "bye").unwrap();
    client.receive(&server.take_transmit());
    let (events, error) = drain(&mut client);
    assert_eq!(error, None);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0], Event::Ping(Bytes::from_static(b"ping")));
    assert_eq!(events[1], Event::Message(Message::text("first message")));
    assert!(
        matches!(&events[2], Event::Close(Some(f)) if f.code() == CloseCode::GoingAway && f.reason() == "bye")
    );
}

#[test]
fn a_ping_flood_cannot_grow_the_control_queue() {
    let mut server = Connection::new(Role::Server, Config::default());
    for i in 0..10_000u32 {
        server.receive(&client_frame(true, OpCode::Ping, &i.to_be_bytes()));
    }
    assert_eq!(drain(&mut server).0.len(), 10_000);
    // Each pong is 6 bytes; past 4 KiB the newest pong replaces the last.
    let queued = server.take_transmit();
    assert!(queued.len() <= 4096 + 6, "{} bytes queued", queued.len());
    let frames = headers(&queued);
    assert!(frames.iter().all(|h| h.opcode == OpCode::Pong));
    assert_eq!(
        &queued[queued.len() - 6..],
        server_frame(true, OpCode::Pong, &9_999u32.to_be_bytes()).as_slice()
    );
    // The pongs before the backlog filled answer the first pings, in order.
    assert_eq!(
        &queued[..6],
        server_frame(true, OpCode::Pong, &0u32.to_be_bytes()).as_slice()
    );
}

#[test]
fn a_pong_already_started_is_not_replaced() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&client_frame(true, OpCode::Ping, b"one"));
    drain(&mut server);
    server.advance_transmit(1);
    server.receive(&client_frame(true, OpCode::Ping, b"two"));
    drain(&mut server);
    let mut expected = server_frame(true, OpCode::Pong, b"one")[1..].to_vec();
    expected.extend(server_frame(true, OpCode::Pong, b"two"));
    assert_eq!(server.take_transmit(), expected);
}

#[test]
fn transmit_and_advance_give_the_same_bytes_as_take_transmit() {
    let config = Config::default().send_frame_size(7);
    let mut a = Connection::new(Role::Server, config);
    let mut b = Connection::new(Role::Server, config);
    for conn in [&mut a, &mut b] {
        conn.send_binary(&[3u8; 30]).unwrap();
        conn.advance_transmit(4);
        conn.receive(&client_frame(true, OpCode::Ping, b"1"));
        drain(conn);
        conn.send_text("later").unwrap();
    }
    let mut written = Vec::new();
    while !a.transmit().is_empty() {
        let n = a.transmit().first().len().min(3);
        written.extend_from_slice(&a.transmit().first()[..n]);
        a.advance_transmit(n);
    }
    assert_eq!(written, b.take_transmit());
}
