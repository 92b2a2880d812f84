//! Any valid stream of frames yields the same events however the bytes are
//! cut into chunks.
#![cfg(feature = "std")]

mod common;

use common::{client_frame, drain};
use proptest::prelude::*;
use rfc6455::frame::OpCode;
use rfc6455::{Config, Connection, Event, Role};

/// A valid client stream: messages of either kind, each cut into fragments,
/// with pings and pongs between fragments.
fn valid_stream() -> impl Strategy<Value = Vec<u8>> {
    let message = (
        any::<bool>(),
        "\\PC{0,40}",
        proptest::collection::vec(0usize..50, 0..4),
        proptest::collection::vec(
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..10)),
            0..4,
        ),
    );
    proptest::collection::vec(message, 1..8).prop_map(|messages| {
        let mut wire = Vec::new();
        for (is_text, text, cuts, controls) in messages {
            let payload = text.into_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(payload.len())).collect();
            cuts.sort_unstable();
            cuts.push(payload.len());
            let mut start = 0;
            for (i, &end) in cuts.iter().enumerate() {
                let opcode = match (i, is_text) {
                    (0, true) => OpCode::Text,
                    (0, false) => OpCode::Binary,
                    _ => OpCode::Continuation,
                };
                wire.extend(client_frame(
                    i + 1 == cuts.len(),
                    opcode,
                    &payload[start..end],
                ));
                start = end;
                if let Some(Some(control)) = controls.get(i) {
                    let opcode = if control.len() % 2 == 0 {
                        OpCode::Ping
                    } else {
                        OpCode::Pong
                    };
                    wire.extend(client_frame(true, opcode, control));
                }
            }
        }
        wire
    })
}

fn events_of(chunks: &[&[u8]]) -> (Vec<Event>, Vec<u8>) {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut events = Vec::new();
    for chunk in chunks {
        server.receive(chunk);
        let (got, error) = drain(&mut server);
        assert_eq!(error, None);
        events.extend(got);
    }
    (events, server.take_transmit().to_vec())
}

proptest! {
    #[test]
    fn chunking_does_not_change_the_events(
        wire in valid_stream(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let whole = events_of(&[&wire]);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([wire.len()]) {
            chunks.push(&wire[start..cut]);
            start = cut;
        }
        prop_assert_eq!(events_of(&chunks), whole.clone());
        prop_assert!(!whole.0.is_empty());
    }

    #[test]
    fn byte_by_byte_gives_the_same_events(wire in valid_stream()) {
        let chunks: Vec<&[u8]> = wire.chunks(1).collect();
        prop_assert_eq!(events_of(&chunks), events_of(&[&wire]));
    }
}

/// Binary messages of the given lengths, one frame each, and their payloads.
fn large_stream(lens: &[usize], seed: u8) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut wire = Vec::new();
    let mut payloads = Vec::new();
    for (n, &len) in lens.iter().enumerate() {
        let payload: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed ^ n as u8))
            .collect();
        wire.extend(client_frame(true, OpCode::Binary, &payload));
        payloads.push(payload);
    }
    (wire, payloads)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Payloads large enough for the receive buffer to grow in steps,
    /// cut anywhere, and sometimes given in several `receive` calls before
    /// the next `poll_event`: every payload comes out as sent.
    #[test]
    fn large_payloads_in_any_chunking_come_out_as_sent(
        lens in proptest::collection::vec(prop_oneof![0usize..300, 60_000usize..300_000], 1..4),
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..40),
        seed: u8,
    ) {
        let (wire, payloads) = large_stream(&lens, seed);
        let mut cuts: Vec<(usize, bool)> =
            cuts.iter().map(|(c, poll)| (c.index(wire.len() + 1), *poll)).collect();
        cuts.sort_unstable();
        let mut server = Connection::new(Role::Server, Config::default());
        let mut got = Vec::new();
        let mut start = 0;
        for (cut, poll) in cuts.into_iter().chain([(wire.len(), true)]) {
            server.receive(&wire[start..cut]);
            start = cut;
            if poll {
                let (events, error) = drain(&mut server);
                prop_assert_eq!(error, None);
                got.extend(events);
            }
        }
        let expected: Vec<Event> = payloads
            .into_iter()
            .map(|p| Event::Message(rfc6455::Message::binary(p)))
            .collect();
        prop_assert_eq!(got, expected);
    }
}
