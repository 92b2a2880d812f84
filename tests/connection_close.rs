//! The close handshake of RFC 6455 section 7: the reply echoes the code,
//! nothing follows a close, the state is visible, and an end of stream
//! without a close is 1006.
#![cfg(feature = "std")]

mod common;

use common::{Pair, client_frame, drain, server_frame};
use rfc6455::frame::OpCode;
use rfc6455::{
    CloseCode, CloseFrame, Config, Connection, Event, Message, ProtocolError, Role, SendError,
    State,
};

#[test]
fn a_close_is_echoed_and_both_ends_are_closed() {
    let mut pair = Pair::new();
    pair.client.close(CloseCode::Normal, "done").unwrap();
    assert_eq!(pair.client.state(), State::Closing);
    pair.drive();
    assert_eq!(
        pair.server_events,
        vec![Event::Close(Some(
            CloseFrame::new(CloseCode::Normal, "done").unwrap()
        ))]
    );
    assert_eq!(
        pair.client_events,
        vec![Event::Close(Some(
            CloseFrame::new(CloseCode::Normal, "").unwrap()
        ))]
    );
    assert_eq!(pair.server.state(), State::Closed);
    assert_eq!(pair.client.state(), State::Closed);
    assert!(pair.server.is_done());
    assert!(pair.client.is_done());
}

#[test]
fn an_application_code_is_echoed() {
    let mut pair = Pair::new();
    pair.server.close(CloseCode::Private(4321), "bye").unwrap();
    pair.drive();
    let Some(Event::Close(Some(echo))) = pair.server_events.last().cloned() else {
        panic!("no close came back: {:?}", pair.server_events);
    };
    assert_eq!(echo.code(), CloseCode::Private(4321));
}

#[test]
fn an_empty_close_is_answered_with_an_empty_close() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&client_frame(true, OpCode::Close, b""));
    assert_eq!(drain(&mut server), (vec![Event::Close(None)], None));
    assert_eq!(
        server.transmit().first(),
        server_frame(true, OpCode::Close, b"").as_slice()
    );
    assert!(!server.is_done(), "the reply has not been taken yet");
    let _ = server.take_transmit();
    assert!(server.is_done());
}

#[test]
fn nothing_is_delivered_after_the_peers_close() {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut wire = client_frame(true, OpCode::Close, &[0x03, 0xe8]);
    wire.extend(client_frame(true, OpCode::Text, b"too late"));
    server.receive(&wire);
    server.receive(&client_frame(true, OpCode::Text, b"later still"));
    let (events, error) = drain(&mut server);
    assert_eq!(error, None);
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], Event::Close(Some(_))));
}

#[test]
fn nothing_is_sent_after_our_close_but_messages_still_arrive() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.close(CloseCode::GoingAway, "restart").unwrap();
    assert_eq!(server.send(Message::text("x")), Err(SendError::Closed));
    assert_eq!(server.ping(b""), Err(SendError::Closed));
    assert_eq!(server.close(CloseCode::Normal, ""), Err(SendError::Closed));
    server.receive(&client_frame(true, OpCode::Text, b"in flight"));
    server.receive(&client_frame(true, OpCode::Close, &[0x03, 0xe9]));
    let (events, error) = drain(&mut server);
    assert_eq!(error, None);
    assert_eq!(events[0], Event::Message(Message::text("in flight")));
    assert!(matches!(events[1], Event::Close(Some(_))));
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn end_of_stream_before_a_close_is_1006_and_sends_nothing() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&client_frame(false, OpCode::Text, b"half a mess"));
    server.receive_eof();
    let (events, error) = drain(&mut server);
    assert!(events.is_empty());
    assert_eq!(error, Some(ProtocolError::AbnormalClosure));
    assert_eq!(error.unwrap().close_code(), CloseCode::AbnormalClosure);
    assert_eq!(server.buffered_amount(), 0, "1006 is never sent");
    assert_eq!(server.state(), State::Closed);
    assert_eq!(drain(&mut server), (vec![], None), "reported once");
}

#[test]
fn end_of_stream_after_the_handshake_is_quiet() {
    let mut pair = Pair::new();
    pair.server.close(CloseCode::Normal, "").unwrap();
    pair.drive();
    pair.client.receive_eof();
    assert_eq!(drain(&mut pair.client), (vec![], None));
}

#[test]
fn invalid_close_commands_are_the_callers_error() {
    let mut client = Connection::new(Role::Client, Config::default());
    assert!(matches!(
        client.close(CloseCode::AbnormalClosure, ""),
        Err(SendError::InvalidClose(_))
    ));
    assert!(matches!(
        client.close(CloseCode::Normal, &"x".repeat(124)),
        Err(SendError::InvalidClose(_))
    ));
    assert_eq!(client.state(), State::Open);
}
