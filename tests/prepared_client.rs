//! A client cannot share a prepared message's bytes: each of its frames is
//! masked with a fresh key (RFC 6455 section 5.3). Its `send_prepared` sends
//! the message as an ordinary `send` does, in its own frame size, and leaves
//! the prepared bytes untouched.
#![cfg(feature = "std")]
mod common;

use common::drain;
use rfc6455::frame::{FrameHeader, HeaderStatus, OpCode, Rsv};
use rfc6455::{Config, Connection, Event, Message, PreparedMessage, Role};

/// The headers of the frames in `wire`.
fn headers(mut wire: &[u8]) -> Vec<FrameHeader> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let Ok(HeaderStatus::Complete { header, len }) = FrameHeader::decode(wire, Rsv::NONE)
        else {
            panic!("not a whole frame");
        };
        out.push(header);
        wire = &wire[len + header.payload_len as usize..];
    }
    out
}

#[test]
fn a_clients_frames_are_masked_and_decode_to_the_message() {
    for len in [0usize, 5, 20_000, 100_000] {
        let data: Vec<u8> = (0..len).map(|i| (i * 13) as u8).collect();
        let message = Message::binary(data.clone());
        // Prepared in frames of 64 KiB; the client's own are 30,000 bytes.
        let prepared = PreparedMessage::new(message.clone(), 64 << 10);
        let frames_before = prepared.frames().clone();
        let config = Config::default().send_frame_size(30_000);
        let mut client = Connection::new(Role::Client, config);
        client.send_prepared(&prepared).unwrap();
        let queued = client.buffered_amount();
        let wire = client.take_transmit();
        assert_eq!(wire.len(), queued);

        let headers = headers(&wire);
        assert_eq!(headers.len(), len.div_ceil(30_000).max(1), "{len}");
        assert!(headers.iter().all(|h| h.mask.is_some()), "{len}: unmasked");
        assert_eq!(headers[0].opcode, OpCode::Binary);

        let mut server = Connection::new(Role::Server, Config::default());
        server.receive(&wire);
        assert_eq!(drain(&mut server), (vec![Event::Message(message)], None));
        // Neither the prepared frames nor the message were masked in place.
        assert_eq!(prepared.frames(), &frames_before);
        assert_eq!(prepared.message().as_bytes(), &data[..]);
    }
}

#[test]
fn two_clients_send_different_bytes_for_the_same_prepared_message() {
    let prepared = PreparedMessage::for_config(Message::text("hello hello"), &Config::default());
    let mut a = Connection::new(Role::Client, Config::default());
    let mut b = Connection::new(Role::Client, Config::default());
    a.send_prepared(&prepared).unwrap();
    b.send_prepared(&prepared).unwrap();
    let (a, b) = (a.take_transmit(), b.take_transmit());
    assert_eq!(a.len(), b.len());
    assert_ne!(a, b, "each client masks with its own keys");
    assert_ne!(&a[..], &prepared.frames()[..]);
}

/// A client with permessage-deflate compresses the message itself, with its
/// own context, and the server inflates it.
#[cfg(feature = "deflate")]
#[test]
fn a_compressing_client_compresses_the_message_itself() {
    use rfc6455::deflate::{DeflateConfig, DeflateParams};
    let params = Some(DeflateParams::new(true, true, 15, 15));
    let config = Config::default().deflate(DeflateConfig::default().min_size(0));
    let text = "compress me ".repeat(1000);
    let prepared = PreparedMessage::for_config(Message::text(text.clone()), &config);
    let mut client = Connection::with_deflate(Role::Client, config, params);
    client.send_prepared(&prepared).unwrap();
    let wire = client.take_transmit();
    assert!(wire.len() < text.len() / 4);
    assert_eq!(wire[0], 0xc1, "FIN, RSV1, text");
    let mut server = Connection::with_deflate(Role::Server, config, params);
    server.receive(&wire);
    assert_eq!(
        drain(&mut server),
        (vec![Event::Message(Message::text(text))], None)
    );
}
