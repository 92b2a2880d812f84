//! A close that is never answered ends at the close timeout (RFC 6455
//! section 7.1.1); one that is answered stops the timer. Time is a fake
//! clock passed in.
#![cfg(feature = "std")]

mod common;

use std::time::Duration;

use common::{client_frame, drain, server_frame};
use rfc6455::frame::OpCode;
use rfc6455::{CloseCode, Config, Connection, Event, Message, ProtocolError, Role, State};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn connection(role: Role, config: Config) -> Connection<Duration> {
    Connection::with_timestamp(role, config)
}

#[test]
fn an_unanswered_close_ends_at_the_close_timeout() {
    let mut client = connection(Role::Client, Config::default().close_timeout(ms(5_000)));
    client.handle_timeout(ms(0));
    assert_eq!(client.poll_timeout(), None, "no timer runs while open");
    client.close(CloseCode::Normal, "bye").unwrap();
    let _ = client.take_transmit();
    client.handle_timeout(ms(200)); // the time the close was written
    assert_eq!(client.poll_timeout(), Some(ms(5_200)));

    client.handle_timeout(ms(5_199));
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(client.state(), State::Closing);

    client.handle_timeout(ms(5_200));
    assert_eq!(client.poll_event(), Err(ProtocolError::CloseTimeout));
    assert_eq!(
        ProtocolError::CloseTimeout.close_code(),
        CloseCode::AbnormalClosure
    );
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(client.state(), State::Closed);
    assert!(client.is_done());
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn the_close_timeout_counts_from_the_close_not_from_the_last_time_given() {
    let mut server = connection(Role::Server, Config::default().close_timeout(ms(5_000)));
    server.receive_at(&client_frame(true, OpCode::Text, b"hi"), ms(0));
    let _ = drain(&mut server);
    // A minute later, with no time given in between, the server closes.
    server.close(CloseCode::GoingAway, "").unwrap();
    // `close` has no time: the connection asks for one at once.
    assert_eq!(server.poll_timeout(), Some(ms(0)));
    server.handle_timeout(ms(60_000));
    assert_eq!(server.poll_event(), Ok(None));
    assert_eq!(server.poll_timeout(), Some(ms(65_000)));
}

#[test]
fn an_answered_close_stops_the_timer() {
    let mut client = connection(Role::Client, Config::default().close_timeout(ms(5_000)));
    client.handle_timeout(ms(0));
    client.close(CloseCode::Normal, "").unwrap();
    client.handle_timeout(ms(0));
    client.receive_at(&server_frame(true, OpCode::Close, &[0x03, 0xe8]), ms(4_999));
    let (events, error) = drain(&mut client);
    assert_eq!(error, None);
    assert!(matches!(events.as_slice(), [Event::Close(Some(_))]));
    assert_eq!(client.poll_timeout(), None);
    client.handle_timeout(ms(10_000));
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(client.state(), State::Closed);
}

#[test]
fn data_after_our_close_does_not_hold_the_close_open() {
    // The peer keeps sending messages and never its close: the idle timer
    // is fed, the close timer is not.
    let config = Config::default()
        .close_timeout(ms(5_000))
        .idle_timeout(ms(2_000));
    let mut server = connection(Role::Server, config);
    server.handle_timeout(ms(0));
    server.close(CloseCode::Normal, "").unwrap();
    server.handle_timeout(ms(0));
    let mut now = ms(0);
    let mut delivered = 0;
    while now < ms(60_000) {
        now += ms(1_000);
        if server.poll_timeout().is_some_and(|d| d <= now) {
            server.handle_timeout(now);
        }
        server.receive_at(&client_frame(true, OpCode::Text, b"more"), now);
        match drain(&mut server) {
            (events, None) => {
                assert_eq!(events, vec![Event::Message(Message::text("more"))]);
                delivered += 1;
            }
            (events, Some(error)) => {
                assert_eq!((events, error), (vec![], ProtocolError::CloseTimeout));
                break;
            }
        }
    }
    assert_eq!((now, delivered), (ms(5_000), 4));
}

#[test]
fn an_unsent_close_is_dropped_when_the_timer_gives_up() {
    // The peer does not read: our message and close were never written.
    let mut client = connection(Role::Client, Config::default().close_timeout(ms(5_000)));
    client.handle_timeout(ms(0));
    client.send_binary(&[1; 70_000]).unwrap();
    client.close(CloseCode::Normal, "").unwrap();
    client.handle_timeout(ms(0));
    assert!(client.buffered_amount() > 70_000);
    assert!(!client.is_done());
    client.handle_timeout(ms(5_000));
    assert_eq!(client.poll_event(), Err(ProtocolError::CloseTimeout));
    assert_eq!(client.buffered_amount(), 0);
    assert!(client.is_done());
}

#[test]
fn the_close_timer_does_not_run_after_a_failure() {
    // A protocol error sends its close and ends the connection at once:
    // there is nothing to wait for.
    let mut server = connection(Role::Server, Config::default().close_timeout(ms(5_000)));
    server.handle_timeout(ms(0));
    server.receive_at(&server_frame(true, OpCode::Text, b"unmasked"), ms(10));
    assert_eq!(drain(&mut server).1, Some(ProtocolError::UnmaskedFrame));
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(ms(6_000));
    assert_eq!(server.poll_event(), Ok(None));
}
