//! The payload of a fragment goes straight into the message being
//! assembled, unmasked as it is copied there: a message in many frames is
//! copied once, holds at most about twice its size at its peak, and is the
//! same message however the reads are cut, with UTF-8 still checked as the
//! bytes arrive and the message limit still checked at each header.
#![cfg(feature = "std")]

mod common;
mod counting;

use common::{KEY, client_frame, drain, raw_frame, server_frame};
use proptest::prelude::*;
use rfc6455::frame::OpCode;
use rfc6455::{Config, Connection, Event, Message, ProtocolError, Role};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// `payload` as client frames of `frame` bytes, the first with `opcode`.
fn fragments(opcode: OpCode, payload: &[u8], frame: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    let count = payload.len().div_ceil(frame).max(1);
    for (i, chunk) in payload.chunks(frame).enumerate() {
        let op = if i == 0 { opcode } else { OpCode::Continuation };
        wire.extend(client_frame(i + 1 == count, op, chunk));
    }
    wire
}

#[test]
fn a_16_mib_message_in_64_kib_frames_is_copied_once_and_held_once() {
    const MESSAGE: usize = 16 << 20;
    const READ: usize = 64 << 10;
    let payload: Vec<u8> = (0..MESSAGE).map(|i| (i % 251) as u8).collect();
    let wire = fragments(OpCode::Binary, &payload, 64 << 10);
    let mut server = Connection::new(Role::Server, Config::default());
    let (same, counts) = counting::counted(|| {
        let mut message = None;
        for read in wire.chunks(READ) {
            server.receive(read);
            while let Some(event) = server.poll_event().expect("a valid stream") {
                message = Some(event);
            }
        }
        // Compared, then dropped while counting is on.
        matches!(message, Some(Event::Message(m)) if m.as_bytes() == payload)
    });
    assert!(same, "the message differs");
    eprintln!(
        "COUNTS total {} peak {} allocations {}",
        counts.total, counts.peak, counts.allocations
    );
    let payload_bytes = MESSAGE as i64;
    // Allocated over the message's life, growth included: the message
    // (doubling, each growth counted by what it added) and the one receive
    // buffer kept while it arrived.
    assert!(
        counts.total <= 2 * payload_bytes,
        "{} bytes allocated for a {MESSAGE}-byte message",
        counts.total
    );
    assert!(
        counts.peak < 2 * payload_bytes + (128 << 10),
        "peak of {} bytes for a {MESSAGE}-byte message",
        counts.peak
    );
    assert!(
        counts.live <= 256,
        "{} bytes still held once the message is dropped",
        counts.live
    );
}

#[test]
fn bad_utf8_in_a_fragment_fails_before_the_fragment_ends() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&client_frame(false, OpCode::Text, b"fine"));
    let mut second = "ok".repeat(50_000).into_bytes();
    second[10] = 0xff;
    let wire = client_frame(true, OpCode::Continuation, &second);
    // The header and the first 100 payload bytes only.
    server.receive(&wire[..10 + 100]);
    let (events, error) = drain(&mut server);
    assert_eq!(events, []);
    assert_eq!(error.map(|e| e.close_code().into()), Some(1007u16));
}

#[test]
fn bad_utf8_is_found_in_fragments_begun_by_receive() {
    // Fragments of 1000 bytes read 1500 at a time: most headers arrive
    // right after the end of the fragment before, in the same read.
    let mut text = "é".repeat(20_000).into_bytes();
    text[5_001] = b'x'; // cuts a two-byte sequence
    let wire = fragments(OpCode::Text, &text, 1000);
    let mut server = Connection::new(Role::Server, Config::default());
    let mut error = None;
    let mut at = 0;
    for read in wire.chunks(1500) {
        server.receive(read);
        at += read.len();
        let (events, e) = drain(&mut server);
        assert_eq!(events, []);
        if e.is_some() {
            error = e;
            break;
        }
    }
    assert_eq!(error.map(|e| e.close_code().into()), Some(1007u16));
    assert!(at < 8_000, "found after {at} bytes");
}

#[test]
fn bad_utf8_at_the_end_of_a_fragment_is_found_before_the_next_begins() {
    // The second read ends the first fragment with a byte that cannot
    // follow, and holds the whole next fragment.
    let mut first = "é".repeat(500).into_bytes();
    first[999] = b'x';
    let first = client_frame(false, OpCode::Text, &first);
    let mut wire = first[..100].to_vec();
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&wire);
    assert_eq!(drain(&mut server), (vec![], None));
    wire = first[100..].to_vec();
    wire.extend(client_frame(true, OpCode::Continuation, "ü".as_bytes()));
    server.receive(&wire);
    let (events, error) = drain(&mut server);
    assert_eq!(events, []);
    assert_eq!(error.map(|e| e.close_code().into()), Some(1007u16));
}

/// (what, the bytes that follow, config, events, close code)
type Case = (&'static str, Vec<u8>, Config, Vec<Event>, Option<u16>);

/// What follows a fragment whose payload went into the message, in the same
/// read as the fragment's last bytes, with the events and the error (as a
/// close code) it gives. The header is parsed by `receive` when it begins a
/// continuation; every other case is left to `poll_event`.
#[test]
fn what_follows_a_fragment_in_the_same_read() {
    let limit = Config::default().max_message_size(3_000);
    let binary = |payload: &[u8]| Event::Message(Message::binary(payload.to_vec()));
    let mut whole = vec![1; 1000];
    whole.extend([2; 1000]);
    let cases: Vec<Case> = vec![
        (
            "a continuation that ends the message",
            client_frame(true, OpCode::Continuation, &[2; 1000]),
            Config::default(),
            vec![binary(&whole)],
            None,
        ),
        (
            "a ping, then the last continuation",
            [
                client_frame(true, OpCode::Ping, b"p"),
                client_frame(true, OpCode::Continuation, &[2; 1000]),
            ]
            .concat(),
            Config::default(),
            vec![Event::Ping(b"p".to_vec().into()), binary(&whole)],
            None,
        ),
        (
            "an empty continuation, then the last one",
            [
                client_frame(false, OpCode::Continuation, &[]),
                client_frame(true, OpCode::Continuation, &[2; 1000]),
            ]
            .concat(),
            Config::default(),
            vec![binary(&whole)],
            None,
        ),
        (
            "an unmasked continuation (section 5.1)",
            server_frame(true, OpCode::Continuation, &[2; 1000]),
            Config::default(),
            vec![],
            Some(1002),
        ),
        (
            "a new message inside the open one (section 5.4)",
            client_frame(true, OpCode::Binary, &[2; 1000]),
            Config::default(),
            vec![],
            Some(1002),
        ),
        (
            "a continuation with RSV2 set (section 5.2)",
            raw_frame(0xA0, Some(KEY), &[2; 1000]),
            Config::default(),
            vec![],
            Some(1002),
        ),
        (
            "a reserved opcode (section 5.2)",
            raw_frame(0x83, Some(KEY), &[2; 1000]),
            Config::default(),
            vec![],
            Some(1002),
        ),
        (
            "a continuation past the message limit (section 10.4)",
            client_frame(true, OpCode::Continuation, &[2; 2_500]),
            limit,
            vec![],
            Some(1009),
        ),
        (
            "a continuation past the frame limit",
            client_frame(true, OpCode::Continuation, &[2; 2_500]),
            Config::default().max_frame_size(2_000),
            vec![],
            Some(1009),
        ),
    ];
    let first = client_frame(false, OpCode::Binary, &[1; 1000]);
    for (what, next, config, events, code) in cases {
        // Every cut of the next frame: its header whole in the read that
        // ends the first fragment, or cut there and completed by the next.
        for cut in [next.len(), 8, 3, 1, 0] {
            let mut server = Connection::new(Role::Server, config);
            server.receive(&first[..50]);
            assert_eq!(drain(&mut server), (vec![], None), "{what}");
            let mut got = Vec::new();
            let mut error = None;
            let second = [&first[50..], &next[..cut]].concat();
            for read in [&second[..], &next[cut..]] {
                server.receive(read);
                let (e, err) = drain(&mut server);
                got.extend(e);
                if err.is_some() {
                    error = err;
                    break;
                }
            }
            assert_eq!(got, events, "{what}, cut at {cut}");
            assert_eq!(
                error.map(|e| e.close_code().into()),
                code,
                "{what}, cut at {cut}"
            );
        }
    }
}

#[test]
fn a_fragment_begun_within_a_read_is_not_buffered_first() {
    // The first fragment's header arrives alone, so its payload goes into
    // the message; the read that ends it also holds the whole next fragment,
    // whose payload then goes into the message too, without passing
    // through a receive buffer of its size.
    const NEXT: usize = 100_000;
    let first = client_frame(false, OpCode::Binary, &[1; 1000]);
    let next = client_frame(true, OpCode::Continuation, &[2; NEXT]);
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&first[..20]);
    assert_eq!(drain(&mut server), (vec![], None));
    let second = [&first[20..], &next[..]].concat();
    let (events, counts) = counting::counted(|| {
        server.receive(&second);
        let (events, error) = drain(&mut server);
        assert_eq!(error, None);
        events.len()
    });
    assert_eq!(events, 1);
    // The message grows to the power of two above what it holds; a
    // receive buffer for the next fragment would add as much again.
    let message = (1000 + NEXT).next_power_of_two() as i64;
    assert!(
        counts.peak < message + 4096,
        "peak of {} bytes for a message of {message}",
        counts.peak
    );
}

#[test]
fn the_message_limit_counts_fragments_that_went_straight_into_it() {
    let config = Config::default().max_message_size(100_000);
    let mut server = Connection::new(Role::Server, config);
    let first = client_frame(false, OpCode::Binary, &[1; 60_000]);
    // Half of the first fragment, then the rest of it and a second header
    // that crosses the limit.
    server.receive(&first[..30_000]);
    assert_eq!(drain(&mut server), (vec![], None));
    server.receive(&first[30_000..]);
    server.receive(&client_frame(true, OpCode::Continuation, &[2; 50_000])[..20]);
    let (events, error) = drain(&mut server);
    assert_eq!(events, []);
    assert!(
        matches!(error, Some(ProtocolError::Message(_))),
        "{error:?}"
    );
    assert_eq!(error.map(|e| e.close_code().into()), Some(1009u16));
}

/// Messages of either kind, each cut into fragments of various sizes (some
/// empty), with pings between some of them.
fn messages() -> impl Strategy<Value = Vec<(bool, Vec<u8>, Vec<usize>, bool)>> {
    let message = (
        any::<bool>(),
        // Multi-byte characters, so that fragments and reads cut them; up to
        // about 150 KB, so that frames of 64 KiB or more, which move into
        // their message, come up as well as smaller ones.
        (0usize..180_000, any::<u8>()).prop_map(|(len, seed)| {
            "aé€𝄞"
                .chars()
                .cycle()
                .skip(usize::from(seed % 4))
                .take(len / 3)
                .collect::<String>()
                .into_bytes()
        }),
        proptest::collection::vec(0usize..40_000, 0..6),
        any::<bool>(),
    );
    proptest::collection::vec(message, 1..5)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_reads_and_fragments_give_the_messages_sent(
        messages in messages(),
        reads in proptest::collection::vec(1usize..100_000, 1..8),
    ) {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for (is_text, payload, mut cuts, pings) in messages {
            cuts.iter_mut().for_each(|c| *c = (*c).min(payload.len()));
            cuts.sort_unstable();
            cuts.push(payload.len());
            let mut start = 0;
            for (i, &end) in cuts.iter().enumerate() {
                let opcode = match (i, is_text) {
                    (0, true) => OpCode::Text,
                    (0, false) => OpCode::Binary,
                    _ => OpCode::Continuation,
                };
                wire.extend(client_frame(i + 1 == cuts.len(), opcode, &payload[start..end]));
                if pings && i + 1 < cuts.len() {
                    wire.extend(client_frame(true, OpCode::Ping, b"between"));
                }
                start = end;
            }
            expected.push(if is_text {
                Message::text(String::from_utf8(payload).unwrap())
            } else {
                Message::binary(payload)
            });
        }
        let mut server = Connection::new(Role::Server, Config::default());
        let mut got = Vec::new();
        let mut at = 0;
        for read in reads.iter().cycle() {
            if at == wire.len() {
                break;
            }
            let end = (at + read).min(wire.len());
            server.receive(&wire[at..end]);
            at = end;
            let (events, error) = drain(&mut server);
            prop_assert_eq!(error, None);
            got.extend(events.into_iter().filter_map(|e| match e {
                Event::Message(m) => Some(m),
                _ => None,
            }));
        }
        prop_assert_eq!(got, expected);
    }
}
