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
