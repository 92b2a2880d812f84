//! Heap use on the receive path, counted by a counting global allocator:
//! no allocation per frame, none held by an idle connection, and memory
//! bounded by the payload for hostile fragmentation and by what arrived for
//! a large announced length.
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

/// The receive buffer is let go once every byte in it was consumed, so
/// each read allocates its own (and, when it holds several frames, the
/// handle they share): two allocations per read at most, none per frame.
#[test]
fn decoding_10_000_frames_allocates_per_read_not_per_frame() {
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
        run(&mut server);
        let (allocations, _) = counted(|| {
            for _ in 0..100 {
                run(&mut server);
            }
        });
        let expected = if payload_len == 0 { 100 } else { 200 };
        assert_eq!(
            allocations, expected,
            "{payload_len}-byte frames: allocations for 10,000 frames in 100 reads"
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

/// A header that announces a large payload reserves in proportion to the
/// bytes that arrived, never the announced length (RFC 6455 section 10.4).
#[test]
fn an_announced_gibibyte_reserves_in_proportion_to_what_arrived() {
    let config = Config::default()
        .max_frame_size(2 << 30)
        .max_message_size(2 << 30);
    let mut server = Connection::new(Role::Server, config);
    // 127: a 64-bit length, 1 GiB; a mask key; then 10 bytes.
    let mut header = vec![0x82, 0xff];
    header.extend_from_slice(&(1u64 << 30).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    let (_, peak) = counted(|| {
        server.receive(&header);
        server.receive(&[0; 10]);
        assert!(matches!(server.poll_event(), Ok(None)));
        server.receive(&[0; 10]);
        assert!(matches!(server.poll_event(), Ok(None)));
    });
    assert!(peak < 100 << 10, "peak {peak} bytes for 34 bytes received");
    // Then 4 MiB more in 64 KiB reads: the buffer holds at most about twice
    // what arrived, plus a read.
    let read = vec![0u8; 64 << 10];
    let (_, peak) = counted(|| {
        for _ in 0..64 {
            server.receive(&read);
            assert!(matches!(server.poll_event(), Ok(None)));
        }
    });
    assert!(
        peak <= (2 * (4 << 20) + (128 << 10)) as i64,
        "peak {peak} bytes for 4 MiB received"
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

#[test]
fn a_connection_holds_no_receive_buffer_between_messages() {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut batch = Vec::new();
    for _ in 0..10 {
        batch.extend(client_frame(true, OpCode::Binary, &[7; 1000]));
    }
    let ((), counts) = counting::counted(|| {
        server.receive(&batch);
        let (events, error) = common::drain(&mut server);
        assert_eq!((events.len(), error), (10, None));
        drop(events);
    });
    // Everything allocated while receiving was freed with the messages.
    assert_eq!(counts.live, 0, "bytes still held: {counts:?}");
}

/// A read of one small message (a chat line, a ping) reuses the tiny
/// buffer the connection keeps: no allocation once warm.
#[test]
fn small_messages_read_one_at_a_time_allocate_nothing_once_warm() {
    let frame = client_frame(true, OpCode::Binary, &[7; 100]);
    let mut server = Connection::new(Role::Server, Config::default());
    let run = |server: &mut Connection| {
        server.receive(&frame);
        assert!(matches!(server.poll_event(), Ok(Some(Event::Message(m))) if m.len() == 100));
    };
    run(&mut server);
    let (allocations, _) = counted(|| {
        for _ in 0..1000 {
            run(&mut server);
        }
    });
    assert_eq!(allocations, 0);
}

/// Frames larger than a read arrive as the tail of one read and the head
/// of the next: the payload behind the header moves out of the read's
/// buffer into the message, in a buffer of the message's size allocated
/// once (not a copy and then a reallocation of that copy), and the bytes
/// after the frame stay in the receive buffer, which is reused. One
/// allocation per message (it was four, then two), and the messages held
/// cost their own size: the next frame's bytes are not written into their
/// buffers' spare room, fresh pages that each message would pin (and that
/// cost the allocator page faults when it trims them).
#[test]
fn a_frame_across_two_reads_moves_into_its_message_once() {
    const FRAMES: usize = 64;
    let payload = vec![0x5a; 64 << 10];
    let mut wire = Vec::new();
    for _ in 0..FRAMES {
        wire.extend(client_frame(true, OpCode::Binary, &payload));
    }
    let mut server = Connection::new(Role::Server, Config::default());
    let mut held = Vec::with_capacity(FRAMES);
    let ((), counts) = counting::counted(|| {
        for read in wire.chunks(64 << 10) {
            server.receive(read);
            while let Some(event) = server.poll_event().unwrap() {
                held.push(event);
            }
        }
    });
    assert_eq!(held.len(), FRAMES);
    assert!(
        held.iter()
            .all(|e| matches!(e, Event::Message(m) if m.as_bytes() == &payload[..]))
    );
    assert!(
        counts.allocations <= FRAMES as u64 + 2,
        "{} allocations and reallocations for {FRAMES} frames",
        counts.allocations
    );
    let messages = (FRAMES * payload.len()) as i64;
    assert!(
        counts.peak <= messages + (128 << 10),
        "peak {} B with {messages} B of messages held",
        counts.peak
    );
}
