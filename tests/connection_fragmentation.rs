//! Fragmented messages are reassembled, with control frames between their
//! fragments handled at once (RFC 6455 section 5.4).
#![cfg(feature = "std")]

mod common;

use common::{Pair, client_frame, drain};
use rfc6455::frame::OpCode;
use rfc6455::message::DataKind;
use rfc6455::{Config, Connection, Event, Message, Role};

#[test]
fn the_rfc_fragmented_hello_is_one_message() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&client_frame(false, OpCode::Text, b"Hel"));
    assert_eq!(drain(&mut server), (vec![], None));
    server.receive(&client_frame(true, OpCode::Continuation, b"lo"));
    assert_eq!(
        drain(&mut server),
        (vec![Event::Message(Message::text("Hello"))], None)
    );
}

#[test]
fn pings_between_fragments_are_answered_at_once() {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut wire = client_frame(false, OpCode::Binary, b"ab");
    wire.extend(client_frame(true, OpCode::Ping, b"p1"));
    wire.extend(client_frame(false, OpCode::Continuation, b"cd"));
    wire.extend(client_frame(true, OpCode::Pong, b"p2"));
    wire.extend(client_frame(true, OpCode::Continuation, b"ef"));
    server.receive(&wire);
    let (events, error) = drain(&mut server);
    assert_eq!(error, None);
    assert_eq!(
        events,
        vec![
            Event::Ping("p1".into()),
            Event::Pong("p2".into()),
            Event::Message(Message::binary(&b"abcdef"[..])),
        ]
    );
    // The pong went out before the message was complete.
    let mut client = Connection::new(Role::Client, Config::default());
    client.receive(&server.take_transmit());
    assert_eq!(drain(&mut client), (vec![Event::Pong("p1".into())], None));
}

#[test]
fn utf8_cut_between_fragments_is_fine() {
    let mut server = Connection::new(Role::Server, Config::default());
    let euro = "€".as_bytes(); // e2 82 ac
    server.receive(&client_frame(false, OpCode::Text, &euro[..1]));
    server.receive(&client_frame(false, OpCode::Continuation, &euro[1..2]));
    server.receive(&client_frame(true, OpCode::Continuation, &euro[2..]));
    assert_eq!(
        drain(&mut server),
        (vec![Event::Message(Message::text("€"))], None)
    );
}

#[test]
fn empty_fragments_make_an_empty_message() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&client_frame(false, OpCode::Text, b""));
    server.receive(&client_frame(false, OpCode::Continuation, b""));
    server.receive(&client_frame(true, OpCode::Continuation, b""));
    assert_eq!(
        drain(&mut server),
        (vec![Event::Message(Message::text(""))], None)
    );
}

#[test]
fn sent_fragments_arrive_as_one_message() {
    let mut pair = Pair::new();
    let text = "fragments: ünïcödé split anywhere";
    let bytes = text.as_bytes();
    pair.client
        .send_fragment(DataKind::Text, &bytes[..13], false)
        .unwrap();
    pair.client
        .send_fragment(DataKind::Text, &bytes[13..14], false)
        .unwrap();
    pair.client.ping(b"in between").unwrap();
    pair.client
        .send_fragment(DataKind::Text, &bytes[14..], true)
        .unwrap();
    pair.drive();
    assert_eq!(
        pair.server_events,
        vec![
            Event::Ping("in between".into()),
            Event::Message(Message::text(text))
        ]
    );
    assert_eq!(pair.client_events, vec![Event::Pong("in between".into())]);
}

#[test]
fn a_whole_message_cannot_interrupt_a_fragmented_one() {
    let mut client = Connection::new(Role::Client, Config::default());
    client.send_fragment(DataKind::Binary, b"a", false).unwrap();
    assert_eq!(
        client.send(Message::text("x")),
        Err(rfc6455::SendError::MessageInProgress)
    );
    assert_eq!(
        client.send_fragment(DataKind::Text, b"x", true),
        Err(rfc6455::SendError::MessageInProgress)
    );
    client.send_fragment(DataKind::Binary, b"b", true).unwrap();
    client.send(Message::text("x")).unwrap();
}

#[test]
fn text_fragments_that_cannot_be_utf8_are_refused() {
    let mut client = Connection::new(Role::Client, Config::default());
    assert_eq!(
        client.send_fragment(DataKind::Text, b"\xff", false),
        Err(rfc6455::SendError::InvalidUtf8)
    );
    client
        .send_fragment(DataKind::Text, b"\xe2\x82", false)
        .unwrap();
    assert_eq!(
        client.send_fragment(DataKind::Text, b"", true),
        Err(rfc6455::SendError::InvalidUtf8)
    );
}
