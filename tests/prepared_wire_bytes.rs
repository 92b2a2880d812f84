//! A prepared message puts on the wire exactly the bytes that an ordinary
//! `send` of the same message puts there on a fresh server connection
//! negotiated the same way: over sizes, kinds, frame sizes, and
//! permessage-deflate with and without `server_no_context_takeover` at each
//! window size. The one deliberate difference: a message that compression
//! does not make smaller goes out uncompressed from a prepared message,
//! byte for byte as `send_uncompressed` sends it.
#![cfg(feature = "std")]
mod common;

use common::drain;
use proptest::prelude::*;
use rfc6455::{Config, Connection, Event, Message, PreparedMessage, Role};

/// A payload that deflate shrinks or not: `noise` bytes out of 256 are
/// pseudo-random (ASCII for text), the rest repeat a phrase.
fn payload(len: usize, noise: u8, seed: u64, text: bool) -> Vec<u8> {
    let mask = if text { 0x7f } else { 0xff };
    let phrase = b"the quick brown fox jumps over the lazy dog ";
    let mut x = seed | 1;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if (x as u8) < noise {
                (x >> 8) as u8 & mask
            } else {
                phrase[i % phrase.len()]
            }
        })
        .collect()
}

fn message(text: bool, data: Vec<u8>) -> Message {
    if text {
        Message::text(String::from_utf8(data).unwrap())
    } else {
        Message::binary(data)
    }
}

/// A server built the way every connection of the proptest is.
fn server(config: Config, deflate: Option<(bool, u8)>) -> Connection {
    #[cfg(feature = "deflate")]
    {
        let params = deflate
            .map(|(reset, bits)| rfc6455::deflate::DeflateParams::new(reset, false, bits, 15));
        Connection::with_deflate(Role::Server, config, params)
    }
    #[cfg(not(feature = "deflate"))]
    {
        let _ = deflate;
        Connection::new(Role::Server, config)
    }
}

fn client(config: Config, deflate: Option<(bool, u8)>) -> Connection {
    #[cfg(feature = "deflate")]
    {
        let params = deflate
            .map(|(reset, bits)| rfc6455::deflate::DeflateParams::new(reset, false, bits, 15));
        Connection::with_deflate(Role::Client, config, params)
    }
    #[cfg(not(feature = "deflate"))]
    {
        let _ = deflate;
        Connection::new(Role::Client, config)
    }
}

fn config(frame_size: usize, min_size: usize) -> Config {
    let config = Config::default().send_frame_size(frame_size);
    #[cfg(feature = "deflate")]
    let config = config.deflate(rfc6455::deflate::DeflateConfig::default().min_size(min_size));
    #[cfg(not(feature = "deflate"))]
    let _ = min_size;
    config
}

fn deflate() -> impl Strategy<Value = Option<(bool, u8)>> {
    if cfg!(feature = "deflate") {
        prop_oneof![Just(None), (any::<bool>(), 9u8..=15).prop_map(Some)].boxed()
    } else {
        Just(None).boxed()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn a_prepared_message_sends_the_bytes_send_would(
        len in prop_oneof![0usize..2000, 0usize..(200 << 10)],
        text in any::<bool>(),
        noise in prop_oneof![Just(0u8), Just(40), Just(255)],
        seed in any::<u64>(),
        frame_size in prop_oneof![Just(1usize), 100usize..5000, Just(16 << 10), Just(64 << 10)],
        min_size in prop_oneof![Just(0usize), Just(1024)],
        deflate in deflate(),
    ) {
        // Frames of one byte make 200 KiB into 200,000 frames: keep those short.
        let len = if frame_size == 1 { len % 3000 } else { len };
        let config = config(frame_size, min_size);
        let original = message(text, payload(len, noise, seed, text));
        let prepared = PreparedMessage::for_config(original.clone(), &config);

        let mut shared = server(config, deflate);
        shared.send_prepared(&prepared).unwrap();
        let queued = shared.buffered_amount();
        let wire = shared.take_transmit();
        prop_assert_eq!(wire.len(), queued);

        let mut ordinary = server(config, deflate);
        ordinary.send(original.clone()).unwrap();
        let expected = ordinary.take_transmit();

        // A server with no context takeover that compresses the message
        // sends the prepared compressed frames, unless compression did not
        // make the payload smaller: then the frames as send_uncompressed
        // would queue them.
        let shared_compression = deflate.is_some_and(|(reset, _)| reset) && len >= min_size;
        if shared_compression && payload_len(&expected) >= len {
            let mut plain = server(config, deflate);
            plain.send_uncompressed(original.clone()).unwrap();
            prop_assert_eq!(&wire, &plain.take_transmit(), "no gain: sent as is");
        } else {
            prop_assert_eq!(&wire, &expected);
        }

        // And the peer gets the message back, whatever went out.
        let mut peer = client(Config::default(), deflate);
        peer.receive(&wire);
        let (events, error) = drain(&mut peer);
        prop_assert_eq!(error, None);
        prop_assert_eq!(events, vec![Event::Message(original)]);
    }
}

/// The payload bytes of the frames in `wire`.
fn payload_len(mut wire: &[u8]) -> usize {
    use rfc6455::frame::{FrameHeader, HeaderStatus, Rsv};
    let mut total = 0;
    while !wire.is_empty() {
        let Ok(HeaderStatus::Complete { header, len }) = FrameHeader::decode(wire, Rsv::RSV1)
        else {
            panic!("not a whole frame");
        };
        let n = header.payload_len as usize;
        total += n;
        wire = &wire[len + n..];
    }
    total
}

/// The same prepared message, sent on a server that already sent other
/// messages with no context takeover, still matches that connection's own
/// compression: its compressor starts each message from an empty context.
#[cfg(feature = "deflate")]
#[test]
fn no_context_takeover_matches_after_other_messages_too() {
    use rfc6455::deflate::{DeflateConfig, DeflateParams};
    for bits in 9..=15 {
        let params = Some(DeflateParams::new(true, false, bits, 15));
        let config = Config::default().deflate(DeflateConfig::default().min_size(0));
        let text = "all the news that fits ".repeat(400);
        let prepared = PreparedMessage::for_config(Message::text(text.clone()), &config);
        let mut shared = Connection::with_deflate(Role::Server, config, params);
        let mut ordinary = Connection::with_deflate(Role::Server, config, params);
        for server in [&mut shared, &mut ordinary] {
            server
                .send_text("something else first, something else")
                .unwrap();
        }
        shared.send_prepared(&prepared).unwrap();
        ordinary.send(Message::text(text)).unwrap();
        assert_eq!(
            shared.take_transmit(),
            ordinary.take_transmit(),
            "{bits} bits"
        );
    }
}
