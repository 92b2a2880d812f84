//! Pings are answered with pongs carrying the same payload, automatically
//! (RFC 6455 sections 5.5.2, 5.5.3).
#![cfg(feature = "std")]

mod common;

use common::{Pair, client_frame, drain};
use rfc6455::frame::OpCode;
use rfc6455::{CloseCode, Config, Connection, Event, Role, SendError};

#[test]
fn a_ping_is_answered_with_the_same_payload() {
    let mut pair = Pair::new();
    pair.client.ping(b"are you there?").unwrap();
    pair.drive();
    assert_eq!(
        pair.server_events,
        vec![Event::Ping("are you there?".into())]
    );
    assert_eq!(
        pair.client_events,
        vec![Event::Pong("are you there?".into())]
    );
}

#[test]
fn every_ping_gets_its_pong_in_order() {
    let mut pair = Pair::new();
    for i in 0..10u8 {
        pair.server.ping(&[i; 3]).unwrap();
    }
    pair.drive();
    let pongs = pair.server_events.clone();
    let expected: Vec<_> = (0..10u8).map(|i| Event::Pong(vec![i; 3].into())).collect();
    assert_eq!(pongs, expected);
}

#[test]
fn the_largest_ping_is_125_bytes() {
    let mut client = Connection::new(Role::Client, Config::default());
    client.ping(&[7; 125]).unwrap();
    assert_eq!(client.ping(&[7; 126]), Err(SendError::ControlTooLong(126)));
    assert_eq!(client.pong(&[7; 126]), Err(SendError::ControlTooLong(126)));
}

#[test]
fn an_unsolicited_pong_is_reported_and_not_answered() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&client_frame(true, OpCode::Pong, b"heartbeat"));
    assert_eq!(
        drain(&mut server),
        (vec![Event::Pong("heartbeat".into())], None)
    );
    assert_eq!(server.buffered_amount(), 0);
}

#[test]
fn no_pong_follows_our_close() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.close(CloseCode::Normal, "").unwrap();
    let close_len = server.buffered_amount();
    server.receive(&client_frame(true, OpCode::Ping, b"late"));
    assert_eq!(drain(&mut server), (vec![Event::Ping("late".into())], None));
    assert_eq!(server.buffered_amount(), close_len);
}
