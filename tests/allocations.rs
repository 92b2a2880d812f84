//! Heap use on the receive path, counted by a counting global allocator:
//! no allocation per frame once buffers are warm, and memory bounded by the
//! payload for hostile fragmentation.
#![cfg(feature = "std")]

mod common;
mod counting;

use common::client_frame;
use rfc6455::frame::OpCode;
use rfc6455::{Config, Connection, Event, Role};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// Runs `f` with counting on; returns (allocations, peak live bytes).
fn counted(f: impl FnOnce()) -> (u64, i64) {
    let ((), counts) = counting::counted(f);
    (counts.allocations, counts.peak)
}

#[test]
fn decoding_10_000_frames_allocates_nothing_once_warm() {
    for payload_len in [0usize, 16, 125] {
        let text = "x".repeat(payload_len);
        let mut batch = Vec::new();
        for _ in 0..100 {
            batch.extend(client_frame(true, OpCode::Text, text.as_bytes()));
        }
        let mut server = Connection::new(Role::Server, Config::default());
        let run = |server: &mut Connection| {
            let mut frames = 0;
            server.receive(&batch);
            while let Ok(Some(event)) = server.poll_event() {
                assert!(matches!(event, Event::Message(ref m) if m.len() == payload_len));
                frames += 1;
            }
            assert_eq!(frames, 100);
        };
        // Warm the buffers.
        run(&mut server);
        let (allocations, _) = counted(|| {
            for _ in 0..100 {
                run(&mut server);
            }
        });
        assert_eq!(
            allocations, 0,
            "{payload_len}-byte frames: allocations for 10,000 frames"
        );
    }
}

#[test]
fn a_million_empty_fragments_cost_a_constant() {
    let empty = client_frame(false, OpCode::Continuation, b"");
    let mut chunk = Vec::new();
    for _ in 0..1000 {
        chunk.extend_from_slice(&empty);
    }
    let mut server = Connection::new(Role::Server, Config::default());
    let (_, peak) = counted(|| {
        server.receive(&client_frame(false, OpCode::Binary, b"payload"));
        for _ in 0..1000 {
            server.receive(&chunk);
            assert!(matches!(server.poll_event(), Ok(None)));
        }
        server.receive(&client_frame(true, OpCode::Continuation, b""));
        assert!(matches!(server.poll_event(), Ok(Some(Event::Message(_)))));
    });
    // One chunk (6,000 bytes) in the receive buffer, at most doubled by
    // growth, plus the payload: far below a byte per fragment.
    assert!(
        peak < 32 * 1024,
        "peak live heap {peak} bytes for a million fragments"
    );
}

#[test]
fn an_idle_connection_allocates_nothing() {
    let (allocations, _) = counted(|| {
        let connection = Connection::new(Role::Server, Config::default());
        std::hint::black_box(&connection);
    });
    assert_eq!(allocations, 0);
}

#[test]
fn the_counter_sees_allocations() {
    let (allocations, peak) = counted(|| {
        std::hint::black_box(Vec::<u8>::with_capacity(1000));
    });
    assert_eq!(allocations, 1);
    assert_eq!(peak, 1000);
}
