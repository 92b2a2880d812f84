//! Shared mode's pool (RFC 7692 section 7.1.1, no context takeover either
//! way): a message's inflater and compressor go back to the pool, reset,
//! when the message ends, when it fails halfway (corrupt data, 1007; over
//! the limit, 1009) and when a connection is dropped mid-message; the next
//! connection then works with the same state. Dedicated mode's inflaters
//! come from the same pool (a connection keeps only its peer's last
//! window): a state that failed halfway on one connection inflates the next
//! one's back-references into its own history.
//!
//! The pool is one for the process, so these tests take turns.
#![cfg(feature = "deflate")]

mod common;
mod counting;

use rfc6455::deflate::{DeflateConfig, DeflateParams, Deflater, pool};
use rfc6455::message::DataKind;
use rfc6455::{Config, Connection, Event, Message, Role};
use std::sync::{Mutex, MutexGuard};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

/// One test at a time: they count what the process-wide pool holds.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A masked client frame with any first byte.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    common::raw_frame(first, Some(common::KEY), payload)
}

/// Chat-like text of about `len` bytes.
fn text(len: usize, seed: usize) -> String {
    let mut out = String::new();
    let mut i = seed;
    while out.len() < len {
        out.push_str(&format!(
            r#"{{"id":{i},"user":"u{}","text":"hi {}"}},"#,
            i % 7,
            i * 31
        ));
        i += 1;
    }
    out
}

/// Compressed pieces of one message, from an empty context, each ending
/// with a sync flush (byte-aligned); the last has its tail removed. Made by
/// a dedicated compressor so that the pool is left alone.
fn compressed(pieces: &[&str]) -> Vec<Vec<u8>> {
    let mut deflater = Deflater::new(6, 15, false);
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut out = Vec::new();
            deflater
                .compress(piece.as_bytes(), i + 1 == pieces.len(), &mut out)
                .unwrap();
            out
        })
        .collect()
}

fn shared_server(max_message_size: u64) -> Connection {
    let config = Config::default()
        .max_message_size(max_message_size)
        .deflate(DeflateConfig::shared());
    Connection::with_deflate(
        Role::Server,
        config,
        Some(DeflateParams::new(true, true, 15, 15)),
    )
}

/// A message fails on its second frame: the first frame's state is in the
/// inflater when it does.
fn fail_halfway(mut server: Connection, first: &[u8], second: &[u8], code: u16) -> Connection {
    server.receive(&frame(0x41, first)); // text, RSV1, not FIN
    assert_eq!(server.poll_event().unwrap(), None);
    assert_eq!(
        pool::idle().inflaters,
        0,
        "the open message holds the inflater"
    );
    server.receive(&frame(0x80, second));
    let error = server.poll_event().unwrap_err();
    assert_eq!(u16::from(error.close_code()), code, "{error:?}");
    // The failed connection is still alive: the state came back on the
    // failure path, not by a drop.
    assert_eq!(
        pool::idle().inflaters,
        1,
        "the inflater is back in the pool"
    );
    server
}

/// Another connection inflates a good message with the
/// pooled inflater, allocating no new state.
fn next_connection_decodes() {
    let message = text(3000, 5);
    let payload = compressed(&[&message]).remove(0);
    let mut server = shared_server(1 << 20);
    let (event, counts) = counting::counted(|| {
        server.receive(&frame(0xc1, &payload));
        server.poll_event()
    });
    assert_eq!(
        event.unwrap(),
        Some(Event::Message(Message::text(message.clone())))
    );
    assert_eq!(
        pool::idle().inflaters,
        1,
        "taken from the pool and given back"
    );
    // The frame, the inflated text and small buffers, but no new 46 KiB
    // inflater (its 32 KiB window alone would show).
    assert!(counts.total < 24 * 1024, "{} bytes allocated", counts.total);
}

#[test]
fn corrupt_data_halfway_gives_the_inflater_back_reset() {
    let _serial = serial();
    let start = text(2000, 0);
    let good = compressed(&[&start, ""]);
    pool::clear();
    // A block of reserved type 3 after a byte-aligned first half.
    let server = fail_halfway(shared_server(1 << 20), &good[0], &[0x07, 0x00], 1007);
    next_connection_decodes();
    drop(server);
    assert_eq!(pool::idle().inflaters, 1);
}

#[test]
fn too_big_halfway_gives_the_inflater_back_reset() {
    let _serial = serial();
    let (first, second) = (text(6000, 1), text(6000, 2));
    let pieces = compressed(&[&first, &second]);
    pool::clear();
    // The second frame crosses the 10,000-byte limit while inflating.
    let server = fail_halfway(shared_server(10_000), &pieces[0], &pieces[1], 1009);
    next_connection_decodes();
    drop(server);
}

#[test]
fn invalid_utf8_halfway_gives_the_inflater_back_reset() {
    let _serial = serial();
    let pieces = compressed(&[&text(2000, 3), "caf\u{e9}"]);
    let mut bad = Vec::new();
    // Latin-1 é, not UTF-8, compressed in the same context as the first half.
    let mut deflater = Deflater::new(6, 15, false);
    let mut first = Vec::new();
    deflater
        .compress(text(2000, 3).as_bytes(), false, &mut first)
        .unwrap();
    deflater
        .compress(b"caf\xe9 and more", true, &mut bad)
        .unwrap();
    assert_eq!(first, pieces[0]);
    pool::clear();
    let server = fail_halfway(shared_server(1 << 20), &first, &bad, 1007);
    next_connection_decodes();
    drop(server);
}

#[test]
fn a_connection_dropped_mid_message_gives_its_compressor_back() {
    let _serial = serial();
    pool::clear();
    let mut server = shared_server(1 << 20);
    server
        .send_fragment(DataKind::Text, text(2000, 0).as_bytes(), false)
        .unwrap();
    assert_eq!(
        pool::idle().compressors,
        0,
        "the open message holds the compressor"
    );
    drop(server);
    assert_eq!(pool::idle().compressors, 1);
    // The next connection compresses with it, from an empty context.
    let mut server = shared_server(1 << 20);
    let message = text(3000, 9);
    server.send_text(&message).unwrap();
    assert_eq!(pool::idle().compressors, 1);
    let mut client = Connection::with_deflate(
        Role::Client,
        Config::default().deflate(DeflateConfig::shared()),
        Some(DeflateParams::new(true, true, 15, 15)),
    );
    client.receive(&server.take_transmit());
    assert_eq!(
        client.poll_event().unwrap(),
        Some(Event::Message(Message::text(message)))
    );
}

#[test]
fn the_pool_keeps_few_idle_states() {
    let _serial = serial();
    pool::clear();
    // More connections mid-message than the pool keeps: when they end, the
    // extra states are dropped.
    let mut servers: Vec<Connection> = (0..pool::MAX_IDLE + 3)
        .map(|i| {
            let mut server = shared_server(1 << 20);
            server
                .send_fragment(DataKind::Binary, text(1500, i).as_bytes(), false)
                .unwrap();
            server
        })
        .collect();
    assert_eq!(pool::idle().compressors, 0);
    for server in &mut servers {
        server
            .send_fragment(DataKind::Binary, b"end", true)
            .unwrap();
    }
    assert_eq!(pool::idle().compressors, pool::MAX_IDLE);
    pool::clear();
    assert_eq!(pool::idle(), pool::Idle::default());
}

/// Dedicated mode at a 9-bit window: the server keeps only the client's
/// last 512 inflated bytes and borrows its inflater from the same pool.
fn dedicated_server() -> Connection {
    let config = Config::default().deflate(DeflateConfig::dedicated(9));
    Connection::with_deflate(
        Role::Server,
        config,
        Some(DeflateParams::new(false, false, 9, 9)),
    )
}

#[test]
fn a_failed_message_leaves_the_next_connections_history_intact() {
    let _serial = serial();
    pool::clear();
    // The client's side of a connection with context takeover at 9 bits.
    let mut client = Deflater::new(6, 9, false);
    let mut send = |text: &str| {
        let mut payload = Vec::new();
        client
            .compress(text.as_bytes(), true, &mut payload)
            .unwrap();
        payload
    };
    let first = text(1500, 11);
    let mut next = dedicated_server();
    next.receive(&frame(0xc1, &send(&first)));
    assert_eq!(
        next.poll_event().unwrap(),
        Some(Event::Message(Message::text(first.clone())))
    );
    assert_eq!(pool::idle().inflaters, 1, "the inflater went back");

    // Another connection takes that inflater and fails halfway through a
    // message, with a half-inflated window in the state.
    let good = compressed(&[&text(2000, 0), ""]);
    let failed = fail_halfway(dedicated_server(), &good[0], &[0x07, 0x00], 1007);

    // The first connection's next message refers back into its own last
    // window (the end of `first`, within the 250 bytes zlib reaches back
    // at 9 bits), through the inflater that just failed.
    let second = format!("{}!", &first[first.len() - 200..]);
    let payload = send(&second);
    assert!(
        payload.len() < 16,
        "{} bytes: the message is a back-reference",
        payload.len()
    );
    next.receive(&frame(0xc1, &payload));
    assert_eq!(
        next.poll_event().unwrap(),
        Some(Event::Message(Message::text(second)))
    );
    assert_eq!(pool::idle().inflaters, 1);
    drop(failed);
}
