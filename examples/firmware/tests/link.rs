//! The firmware module against an rfc6455 server in memory, on the host: handshake, a command in, a reading out, the keepalive, the server's close.

use core::time::Duration;

use rfc6455::handshake::{Accept, Incoming, Limits, ServerHandshake, Status};
use rfc6455::{CloseCode, Config, Connection, Event, Message};
use rfc6455_firmware_example::{Link, LinkError};

/// Stands for the chip's generator: a counter, for the test only.
fn keys() -> impl FnMut() -> [u8; 4] + Send + Sync + 'static {
    let mut n = 0u32;
    move || {
        n = n.wrapping_add(0x9e37_79b9);
        n.to_le_bytes()
    }
}

fn all_output(link: &mut Link<impl FnMut() -> [u8; 4] + Send + Sync + 'static>) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(bytes) = link.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    out
}

fn events(server: &mut Connection<Duration>) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(event) = server.poll_event().unwrap() {
        out.push(event);
    }
    out
}

#[test]
fn a_session_from_handshake_to_close() {
    let mut link = Link::connect("ws://10.0.0.2:9001/telemetry", keys()).unwrap();
    let request = all_output(&mut link);
    assert!(request.starts_with(b"GET /telemetry HTTP/1.1\r\n"));
    assert!(link.poll_transmit().is_none(), "the request goes once");

    let mut handshake = ServerHandshake::new(Limits::default());
    let Status::Complete(Incoming::Upgrade(upgrade)) = handshake.receive(&request).unwrap() else {
        panic!("a whole upgrade request");
    };
    assert_eq!(upgrade.protocols(), ["telemetry.v1"]);
    let mut answer = upgrade
        .accept(Accept::new().protocol("telemetry.v1"))
        .unwrap();
    let mut server = Connection::<Duration>::server(Config::default());
    // A command right behind the answer, in the same read.
    server.send_text("interval 5").unwrap();
    answer.extend_from_slice(&server.take_transmit());
    assert_eq!(link.receive(&answer, 1_000).unwrap(), ["interval 5"]);
    assert_eq!(link.next_wakeup_ms(), Some(31_000), "the keepalive");

    link.publish("temperature", 21_500).unwrap();
    server.receive(&all_output(&mut link));
    assert_eq!(
        events(&mut server),
        [Event::Message(Message::text(
            r#"{"sensor":"temperature","milli":21500}"#
        ))]
    );

    // 30 s of silence: the link pings and the server's pong comes back.
    link.tick(31_000).unwrap();
    server.receive(&all_output(&mut link));
    assert_eq!(events(&mut server), [Event::Ping("".into())]);
    assert!(
        link.receive(&server.take_transmit(), 31_050)
            .unwrap()
            .is_empty()
    );

    // The server closes; the link echoes it and is done.
    server.close(CloseCode::GoingAway, "maintenance").unwrap();
    assert!(
        link.receive(&server.take_transmit(), 40_000)
            .unwrap()
            .is_empty()
    );
    server.receive(&all_output(&mut link));
    assert!(matches!(events(&mut server)[..], [Event::Close(Some(_))]));
    assert!(link.is_done() && server.is_done());
}

#[test]
fn a_refused_upgrade_ends_the_link() {
    let mut link = Link::connect("ws://10.0.0.2:9001/telemetry", keys()).unwrap();
    let _ = all_output(&mut link);
    let answer = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    assert!(matches!(
        link.receive(answer, 0),
        Err(LinkError::Handshake(_))
    ));
    assert!(link.is_done());
}

#[test]
fn silence_past_the_idle_timeout_ends_the_link() {
    let mut link = Link::connect("ws://10.0.0.2/telemetry", keys()).unwrap();
    let request = all_output(&mut link);
    let mut handshake = ServerHandshake::new(Limits::default());
    let Status::Complete(Incoming::Upgrade(upgrade)) = handshake.receive(&request).unwrap() else {
        panic!("a whole upgrade request");
    };
    let answer = upgrade.accept(Accept::new()).unwrap();
    assert!(link.receive(&answer, 0).unwrap().is_empty());
    link.tick(30_000).unwrap(); // a ping nobody answers
    assert!(matches!(
        link.tick(75_000),
        Err(LinkError::Protocol(rfc6455::ProtocolError::IdleTimeout))
    ));
    assert!(link.is_done());
}
