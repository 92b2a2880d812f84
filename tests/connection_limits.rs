//! Limits on frames and messages (RFC 6455 section 10.4): exceeded limits
//! close with 1009 before anything is buffered, and memory stays bounded.
#![cfg(feature = "std")]

mod common;

use common::{KEY, client_frame, drain};
use rfc6455::frame::OpCode;
use rfc6455::message::MessageError;
use rfc6455::{Config, Connection, Event, Message, ProtocolError, Role};

#[test]
fn a_header_claiming_2_pow_62_bytes_fails_at_once() {
    let mut wire = vec![0x82, 0xFF];
    wire.extend_from_slice(&(1u64 << 62).to_be_bytes());
    wire.extend_from_slice(&KEY);
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&wire);
    let (_, error) = drain(&mut server);
    assert_eq!(
        error,
        Some(ProtocolError::FrameTooBig {
            len: 1 << 62,
            max: 16 << 20
        })
    );
    assert_eq!(u16::from(error.unwrap().close_code()), 1009);
}

#[test]
fn the_message_limit_counts_every_fragment() {
    let config = Config::default()
        .max_frame_size(1000)
        .max_message_size(2500);
    let mut server = Connection::new(Role::Server, config);
    server.receive(&client_frame(false, OpCode::Binary, &[1; 1000]));
    server.receive(&client_frame(false, OpCode::Continuation, &[2; 1000]));
    assert_eq!(drain(&mut server), (vec![], None));
    // The third fragment's header alone crosses the limit.
    let third = client_frame(true, OpCode::Continuation, &[3; 501]);
    server.receive(&third[..8]);
    let (_, error) = drain(&mut server);
    assert_eq!(
        error,
        Some(ProtocolError::Message(MessageError::MessageTooBig {
            len: 2501,
            max: 2500
        }))
    );
}

#[test]
fn messages_at_the_limits_pass() {
    let config = Config::default()
        .max_frame_size(1000)
        .max_message_size(2000);
    let mut server = Connection::new(Role::Server, config);
    server.receive(&client_frame(false, OpCode::Binary, &[1; 1000]));
    server.receive(&client_frame(true, OpCode::Continuation, &[2; 1000]));
    let (events, error) = drain(&mut server);
    assert_eq!(error, None);
    assert!(matches!(&events[..], [Event::Message(Message::Binary(b))] if b.len() == 2000));
}

#[test]
fn a_million_empty_fragments_cost_no_memory() {
    let mut server = Connection::new(Role::Server, Config::default());
    let empty = client_frame(false, OpCode::Continuation, b"");
    server.receive(&client_frame(false, OpCode::Text, b"start "));
    let mut chunk = Vec::new();
    for _ in 0..1000 {
        chunk.extend_from_slice(&empty);
    }
    for _ in 0..1000 {
        server.receive(&chunk);
        assert_eq!(drain(&mut server), (vec![], None));
    }
    server.receive(&client_frame(true, OpCode::Continuation, b"end"));
    assert_eq!(
        drain(&mut server),
        (vec![Event::Message(Message::text("start end"))], None)
    );
    // Nothing was kept per fragment: after the message the connection holds
    // no received bytes beyond the last chunk's consumed buffer.
    assert_eq!(server.buffered_amount(), 0);
}

#[test]
fn an_idle_connection_is_small() {
    // No heap memory until bytes arrive or are queued; the struct itself:
    // 336 bytes for the queues (a pointer to the pieces of large messages
    // sent from their own buffers among them), the receive state and the
    // key pool, then 48
    // for the timers' three durations in the config and 72 for their clock
    // (four instants and two flags), and 16 for the adapters' handshake
    // timeout, which the config carries and the core never reads.
    let size = std::mem::size_of::<Connection>();
    // permessage-deflate adds its config and two pointers, to state that is
    // allocated only when the extension is agreed.
    // 504 and 464 since a frame being received holds its masker in 16
    // bytes, not 24: 8 more make the tokio echo task of the idle bench a
    // size class larger (1,152 bytes of heap instead of 1,024).
    let limit = if cfg!(feature = "deflate") { 504 } else { 464 };
    assert!(size <= limit, "Connection is {size} bytes");
}
