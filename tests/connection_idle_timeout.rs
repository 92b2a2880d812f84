//! A silent peer is detected at exactly the idle timeout, and one that keeps
//! sending, or only answers the keepalive pings, never is. Time is a fake
//! clock passed in; nothing sleeps.
#![cfg(feature = "std")]

mod common;

use std::time::{Duration, Instant};

use common::{client_frame, drain, server_frame};
use rfc6455::frame::OpCode;
use rfc6455::{CloseCode, Config, Connection, Event, Message, ProtocolError, Role, State};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn server(config: Config) -> Connection<Duration> {
    Connection::with_timestamp(Role::Server, config)
}

#[test]
fn a_silent_peer_is_detected_at_exactly_the_idle_timeout() {
    let mut server = server(Config::default().idle_timeout(ms(10_000)));
    server.handle_timeout(ms(500));
    assert_eq!(server.poll_timeout(), Some(ms(10_500)));

    server.handle_timeout(ms(10_500) - Duration::from_nanos(1));
    assert_eq!(drain(&mut server), (vec![], None));
    assert_eq!(server.state(), State::Open);

    server.handle_timeout(ms(10_500));
    assert_eq!(server.poll_event(), Err(ProtocolError::IdleTimeout));
    assert_eq!(
        ProtocolError::IdleTimeout.close_code(),
        CloseCode::AbnormalClosure
    );
    // Reported once; nothing is sent, the transport may be closed at once.
    assert_eq!(server.poll_event(), Ok(None));
    assert_eq!(server.state(), State::Closed);
    assert!(server.transmit().is_empty());
    assert!(server.is_done());
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn the_default_instant_clock_detects_it_too() {
    let config = Config::default().idle_timeout(Duration::from_secs(30));
    let mut client = Connection::new(Role::Client, config);
    let start = Instant::now();
    client.receive_at(&server_frame(true, OpCode::Text, b"hi"), start);
    assert_eq!(
        drain(&mut client),
        (vec![Event::Message(Message::text("hi"))], None)
    );
    let deadline = start + Duration::from_secs(30);
    assert_eq!(client.poll_timeout(), Some(deadline));
    client.handle_timeout(deadline - Duration::from_nanos(1));
    assert_eq!(client.poll_event(), Ok(None));
    client.handle_timeout(deadline);
    assert_eq!(client.poll_event(), Err(ProtocolError::IdleTimeout));
}

#[test]
fn queued_bytes_are_dropped_when_the_peer_goes_silent() {
    // A peer that stopped reading: our bytes pile up, nothing comes back.
    let mut server = server(Config::default().idle_timeout(ms(1_000)));
    server.handle_timeout(ms(0));
    server.send_binary(&[7; 100_000]).unwrap();
    server.handle_timeout(ms(1_000));
    assert_eq!(server.poll_event(), Err(ProtocolError::IdleTimeout));
    assert_eq!(server.buffered_amount(), 0);
    assert!(server.is_done());
}

#[test]
fn every_byte_restarts_the_idle_timer() {
    let mut server = server(Config::default().idle_timeout(ms(1_000)));
    server.handle_timeout(ms(0));
    let ping = client_frame(true, OpCode::Ping, b"");
    // One byte of a frame header is enough: the peer is alive.
    server.receive_at(&ping[..1], ms(900));
    assert_eq!(server.poll_timeout(), Some(ms(1_900)));
    server.handle_timeout(ms(1_000));
    assert_eq!(server.poll_event(), Ok(None));
    server.receive_at(&ping[1..], ms(1_800));
    assert_eq!(server.poll_timeout(), Some(ms(2_800)));
    assert_eq!(drain(&mut server), (vec![Event::Ping("".into())], None));
}

#[test]
fn no_bytes_is_not_a_byte() {
    let mut server = server(Config::default().idle_timeout(ms(1_000)));
    server.handle_timeout(ms(0));
    server.receive_at(&[], ms(900));
    assert_eq!(server.poll_timeout(), Some(ms(1_000)));
}

#[test]
fn bytes_received_without_a_time_count_at_the_next_time_given() {
    let mut server = server(Config::default().idle_timeout(ms(1_000)));
    server.handle_timeout(ms(0));
    server.receive(&client_frame(true, OpCode::Text, b"late"));
    // The connection asks for the time at once...
    assert_eq!(server.poll_timeout(), Some(ms(0)));
    // ...and even a call past the old deadline does not fail it.
    server.handle_timeout(ms(1_200));
    assert_eq!(
        drain(&mut server),
        (vec![Event::Message(Message::text("late"))], None)
    );
    assert_eq!(server.poll_timeout(), Some(ms(2_200)));
}

/// Moves bytes between `a` and `b`, all arriving at `now`, until neither
/// has anything to send; returns what each received.
fn exchange(
    a: &mut Connection<Duration>,
    b: &mut Connection<Duration>,
    now: Duration,
) -> (Vec<Event>, Vec<Event>) {
    let (mut to_a, mut to_b) = (Vec::new(), Vec::new());
    loop {
        let for_b = a.take_transmit();
        let for_a = b.take_transmit();
        if for_a.is_empty() && for_b.is_empty() {
            return (to_a, to_b);
        }
        b.receive_at(&for_b, now);
        let (events, error) = drain(b);
        assert_eq!(error, None);
        to_b.extend(events);
        a.receive_at(&for_a, now);
        let (events, error) = drain(a);
        assert_eq!(error, None);
        to_a.extend(events);
    }
}

#[test]
fn a_peer_that_keeps_sending_data_is_never_timed_out() {
    let config = Config::default().idle_timeout(ms(10_000));
    let mut server = server(config);
    let mut client = Connection::<Duration>::with_timestamp(Role::Client, Config::default());
    server.handle_timeout(ms(0));
    let mut now = ms(0);
    let mut messages = 0;
    // An hour of a message every 9.9 s; the server wakes at every deadline
    // it gives.
    while now < ms(3_600_000) {
        let next_message = now + ms(9_900);
        while let Some(deadline) = server.poll_timeout().filter(|d| *d <= next_message) {
            server.handle_timeout(deadline);
            assert_eq!(server.poll_event(), Ok(None), "timed out at {deadline:?}");
        }
        now = next_message;
        client.send_text("still here").unwrap();
        let (_, received) = exchange(&mut client, &mut server, now);
        messages += received.len();
    }
    assert_eq!(messages, 364);
    assert_eq!(server.state(), State::Open);
}

#[test]
fn a_peer_that_only_answers_pings_is_never_timed_out() {
    let config = Config::default()
        .keepalive_interval(ms(30_000))
        .idle_timeout(ms(75_000));
    let mut server = server(config);
    // A browser: no timers, answers pings, says nothing else.
    let mut browser = Connection::<Duration>::with_timestamp(Role::Client, Config::default());
    server.handle_timeout(ms(0));
    let mut pongs = 0;
    let mut now = ms(0);
    while now < ms(3_600_000) {
        let deadline = server.poll_timeout().expect("a timer runs");
        assert!(deadline > now, "the deadline does not move on");
        now = deadline;
        server.handle_timeout(now);
        assert_eq!(server.poll_event(), Ok(None), "timed out at {now:?}");
        // The pong comes back 40 ms later.
        let ping = server.take_transmit();
        browser.receive_at(&ping, now);
        assert_eq!(drain(&mut browser), (vec![Event::Ping("".into())], None));
        server.receive_at(&browser.take_transmit(), now + ms(40));
        let (events, error) = drain(&mut server);
        assert_eq!((events, error), (vec![Event::Pong("".into())], None));
        pongs += 1;
    }
    // One ping every 30.04 s for an hour.
    assert_eq!(pongs, 3_600_000 / 30_040 + 1);
}

#[test]
fn a_peer_that_stops_answering_pings_is_timed_out() {
    let config = Config::default()
        .keepalive_interval(ms(30_000))
        .idle_timeout(ms(75_000));
    let mut server = server(config);
    server.handle_timeout(ms(0));
    // The last byte from the peer.
    server.receive_at(&client_frame(true, OpCode::Pong, b""), ms(1_000));
    assert_eq!(drain(&mut server), (vec![Event::Pong("".into())], None));
    let mut pings = 0;
    let mut now = ms(1_000);
    for _ in 0..10 {
        let deadline = server.poll_timeout().expect("a timer runs");
        assert!(deadline > now);
        now = deadline;
        server.handle_timeout(now);
        if !server.take_transmit().is_empty() {
            pings += 1;
        }
        match server.poll_event() {
            Ok(None) => continue,
            Err(ProtocolError::IdleTimeout) => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((now, pings), (ms(76_000), 2));
    assert!(server.is_done());
}

#[test]
fn a_ping_goes_out_only_after_an_interval_of_silence() {
    let mut server = server(Config::default().keepalive_interval(ms(5_000)));
    server.handle_timeout(ms(0));
    server.receive_at(&client_frame(true, OpCode::Binary, b"x"), ms(3_000));
    let _ = drain(&mut server);
    assert_eq!(server.poll_timeout(), Some(ms(8_000)));
    server.handle_timeout(ms(7_999));
    assert_eq!(server.buffered_amount(), 0);
    server.handle_timeout(ms(8_000));
    assert_eq!(
        server.take_transmit().as_ref(),
        server_frame(true, OpCode::Ping, b"").as_slice()
    );
    // With no idle timeout, a silent peer is pinged forever.
    assert_eq!(server.poll_timeout(), Some(ms(13_000)));
}

#[test]
fn no_keepalive_ping_follows_our_close() {
    let config = Config::default()
        .keepalive_interval(ms(1_000))
        .idle_timeout(ms(10_000));
    let mut server = server(config);
    server.handle_timeout(ms(0));
    server.close(CloseCode::GoingAway, "").unwrap();
    let close = server.take_transmit();
    server.handle_timeout(ms(5_000));
    assert_eq!(server.buffered_amount(), 0);
    assert_eq!(server.poll_timeout(), Some(ms(10_000)));
    assert!(!close.is_empty());
}

#[test]
fn a_zero_keepalive_interval_is_off() {
    let mut server = server(Config::default().keepalive_interval(Duration::ZERO));
    server.handle_timeout(ms(0));
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(ms(10));
    assert_eq!(server.buffered_amount(), 0);
}
