//! Property: with permessage-deflate agreed, any sequence of messages, sent
//! whole or in any fragments, with or without context takeover, at any
//! window size, arrives unchanged however the wire bytes are chunked.
#![cfg(feature = "deflate")]

use proptest::prelude::*;
use rfc6455::deflate::{DeflateConfig, DeflateParams};
use rfc6455::message::DataKind;
use rfc6455::{Config, Connection, Event, Message, Role};

/// A message and how it is sent: whole (no cuts) or cut at these offsets.
#[derive(Debug, Clone)]
struct Send {
    text: bool,
    data: Vec<u8>,
    cuts: Vec<usize>,
    uncompressed: bool,
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Compressible: a few words repeated.
        proptest::collection::vec(
            prop_oneof![
                Just(&b"{\"id\":"[..]),
                Just(&b"\"name\""[..]),
                Just(&b"caf\xc3\xa9 "[..]),
                Just(&b"0123"[..])
            ],
            0..200,
        )
        .prop_map(|parts| parts.concat()),
        // Random bytes.
        proptest::collection::vec(any::<u8>(), 0..3000),
    ]
}

fn send() -> impl Strategy<Value = Send> {
    (
        any::<bool>(),
        payload(),
        proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(text, data, cuts, uncompressed)| {
            // Text must be valid UTF-8 as a whole; random bytes become binary.
            let text = text && std::str::from_utf8(&data).is_ok();
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            cuts.sort_unstable();
            Send {
                text,
                data,
                cuts,
                uncompressed,
            }
        })
}

fn queue(sender: &mut Connection, send: &Send) {
    let kind = if send.text {
        DataKind::Text
    } else {
        DataKind::Binary
    };
    if send.cuts.is_empty() {
        let message = if send.text {
            Message::text(String::from_utf8(send.data.clone()).unwrap())
        } else {
            Message::binary(send.data.clone())
        };
        if send.uncompressed {
            sender.send_uncompressed(message).unwrap();
        } else {
            sender.send(message).unwrap();
        }
        return;
    }
    let mut start = 0;
    for &cut in &send.cuts {
        sender
            .send_fragment(kind, &send.data[start..cut], false)
            .unwrap();
        start = cut;
    }
    sender
        .send_fragment(kind, &send.data[start..], true)
        .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn messages_round_trip(
        sends in proptest::collection::vec(send(), 1..6),
        client_sends in any::<bool>(),
        server_reset in any::<bool>(),
        client_reset in any::<bool>(),
        server_bits in 8u8..=15,
        client_bits in 8u8..=15,
        level in 0u32..=9,
        min_size in prop_oneof![Just(0usize), 0usize..2000],
        chunks in proptest::collection::vec(1usize..700, 1..20),
    ) {
        let params = Some(DeflateParams::new(server_reset, client_reset, server_bits, client_bits));
        let config = Config::default().deflate(DeflateConfig::default().level(level).min_size(min_size));
        let (sender_role, receiver_role) = if client_sends {
            (Role::Client, Role::Server)
        } else {
            (Role::Server, Role::Client)
        };
        let mut sender = Connection::with_deflate(sender_role, config, params);
        let mut receiver = Connection::with_deflate(receiver_role, config, params);
        for send in &sends {
            queue(&mut sender, send);
        }
        let wire = sender.take_transmit();
        let mut received = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while at < wire.len() {
            let n = chunks[i % chunks.len()].min(wire.len() - at);
            receiver.receive(&wire[at..at + n]);
            at += n;
            i += 1;
            while let Some(event) = receiver.poll_event().unwrap() {
                if let Event::Message(message) = event {
                    received.push(message);
                }
            }
        }
        prop_assert_eq!(received.len(), sends.len());
        for (got, sent) in received.iter().zip(&sends) {
            prop_assert_eq!(got.as_bytes(), &sent.data[..]);
            prop_assert_eq!(got.as_text().is_some(), sent.text);
        }
    }
}
