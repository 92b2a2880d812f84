//! The `deflate` target: permessage-deflate's inflating and compressing
//! paths through a [`Connection`] that agreed the extension.
//!
//! The input is a 4-byte prefix and a body:
//! - byte 0: bit 0 the role under test (1 = client), bit 1 the peer resets
//!   its context after each message, bit 2 this end does; bits 3-7 the
//!   piece size the body is fed in (0 = whole);
//! - byte 1: the peer's window bits (low nibble) and ours (high nibble),
//!   each taken into 8..=15;
//! - bytes 2-3: `max_message_size`, little-endian.
//!
//! The body goes two ways:
//! 1. as frames on the wire, fed in pieces to the connection, which must
//!    never panic, deliver only messages within the limit (text as UTF-8),
//!    and fail only with 1002, 1007 or 1009;
//! 2. as one message compressed by a peer connection with the same
//!    parameters, which must arrive unchanged, or fail with 1009 if it
//!    inflates past the limit.
//!
//! Memory stays within the limit, the body and a constant for zlib's state
//! in both.
//!
//! Every inflater comes from the pool for one message, primed with the
//! peer's last window when the peer takes over its context (dedicated
//! mode), and so does a compressor that resets its context (shared mode)
//! or keeps it at a window of at most 10 bits. The connection of 1 stays
//! alive through 2, so a message that failed halfway in 1 (1007 or 1009)
//! must have given its inflater back, reset, on the failure path, and 2's
//! receiver inflates its messages, the second against the first, with that
//! state.

use std::sync::atomic::Ordering;

use rfc6455::deflate::{DeflateConfig, DeflateParams, pool};
use rfc6455::{Config, Connection, Event, Message, ProtocolError, Role};

use crate::connection::{LIVE, PEAK};

/// zlib's states (a compressor and an inflater on each of two connections)
/// and small buffers: the constant of the memory bound.
const ZLIB: usize = 2 << 20;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&[flags, bits, lo, hi], body)) = data.split_first_chunk() else {
        return;
    };
    let role = if flags & 1 == 1 {
        Role::Client
    } else {
        Role::Server
    };
    let peer_role = match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let peer_resets = flags & 2 != 0;
    let we_reset = flags & 4 != 0;
    let piece = match usize::from(flags >> 3) {
        0 => usize::MAX,
        n => n,
    };
    let peer_bits = 8 + (bits & 0x0f) % 8;
    let our_bits = 8 + (bits >> 4) % 8;
    let limit = u16::from_le_bytes([lo, hi]);
    let params = match role {
        Role::Server => DeflateParams::new(we_reset, peer_resets, our_bits, peer_bits),
        Role::Client => DeflateParams::new(peer_resets, we_reset, peer_bits, our_bits),
    };
    let config = Config::default()
        .max_message_size(u64::from(limit))
        .deflate(DeflateConfig::default().min_size(0));
    let budget = 4 * body.len() + 4 * usize::from(limit) + ZLIB;
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let check_memory = || {
        let held = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
        assert!(held <= budget, "{held} bytes held, budget {budget}");
    };

    // 1. The body as frames on the wire.
    let mut conn = Connection::with_deflate(role, config, Some(params));
    'feed: for chunk in body.chunks(piece) {
        conn.receive(chunk);
        loop {
            match conn.poll_event() {
                Ok(None) => break,
                Ok(Some(Event::Message(message))) => {
                    assert!(message.len() <= usize::from(limit));
                    if let Message::Text(text) = &message {
                        assert!(std::str::from_utf8(text.as_bytes()).is_ok());
                    }
                }
                Ok(Some(_)) => {}
                Err(error) => {
                    let code = u16::from(error.close_code());
                    assert!(matches!(code, 1002 | 1007 | 1009), "{error:?}");
                    break 'feed;
                }
            }
        }
        check_memory();
    }
    // The pool keeps few idle states, however the message ended.
    let idle = pool::idle();
    assert!(idle.inflaters <= pool::MAX_IDLE && idle.compressors <= pool::MAX_IDLE);

    // 2. The body as a message, compressed by the peer.
    let mut sender = Connection::with_deflate(peer_role, config, Some(params));
    let mut receiver = Connection::with_deflate(role, config, Some(params));
    for _ in 0..2 {
        // Twice, so that a kept context is used.
        sender.send_binary(body).expect("the peer can send");
        let wire = sender.take_transmit();
        assert!(wire[0] & 0x40 != 0, "a compressed message has RSV1");
        for chunk in wire.chunks(piece) {
            receiver.receive(chunk);
        }
        match receiver.poll_event() {
            Ok(Some(Event::Message(message))) => {
                assert!(body.len() <= usize::from(limit));
                assert_eq!(message.as_bytes(), body);
            }
            Err(ProtocolError::Message(error)) => {
                assert!(body.len() > usize::from(limit), "{error:?}");
                assert_eq!(u16::from(error.close_code()), 1009);
                break;
            }
            other => panic!("{other:?}"),
        }
        check_memory();
    }
    drop(conn);
}
